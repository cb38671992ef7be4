// The read API's queries: each reads the fewest documents that answer it.
// Overview and alerts come from analysis outputs; vitals at 5-minute steps or
// coarser come from the hourly documents (one per hour), finer steps from the
// raw segments, for at most one hour at a time.
import { FieldPath, type Firestore } from '@google-cloud/firestore';
import { WardgateError } from '../../shared/errors.js';
import { ownValue } from '../../shared/record.js';
import { fromStored, summarize, type HourDoc, type HourSummary } from '../analysis/hourStats.js';
import type { SubjectState } from '../analysis/patientAnalysis.js';
import { readingsOf, SEGMENT_WINDOW_MS, type SegmentDoc } from '../ingest/segments.js';
import { ReadingFlag } from '../../shared/reading.js';
import {
  alerts,
  currentState,
  hourDocId,
  HOUR_MS,
  hours,
  SLOT_MS,
  SLOTS_PER_HOUR,
  segments,
  shardOf,
} from '../store/paths.js';

export const MAX_HOURS_PER_QUERY = 7 * 24;
export const MAX_RAW_RANGE_MS = HOUR_MS;

export async function wardState(db: Firestore, ward: string): Promise<Record<string, SubjectState>> {
  const snap = await currentState(db, ward).get();
  return (snap.data()?.p as Record<string, SubjectState> | undefined) ?? {};
}

export interface VitalPoint {
  t: number;
  code: string;
  n: number;
  mean: number;
  min: number;
  max: number;
}

async function hourDocs(
  db: Firestore,
  ward: string,
  subject: string,
  from: number,
  to: number,
  shards: number,
): Promise<HourDoc[]> {
  const count = Math.floor(to / HOUR_MS) - Math.floor(from / HOUR_MS) + 1;
  if (count > MAX_HOURS_PER_QUERY)
    throw new WardgateError('WG_ERR_SCHEMA', `range spans ${count} hours; at most ${MAX_HOURS_PER_QUERY}`, 'to');
  const shard = shardOf(subject, shards);
  const refs = Array.from({ length: count }, (_, i) =>
    hours(db, ward).doc(hourDocId(Math.floor(from / HOUR_MS) * HOUR_MS + i * HOUR_MS, shard)),
  );
  const snaps = await db.getAll(...refs);
  return snaps.flatMap((s) => (s.exists ? [fromStored(s.data() as HourDoc)] : []));
}

/** Downsampled vitals in buckets of `bucketMs`, from hourly 5-minute slots or, below 5 minutes, raw readings. */
export async function vitals(
  db: Firestore,
  ward: string,
  subject: string,
  codes: readonly string[] | undefined,
  from: number,
  to: number,
  bucketMs: number,
  shards: number,
): Promise<VitalPoint[]> {
  const buckets = new Map<string, VitalPoint>();
  const add = (code: string, t: number, n: number, sum: number, min: number, max: number) => {
    if (t < from || t > to || (codes && !codes.includes(code))) return;
    const start = Math.floor(t / bucketMs) * bucketMs;
    const key = `${start}|${code}`;
    const b = buckets.get(key) ?? { t: start, code, n: 0, mean: 0, min: Infinity, max: -Infinity };
    b.mean = (b.mean * b.n + sum) / (b.n + n);
    b.n += n;
    b.min = Math.min(b.min, min);
    b.max = Math.max(b.max, max);
    buckets.set(key, b);
  };
  if (bucketMs >= SLOT_MS) {
    for (const doc of await hourDocs(db, ward, subject, from, to, shards)) {
      for (const [code, m] of Object.entries(ownValue(doc.p, subject)?.m ?? {})) {
        for (let i = 0; i < SLOTS_PER_HOUR; i++)
          if (m.q[i] > 0) add(code, doc.hour + i * SLOT_MS, m.q[i], m.qs[i], m.qmn[i]!, m.qmx[i]!);
      }
    }
  } else {
    if (to - from > MAX_RAW_RANGE_MS)
      throw new WardgateError('WG_ERR_SCHEMA', 'below 300 s buckets the range may span at most one hour', 'bucket');
    // A segment spans at most one 15-minute window, so any segment overlapping [from, to] ends in [from, to + 15 min].
    const snap = await segments(db, ward)
      .where('subjects', 'array-contains', subject)
      .where('maxTs', '>=', from)
      .where('maxTs', '<=', to + SEGMENT_WINDOW_MS)
      .get();
    for (const doc of snap.docs) {
      for (const r of readingsOf(doc.data() as SegmentDoc)) {
        if (r.subject === subject && !(r.flags & (ReadingFlag.artifact | ReadingFlag.unreliable)))
          add(r.code, r.ts, 1, r.value, r.value, r.value);
      }
    }
  }
  const round = (v: number) => Math.round(v * 100) / 100;
  return [...buckets.values()]
    .map((b) => ({ ...b, mean: round(b.mean) }))
    .sort((a, b) => a.t - b.t || a.code.localeCompare(b.code));
}

export interface HourlySummary {
  hour: number;
  metrics: Record<string, HourSummary>;
}

export async function summaries(
  db: Firestore,
  ward: string,
  subject: string,
  from: number,
  to: number,
  shards: number,
): Promise<HourlySummary[]> {
  const docs = await hourDocs(db, ward, subject, from, to, shards);
  return docs
    .flatMap((d) => {
      const metrics = ownValue(d.p, subject)?.m;
      return metrics
        ? [
            {
              hour: d.hour,
              metrics: Object.fromEntries(Object.entries(metrics).map(([code, m]) => [code, summarize(m, code)])),
            },
          ]
        : [];
    })
    .sort((a, b) => a.hour - b.hour);
}

export async function alertsSince(
  db: Firestore,
  ward: string,
  since: number,
  limit: number,
  after: { ts: number; id: string } | undefined,
  subject: string | undefined,
): Promise<Array<Record<string, unknown>>> {
  let query = alerts(db, ward).where('ts', '>=', since);
  if (subject !== undefined) query = query.where('subject', '==', subject);
  query = query.orderBy('ts').orderBy(FieldPath.documentId());
  if (after) query = query.startAfter(after.ts, after.id);
  const snap = await query.limit(limit).get();
  return snap.docs.map((d) => {
    const { expireAt: _expire, ...rest } = d.data();
    return rest;
  });
}
