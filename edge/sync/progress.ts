// Drain progress: readings confirmed per second over the last minute (the
// time left at that rate: store/syncStatusQuery.ts). Shown by `wardgate
// status` and in the logs.
export class DrainRate {
  readonly #windowMs: number;
  readonly #acks: Array<{ ts: number; readings: number }> = [];

  constructor(windowMs = 60_000) {
    this.#windowMs = windowMs;
  }

  record(ts: number, readings: number): void {
    this.#acks.push({ ts, readings });
    this.#trim(ts);
  }

  /** Readings per second; 0 with fewer than two confirmations in the window. */
  rate(now: number): number {
    this.#trim(now);
    if (this.#acks.length < 2) return 0;
    const span = (now - this.#acks[0].ts) / 1000;
    const total = this.#acks.slice(1).reduce((n, a) => n + a.readings, 0);
    return span > 0 ? total / span : 0;
  }

  #trim(now: number): void {
    while (this.#acks.length && this.#acks[0].ts < now - this.#windowMs) this.#acks.shift();
  }
}
