// A full disk, as the ingest writer meets it (SQLITE_FULL): nothing is
// acknowledged that was not committed (the commit fails, the device keeps the
// reading and sends it again), and the engineer is told: one clear log line, a
// gauge, and a medium-priority technical alarm, all cleared by the first commit
// that fits once space returns. Alarms keep working meanwhile: readings are
// evaluated when accepted, before any commit (alarms/engine.ts).
import { Gauge, type Registry } from 'prom-client';
import type { Logger } from '../log.js';
import type { TechnicalAlarms } from '../sync/technicalAlarms.js';

export const DISK_FULL_ALARM = 'storage:disk-full';

export class DiskFullWatch {
  readonly #alarms: TechnicalAlarms;
  readonly #log: Logger;
  readonly #gauge: Gauge;
  readonly #dataDir: string;
  #full = false;

  constructor(deps: { alarms: TechnicalAlarms; log: Logger; registry: Registry; dataDir: string }) {
    this.#alarms = deps.alarms;
    this.#log = deps.log;
    this.#dataDir = deps.dataDir;
    this.#gauge = new Gauge({
      name: 'wardgate_disk_full',
      help: "1 while commits fail because the data directory's disk is full.",
      registers: [deps.registry],
    });
  }

  get full(): boolean {
    return this.#full;
  }

  /** The outcome of each ingest commit: an error with code SQLITE_FULL, another error, or null (committed). */
  observe(err: (Error & { code?: string }) | null): void {
    if (err?.code === 'SQLITE_FULL') {
      if (this.#full) return;
      this.#full = true;
      this.#gauge.set(1);
      this.#log.error(
        { code: 'WG_ERR_STORE', reason: 'disk-full', dataDir: this.#dataDir },
        `the disk of ${this.#dataDir} is full: readings are not stored and not acknowledged (devices keep them); alarms still work`,
      );
      // Medium: it clears by itself when space returns (a high one would latch until acknowledged).
      this.#alarms.set(DISK_FULL_ALARM, {
        rule: 'disk-full',
        priority: 'medium',
        message: `Disk full: readings are not being stored (${this.#dataDir}); local alarms still work`,
      });
    } else if (!err && this.#full) {
      this.#full = false;
      this.#gauge.set(0);
      this.#log.warn({ dataDir: this.#dataDir }, 'the disk has space again: readings are stored and acknowledged');
      this.#alarms.set(DISK_FULL_ALARM, null);
    }
  }
}
