// What the alarm engine knows of each bed: the latest value of every metric
// (flagged ones too, for display), the latest valid one (for rules), and a
// short history for rate-of-change rules. Times are gateway receive times.
import { ReadingFlag } from '../../shared/reading.js';

export interface ValuePoint {
  readonly value: number;
  readonly ts: number;
  readonly deviceId: string;
  readonly flags: number;
}

/** Rules speak of "pulse": the heart rate from ECG or the pulse rate from an oximeter, whichever came last. */
export const PULSE_SOURCES = new Set(['hr', 'pr']);

export function metricsOf(code: string): string[] {
  return PULSE_SOURCES.has(code) ? [code, 'pulse'] : [code];
}

export class BedVitals {
  readonly latest = new Map<string, ValuePoint>();
  readonly valid = new Map<string, ValuePoint>();
  readonly #history = new Map<string, ValuePoint[]>();
  readonly #keepMs: number;

  /** `keepMs`: how much history rate-of-change rules need. */
  constructor(keepMs: number) {
    this.#keepMs = keepMs;
  }

  /** Records a reading; returns the metric names it updated when it is valid (no artifact, not unreliable). */
  record(code: string, point: ValuePoint): string[] {
    const names = metricsOf(code);
    for (const name of names) this.latest.set(name, point);
    if (point.flags & (ReadingFlag.artifact | ReadingFlag.unreliable)) return [];
    for (const name of names) {
      this.valid.set(name, point);
      if (this.#keepMs > 0) {
        const list = this.#history.get(name) ?? [];
        list.push(point);
        while (list.length && list[0].ts < point.ts - this.#keepMs) list.shift();
        this.#history.set(name, list);
      }
    }
    return names;
  }

  /** Valid values of a metric within the last `windowMs` before `now`. */
  history(metric: string, now: number, windowMs: number): readonly ValuePoint[] {
    return (this.#history.get(metric) ?? []).filter((p) => p.ts >= now - windowMs);
  }

  /** The latest valid value if it is no older than `maxAgeMs`. */
  fresh(metric: string, now: number, maxAgeMs: number): ValuePoint | undefined {
    const point = this.valid.get(metric);
    return point && now - point.ts <= maxAgeMs ? point : undefined;
  }
}
