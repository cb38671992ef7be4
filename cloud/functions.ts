// Registers every wardgate function with the Functions Framework by name, the
// names `gcloud functions deploy --entry-point` and `wardgate cloud` use.
import * as functions from '@google-cloud/functions-framework';
import type { CloudEvent, HttpFunction } from '@google-cloud/functions-framework';
import { analyzeReadings } from './analysis/analyzeReadings.js';
import { wardApi } from './api/wardApi.js';
import type { CloudContext } from './context.js';
import { edgeConfig } from './edgeConfig/edgeConfig.js';
import { sendError } from './http.js';
import { ingestBatch } from './ingest/ingestBatch.js';
import { verifyRange } from './ingest/verifyRange.js';

export const functionNames = ['ingestBatch', 'analyzeReadings', 'wardApi', 'edgeConfig', 'verifyRange'] as const;
export type FunctionName = (typeof functionNames)[number];

/** `context` is called on each invocation and should return the same object every time. */
export function registerFunctions(context: () => CloudContext): void {
  functions.http('ingestBatch', answered('ingestBatch', context, ingestBatch));
  functions.cloudEvent('analyzeReadings', (event: CloudEvent<unknown>) => analyzeReadings(context())(event as Parameters<ReturnType<typeof analyzeReadings>>[0]));
  functions.http('wardApi', answered('wardApi', context, wardApi));
  functions.http('edgeConfig', answered('edgeConfig', context, edgeConfig));
  functions.http('verifyRange', answered('verifyRange', context, verifyRange));
}

/**
 * A failure the handler did not expect is answered 500 in JSON and logged: the
 * framework would send the error's message as text, and end the instance on a
 * synchronous throw.
 */
function answered(name: FunctionName, context: () => CloudContext, handler: (ctx: CloudContext) => HttpFunction): HttpFunction {
  return async (req, res) => {
    const ctx = context();
    try {
      await handler(ctx)(req, res);
    } catch (err) {
      ctx.log.error({ function: name, err: (err as Error).message }, 'request failed');
      if (!res.headersSent) sendError(res, 500, 'WG_ERR_INTERNAL', 'the request failed inside the cloud function; it is logged');
    }
  };
}
