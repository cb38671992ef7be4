// A synthetic ward as the edge would sync it: beds of bedside monitors with
// readings every `stepMs`, numbered in outbox order and cut into batches. Used
// by the benchmark and the tests to drive the real functions; the vitals come
// from a caller's function, so each test plants its own known answers.
import { metric } from '../../shared/codes.js';
import { buildBatch } from '../../shared/sync/codec.js';
import type { SyncBatch, SyncReading } from '../../shared/sync/wire.js';

export interface SyntheticWard {
  readonly gateway: string;
  readonly ward: string;
  readonly beds: readonly string[];
  readonly start: number;
  readonly durationMs: number;
  readonly stepMs: number;
  readonly batchSize: number;
  /** The vitals of a bed at a time: code -> canonical value. */
  vitals(bed: string, t: number): Record<string, number>;
  /** Patient pseudonym of a bed, if the edge knows the patient. */
  patient?(bed: string): string | undefined;
  /** First outbox number (default 1). */
  readonly firstN?: number;
}

export function syntheticReadings(w: SyntheticWard): SyncReading[] {
  const out: SyncReading[] = [];
  let n = w.firstN ?? 1;
  let seq = 0;
  for (let t = w.start; t < w.start + w.durationMs; t += w.stepMs, seq++) {
    for (const bed of w.beds) {
      const patient = w.patient?.(bed);
      for (const [code, value] of Object.entries(w.vitals(bed, t))) {
        out.push({
          n: n++,
          device: `mon-${bed}`,
          seq,
          code,
          value: Math.round(value * 10) / 10,
          unit: metric(code).unit,
          ts: t,
          flags: 0,
          bed,
          ...(patient !== undefined && { patient }),
        });
      }
    }
  }
  return out;
}

export function syntheticBatches(w: SyntheticWard, created = w.start + w.durationMs): SyncBatch[] {
  const readings = syntheticReadings(w);
  const batches: SyncBatch[] = [];
  for (let i = 0; i < readings.length; i += w.batchSize) {
    batches.push(
      buildBatch({
        gateway: w.gateway,
        ward: w.ward,
        created,
        readings: readings.slice(i, i + w.batchSize),
        alarms: [],
        statuses: [],
      }),
    );
  }
  return batches;
}
