// Devices as the dashboard reads them: what each device of a bed last said
// (online, battery, sensor, last reading) and which bed a device is bound to.
// Statements prepared once: the live feed asks at every change.
import type { Statement } from 'better-sqlite3';
import type { Db } from './database.js';

export interface DeviceRecord {
  readonly deviceId: string;
  /** 1 online, 0 offline, null: the device never said. */
  readonly online: number | null;
  readonly battery: number | null;
  readonly sensor: string | null;
  /** Epoch ms of its last valid message, or null. */
  readonly lastSeen: number | null;
}

export class DeviceQuery {
  readonly #atBed: Statement<[string], DeviceRecord>;
  readonly #bedOf: Statement<[string], string | null>;

  constructor(db: Db) {
    this.#atBed = db.prepare(
      'SELECT device_id AS deviceId, online, battery, sensor, last_seen AS lastSeen FROM devices WHERE bed = ? ORDER BY device_id',
    );
    this.#bedOf = db.prepare<[string], string | null>('SELECT bed FROM devices WHERE device_id = ?').pluck();
  }

  /** The devices bound to the bed, by id. */
  atBed(bed: string): DeviceRecord[] {
    return this.#atBed.all(bed);
  }

  /** The bed a device is bound to, if any. */
  bedOf(deviceId: string): string | undefined {
    return this.#bedOf.get(deviceId) ?? undefined;
  }
}
