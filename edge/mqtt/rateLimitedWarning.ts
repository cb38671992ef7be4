// A warning that anyone on the network can trigger (a packet before CONNECT, a
// flood of logins) is logged at most once per interval, with how many times it
// happened meanwhile: the operator learns of it, the disk does not fill.
import type { Logger } from '../log.js';

export class RateLimitedWarning {
  readonly #log: Logger;
  readonly #message: string;
  readonly #intervalMs: number;
  readonly #now: () => number;
  #lastAt = -Infinity;
  #suppressed = 0;

  constructor(log: Logger, message: string, intervalMs = 60_000, now: () => number = Date.now) {
    this.#log = log;
    this.#message = message;
    this.#intervalMs = intervalMs;
    this.#now = now;
  }

  warn(fields: Record<string, unknown>): void {
    const now = this.#now();
    if (now - this.#lastAt < this.#intervalMs) {
      this.#suppressed++;
      return;
    }
    this.#log.warn({ ...fields, ...(this.#suppressed > 0 && { suppressedSinceLast: this.#suppressed }) }, this.#message);
    this.#lastAt = now;
    this.#suppressed = 0;
  }
}
