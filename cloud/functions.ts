// Registers every wardgate function with the Functions Framework by name, the
// names `gcloud functions deploy --entry-point` and `wardgate cloud` use.
import * as functions from '@google-cloud/functions-framework';
import type { CloudEvent, HttpFunction } from '@google-cloud/functions-framework';
import { analyzeReadings } from './analysis/analyzeReadings.js';
import { wardApi } from './api/wardApi.js';
import type { CloudContext } from './context.js';
import { edgeConfig } from './edgeConfig/edgeConfig.js';
import { sendError } from './http.js';
import { createCloudLogger, type Logger } from './log.js';
import { ingestBatch } from './ingest/ingestBatch.js';
import { verifyRange } from './ingest/verifyRange.js';

export const functionNames = ['ingestBatch', 'analyzeReadings', 'wardApi', 'edgeConfig', 'verifyRange'] as const;
export type FunctionName = (typeof functionNames)[number];

/**
 * `context` is called on each invocation and should return the same object every time.
 * `log` logs a request whose context could not be built (a bad secret file at a cold start).
 */
export function registerFunctions(context: () => CloudContext, log?: Logger): void {
  let fallback = log;
  const contextLog = () => (fallback ??= createCloudLogger());
  const answered = (name: FunctionName, handler: (ctx: CloudContext) => HttpFunction) =>
    answer(name, context, contextLog, handler);
  functions.http('ingestBatch', answered('ingestBatch', ingestBatch));
  functions.cloudEvent('analyzeReadings', (event: CloudEvent<unknown>) => analyzeEvent(event, context, contextLog));
  functions.http('wardApi', answered('wardApi', wardApi));
  functions.http('edgeConfig', answered('edgeConfig', edgeConfig));
  functions.http('verifyRange', answered('verifyRange', verifyRange));
}

/**
 * The analysis of one Pub/Sub delivery. A malformed message is acknowledged
 * (analyzeReadings.ts): redelivered, it would fail the same way. A context
 * that cannot be built, or a failure of the store, is retried by Pub/Sub, and
 * the framework answers it with the error's message: so that message is the
 * registered code and a sentence, never the path or the reason, which stay in the log.
 */
async function analyzeEvent(
  event: CloudEvent<unknown>,
  context: () => CloudContext,
  contextLog: () => Logger,
): Promise<void> {
  let ctx: CloudContext;
  try {
    ctx = context();
  } catch (err) {
    contextLog().error(
      { function: 'analyzeReadings', err: (err as Error).message },
      'the function context could not be built',
    );
    throw new Error("WG_ERR_CONFIG: the cloud function's configuration could not be read; it is logged", {
      cause: err,
    });
  }
  try {
    await analyzeReadings(ctx)(event as Parameters<ReturnType<typeof analyzeReadings>>[0]);
  } catch (err) {
    ctx.log.error(
      { function: 'analyzeReadings', eventId: event.id, err: (err as Error).message },
      'analysis failed; Pub/Sub delivers the message again',
    );
    throw new Error('WG_ERR_INTERNAL: the analysis failed inside the cloud function; it is logged', { cause: err });
  }
}

/**
 * A failure the handler did not expect is answered 500 in JSON and logged: the
 * framework would send the error's message as text, and end the instance on a
 * synchronous throw. So is a context that cannot be built (a secret file that
 * is not JSON or that others may read): 500 WG_ERR_CONFIG, which the edge
 * retries until the file is fixed; the path and the reason stay in the log.
 */
function answer(
  name: FunctionName,
  context: () => CloudContext,
  contextLog: () => Logger,
  handler: (ctx: CloudContext) => HttpFunction,
): HttpFunction {
  return async (req, res) => {
    let ctx: CloudContext | undefined;
    try {
      ctx = context();
    } catch (err) {
      contextLog().error({ function: name, err: (err as Error).message }, 'the function context could not be built');
      return sendError(res, 'WG_ERR_CONFIG', "the cloud function's configuration could not be read; it is logged");
    }
    try {
      await handler(ctx)(req, res);
    } catch (err) {
      ctx.log.error({ function: name, err: (err as Error).message }, 'request failed');
      if (!res.headersSent)
        sendError(res, 'WG_ERR_INTERNAL', 'the request failed inside the cloud function; it is logged');
    }
  };
}
