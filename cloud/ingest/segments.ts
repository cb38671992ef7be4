// Readings of one batch as "segment" documents: columnar arrays grouped by
// subject (patient or bed), so that 1,000 readings are one document write
// instead of 1,000 (Firestore bills per document written). A segment never
// spans more than one 15-minute window, which bounds raw time-range queries,
// and never holds more than MAX_READINGS_PER_SEGMENT readings, which keeps it
// well inside Firestore's 1 MiB document limit (see docSize.ts and its test).
import type { SyncReading } from '../../shared/sync/wire.js';
import { subjectOf } from '../store/paths.js';
import { shardOfNumber } from './intervals.js';
import { ownValue, setOwn } from '../../shared/record.js';

export const SEGMENT_WINDOW_MS = 15 * 60_000;
export const MAX_READINGS_PER_SEGMENT = 5000;

export interface SubjectColumns {
  bed: string;
  patient: string | null;
  code: string[];
  ts: number[];
  v: number[];
  f: number[];
  dev: string[];
  seq: number[];
  n: number[];
}

export interface SegmentDoc {
  ward: string;
  gateway: string;
  batchId: string;
  chunk: number;
  minTs: number;
  maxTs: number;
  count: number;
  /** Lowest and highest outbox number held, and the record shards they fall in: how a verification finds a range's segments. */
  nLo: number;
  nHi: number;
  nShards: number[];
  subjects: string[];
  s: Record<string, SubjectColumns>;
}

/**
 * `{batchId}_{n}`, n the segment's lowest outbox number: unique, since each
 * number is stored once, and the same for a retry that builds the same
 * segment. (Not a chunk index: a batch re-sent to fill a hole stores only the
 * missing readings, whose segments must not overwrite the batch's others.)
 */
export const segmentId = (batchId: string, firstN: number) => `${batchId}_${firstN}`;

/** Splits readings into segment documents, in a deterministic order (a retry builds identical documents). */
export function buildSegments(
  ward: string,
  gateway: string,
  batchId: string,
  readings: readonly SyncReading[],
): SegmentDoc[] {
  const byWindow = new Map<number, SyncReading[]>();
  for (const r of readings) {
    const window = Math.floor(r.ts / SEGMENT_WINDOW_MS);
    let list = byWindow.get(window);
    if (!list) byWindow.set(window, (list = []));
    list.push(r);
  }
  const docs: SegmentDoc[] = [];
  for (const window of [...byWindow.keys()].sort((a, b) => a - b)) {
    const list = byWindow.get(window)!;
    for (let i = 0; i < list.length; i += MAX_READINGS_PER_SEGMENT) {
      docs.push(segmentOf(ward, gateway, batchId, docs.length, list.slice(i, i + MAX_READINGS_PER_SEGMENT)));
    }
  }
  return docs;
}

function segmentOf(ward: string, gateway: string, batchId: string, chunk: number, readings: SyncReading[]): SegmentDoc {
  const s: Record<string, SubjectColumns> = {};
  let minTs = Infinity;
  let maxTs = -Infinity;
  let nLo = Infinity;
  let nHi = -Infinity;
  const shards = new Set<number>();
  for (const r of readings) {
    nLo = Math.min(nLo, r.n);
    nHi = Math.max(nHi, r.n);
    shards.add(shardOfNumber(r.n));
    const subject = subjectOf(r);
    const cols =
      ownValue(s, subject) ??
      setOwn(s, subject, {
        bed: r.bed,
        patient: r.patient ?? null,
        code: [],
        ts: [],
        v: [],
        f: [],
        dev: [],
        seq: [],
        n: [],
      });
    cols.code.push(r.code);
    cols.ts.push(r.ts);
    cols.v.push(r.value);
    cols.f.push(r.flags);
    cols.dev.push(r.device);
    cols.seq.push(r.seq);
    cols.n.push(r.n);
    minTs = Math.min(minTs, r.ts);
    maxTs = Math.max(maxTs, r.ts);
  }
  const nShards = [...shards].sort((a, b) => a - b);
  return {
    ward,
    gateway,
    batchId,
    chunk,
    minTs,
    maxTs,
    count: readings.length,
    nLo,
    nHi,
    nShards,
    subjects: Object.keys(s).sort(),
    s,
  };
}

/** A reading read back from a segment. */
export interface StoredReading {
  subject: string;
  bed: string;
  patient: string | null;
  code: string;
  ts: number;
  value: number;
  flags: number;
}

export function readingsOf(doc: Pick<SegmentDoc, 's'>): StoredReading[] {
  const out: StoredReading[] = [];
  for (const [subject, c] of Object.entries(doc.s)) {
    for (let i = 0; i < c.ts.length; i++) {
      out.push({ subject, bed: c.bed, patient: c.patient, code: c.code[i], ts: c.ts[i], value: c.v[i], flags: c.f[i] });
    }
  }
  return out;
}
