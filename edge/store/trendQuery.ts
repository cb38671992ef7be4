// Trends of a bed's vitals over hours for the dashboard's charts, reduced in
// SQL to at most `points` buckets per metric (mean, min, max), so that a day
// of 1 Hz readings crosses the wire as a few kilobytes. The observations
// (bed, ts) index (migration 5) makes the time range a range scan of one
// bed's rows; artifacts and unreliable readings are left out, as the alarm
// rules leave them out.
import type { Db } from './database.js';
import { ReadingFlag } from '../../shared/reading.js';

export interface Trends {
  bed: string;
  from: string;
  to: string;
  bucketMs: number;
  /** metric -> [bucket start (epoch ms), mean, min, max, count][] in time order. */
  series: Record<string, Array<[number, number, number, number, number]>>;
}

const EXCLUDED = ReadingFlag.artifact | ReadingFlag.unreliable;

export function readTrends(db: Db, options: { bed: string; from: number; to: number; points: number }): Trends {
  const { bed, from, to, points } = options;
  // Round buckets to whole seconds so that two charts of one range line up.
  const bucketMs = Math.max(1000, Math.ceil((to - from) / points / 1000) * 1000);
  const rows = db
    .prepare(
      `SELECT code, bucket, avg(value) AS mean, min(value) AS lo, max(value) AS hi, count(*) AS n FROM (
         SELECT r.value ->> 0 AS code, coalesce(r.value ->> 3, o.ts) AS ts, r.value ->> 1 AS value,
                (coalesce(r.value ->> 3, o.ts) - ?) / ? AS bucket
         FROM observations o, json_each(o.readings) r
         WHERE o.bed = ? AND o.ts >= ? AND o.ts <= ? AND (coalesce(r.value ->> 2, 0) & ?) = 0
       )
       WHERE ts >= ? AND ts <= ?
       GROUP BY code, bucket ORDER BY code, bucket`,
    )
    .all(from, bucketMs, bed, from - 60_000, to, EXCLUDED, from, to) as Array<{
    code: string;
    bucket: number;
    mean: number;
    lo: number;
    hi: number;
    n: number;
  }>;
  // Gathered in a Map: a stored code is only ever looked up there, never in an object's prototype.
  const series = new Map<string, Trends['series'][string]>();
  for (const r of rows) {
    const points = series.get(r.code) ?? [];
    points.push([from + r.bucket * bucketMs, round(r.mean), r.lo, r.hi, r.n]);
    series.set(r.code, points);
  }
  return {
    bed,
    from: new Date(from).toISOString(),
    to: new Date(to).toISOString(),
    bucketMs,
    series: Object.fromEntries(series),
  };
}

const round = (v: number) => Math.round(v * 100) / 100;
