// Slows password guessing: after a few failures for a key (a name, or a name
// from one address), that key must wait before the next attempt. The scrypt
// cost already makes each guess expensive; this bounds how many a script gets
// per hour, and keeps a flood of guesses from queueing real devices' logins.
export class LoginThrottle {
  readonly #failures = new Map<string, { count: number; until: number; last: number }>();
  readonly #freeFailures: number;
  readonly #lockMs: number;
  readonly #forgetAfterMs: number;
  readonly #now: () => number;

  /**
   * `forgetAfterMs`: failures older than this (since the last one) start the
   * count again. Keys that a success does not reset (a source address, where
   * one valid login must not wipe a stranger's guesses) need it to recover.
   */
  constructor(options: { freeFailures?: number; lockMs?: number; forgetAfterMs?: number; now?: () => number } = {}) {
    this.#freeFailures = options.freeFailures ?? 5;
    this.#lockMs = options.lockMs ?? 30_000;
    this.#forgetAfterMs = options.forgetAfterMs ?? Infinity;
    this.#now = options.now ?? Date.now;
  }

  /** Milliseconds to wait before this name may try again; 0: go ahead. */
  waitMs(name: string): number {
    const entry = this.#failures.get(name);
    return entry ? Math.max(0, entry.until - this.#now()) : 0;
  }

  failed(name: string): void {
    const now = this.#now();
    const entry = this.#failures.get(name) ?? { count: 0, until: 0, last: now };
    if (now - entry.last > this.#forgetAfterMs) entry.count = 0;
    entry.last = now;
    entry.count += 1;
    if (entry.count >= this.#freeFailures)
      entry.until = now + this.#lockMs * 2 ** Math.min(entry.count - this.#freeFailures, 6);
    this.#failures.set(name, entry);
    if (this.#failures.size > 10_000) this.#failures.delete(this.#failures.keys().next().value!);
  }

  succeeded(name: string): void {
    this.#failures.delete(name);
  }
}
