// The alarm condition delay (IEC 60601-1-8): a breach becomes an alarm
// condition only when it has persisted for the rule's delay. A brief crossing
// shorter than the delay raises nothing; that is a feature, not a lag.

export class ConditionTimer {
  /** When the current run of breaches began, or null when there is none. */
  #since: number | null = null;
  #on = false;

  get on(): boolean {
    return this.#on;
  }

  /** A breach observed at `now`; true when the condition exists (the delay has elapsed). */
  breach(now: number, delayMs: number): boolean {
    this.#since ??= now;
    if (!this.#on && now - this.#since >= delayMs) this.#on = true;
    return this.#on;
  }

  /** Re-checks a pending breach when time passes without a new value. */
  elapse(now: number, delayMs: number): boolean {
    if (this.#since !== null && !this.#on && now - this.#since >= delayMs) this.#on = true;
    return this.#on;
  }

  /** The value is back inside (past any hysteresis): the condition is over. */
  clear(): void {
    this.#since = null;
    this.#on = false;
  }

  get pending(): boolean {
    return this.#since !== null && !this.#on;
  }
}
