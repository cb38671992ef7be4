// What the alarm engine knows of each bed: the latest value of every metric
// (flagged ones too, for display), the latest valid one (for rules), and a
// bucketed history for rate-of-change rules. Times are gateway receive times.
import { ReadingFlag } from '../../shared/reading.js';

export interface ValuePoint {
  readonly value: number;
  readonly ts: number;
  readonly deviceId: string;
  readonly flags: number;
}

/** One bucket of history: its start and (up to a cap) the valid values received in it. */
export interface HistoryBucket {
  readonly start: number;
  readonly values: number[];
  /** The median of the first `medianOf` values, kept by the rate rules (rules.ts). */
  median: number;
  medianOf: number;
}

/** Rules speak of "pulse": the heart rate from ECG or the pulse rate from an oximeter, whichever came last. */
export const PULSE_SOURCES = new Set(['hr', 'pr']);

/**
 * History is kept in 10-second buckets of at most 32 values: rate rules look at
 * minutes, and a device sending a hundred values a second must not make every
 * evaluation walk (or memory hold) ten minutes of them.
 */
export const BUCKET_MS = 10_000;
const BUCKET_CAP = 32;

/** The names of each code, built once: every reading is recorded under them. */
const namesOf = new Map<string, readonly string[]>();
const NONE: readonly string[] = [];

export function metricsOf(code: string): readonly string[] {
  let names = namesOf.get(code);
  if (!names) {
    names = Object.freeze(PULSE_SOURCES.has(code) ? [code, 'pulse'] : [code]);
    // Codes come from devices: remember the first few hundred, build the rest each time.
    if (namesOf.size < 512) namesOf.set(code, names);
  }
  return names;
}

export class BedVitals {
  readonly latest = new Map<string, ValuePoint>();
  readonly valid = new Map<string, ValuePoint>();
  readonly #history = new Map<string, HistoryBucket[]>();
  readonly #keepMs: number;
  readonly #remembers: ReadonlySet<string> | undefined;

  /**
   * `keepMs`: how much history rate-of-change rules need; `remembers`: the
   * metrics they watch (read at each reading: the set may grow), every metric
   * when absent. A floor's beds keep minutes of history of the few metrics a
   * rule watches, not of every metric they send.
   */
  constructor(keepMs: number, remembers?: ReadonlySet<string>) {
    this.#keepMs = keepMs;
    this.#remembers = remembers;
  }

  /** Records a reading; returns the metric names it updated when it is valid (no artifact, not unreliable). */
  record(code: string, point: ValuePoint): readonly string[] {
    const names = metricsOf(code);
    for (const name of names) this.latest.set(name, point);
    if (point.flags & (ReadingFlag.artifact | ReadingFlag.unreliable)) return NONE;
    for (const name of names) {
      this.valid.set(name, point);
      if (this.#keepMs > 0 && (!this.#remembers || this.#remembers.has(name))) this.#remember(name, point);
    }
    return names;
  }

  /** Forgets a metric: its latest values and its history. */
  forget(metric: string): void {
    this.latest.delete(metric);
    this.valid.delete(metric);
    this.#history.delete(metric);
  }

  /** History buckets of a metric that overlap the last `windowMs` before `now`, oldest first. */
  history(metric: string, now: number, windowMs: number): readonly HistoryBucket[] {
    return (this.#history.get(metric) ?? []).filter((b) => b.start + BUCKET_MS > now - windowMs);
  }

  /** The latest valid value if it is no older than `maxAgeMs`. */
  fresh(metric: string, now: number, maxAgeMs: number): ValuePoint | undefined {
    const point = this.valid.get(metric);
    return point && now - point.ts <= maxAgeMs ? point : undefined;
  }

  #remember(name: string, point: ValuePoint): void {
    let buckets = this.#history.get(name);
    if (!buckets) {
      buckets = [];
      this.#history.set(name, buckets);
    }
    const start = point.ts - (point.ts % BUCKET_MS);
    const last = buckets[buckets.length - 1];
    if (last && last.start === start) {
      if (last.values.length < BUCKET_CAP) last.values.push(point.value);
    } else {
      buckets.push({ start, values: [point.value], median: Number.NaN, medianOf: 0 });
      while (buckets.length && buckets[0].start + BUCKET_MS <= point.ts - this.#keepMs) buckets.shift();
    }
  }
}
