// Registers every wardgate function with the Functions Framework by name, the
// names `gcloud functions deploy --entry-point` and `wardgate cloud` use.
import * as functions from '@google-cloud/functions-framework';
import type { CloudEvent } from '@google-cloud/functions-framework';
import { analyzeReadings } from './analysis/analyzeReadings.js';
import { wardApi } from './api/wardApi.js';
import type { CloudContext } from './context.js';
import { edgeConfig } from './edgeConfig/edgeConfig.js';
import { ingestBatch } from './ingest/ingestBatch.js';

export const functionNames = ['ingestBatch', 'analyzeReadings', 'wardApi', 'edgeConfig'] as const;
export type FunctionName = (typeof functionNames)[number];

/** `context` is called on each invocation and should return the same object every time. */
export function registerFunctions(context: () => CloudContext): void {
  functions.http('ingestBatch', (req, res) => ingestBatch(context())(req, res));
  functions.cloudEvent('analyzeReadings', (event: CloudEvent<unknown>) => analyzeReadings(context())(event as Parameters<ReturnType<typeof analyzeReadings>>[0]));
  functions.http('wardApi', (req, res) => wardApi(context())(req, res));
  functions.http('edgeConfig', (req, res) => edgeConfig(context())(req, res));
}
