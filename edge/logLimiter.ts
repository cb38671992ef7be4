// A log line per cause, at most once a minute: anything a peer can trigger in a
// loop (an HL7 sender refused, a packet before MQTT login, a flood of logins)
// must not fill the disk with the same warning, and the operator still learns
// how often it happened (`suppressed`).
import type { Logger } from './log.js';

/** Kept causes: beyond this the table starts afresh (an attacker may vary the cause). */
const MAX_KEYS = 1024;

export class LogLimiter {
  readonly #log: Logger;
  readonly #intervalMs: number;
  readonly #now: () => number;
  readonly #last = new Map<string, { at: number; suppressed: number }>();

  constructor(log: Logger, intervalMs = 60_000, now: () => number = Date.now) {
    this.#log = log;
    this.#intervalMs = intervalMs;
    this.#now = now;
  }

  warn(key: string, fields: Record<string, unknown>, message: string): void {
    this.#emit('warn', key, fields, message);
  }

  error(key: string, fields: Record<string, unknown>, message: string): void {
    this.#emit('error', key, fields, message);
  }

  #emit(level: 'warn' | 'error', key: string, fields: Record<string, unknown>, message: string): void {
    const now = this.#now();
    const last = this.#last.get(key);
    if (last && now - last.at < this.#intervalMs) {
      last.suppressed++;
      return;
    }
    if (!last && this.#last.size >= MAX_KEYS) this.#last.clear();
    this.#last.set(key, { at: now, suppressed: 0 });
    this.#log[level]({ ...fields, ...(last?.suppressed && { suppressed: last.suppressed }) }, message);
  }
}
