// What the dashboard shows, assembled from the alarm engine (vitals, NEWS2,
// open alarms), the admissions (display names, never identifiers) and the
// store (devices, buffer, sync, dead letters).
import type { AlarmEngine } from '../alarms/engine.js';
import { alarmView } from '../alarms/outputs.js';
import { bedList, bedView, type BedView } from '../http/bedView.js';
import type { Admissions } from '../patients/admissions.js';
import type { Db } from '../store/database.js';
import { DeviceQuery } from '../store/deviceQuery.js';
import { readStatus, type GatewayStatus } from '../store/statusQuery.js';

/** A device as a tile shows it: one state a nurse can read at a glance, and the battery. */
export interface DeviceTile {
  id: string;
  state: 'connected' | 'silent' | 'sensor-off' | 'offline' | 'unknown';
  battery: number | null;
  sensor: string | null;
  lastSeen: string | null;
}

export type BedTile = BedView & { devices: DeviceTile[] };

export class WardState {
  readonly #engine: AlarmEngine;
  readonly #admissions: Admissions;
  readonly #db: Db;
  readonly #configuredBeds: readonly string[];
  readonly #syncConfigured: boolean;
  readonly #devices: DeviceQuery;

  constructor(deps: {
    engine: AlarmEngine;
    admissions: Admissions;
    db: Db;
    beds: readonly string[];
    syncConfigured: boolean;
  }) {
    this.#engine = deps.engine;
    this.#admissions = deps.admissions;
    this.#db = deps.db;
    this.#configuredBeds = deps.beds;
    this.#syncConfigured = deps.syncConfigured;
    this.#devices = new DeviceQuery(deps.db);
  }

  beds(): string[] {
    return bedList(this.#configuredBeds, this.#admissions);
  }

  bed(bed: string): BedTile {
    const view = bedView(this.#engine, this.#admissions, bed);
    const open = this.#engine.openAlarms().filter((a) => a.kind === 'technical' && a.deviceId !== null);
    const devices = this.#devices.atBed(bed).map((d): DeviceTile => {
      const rules = new Set(open.filter((a) => a.deviceId === d.deviceId).map((a) => a.rule));
      const state: DeviceTile['state'] = rules.has('device-silent')
        ? 'silent'
        : d.sensor !== null && d.sensor !== 'ok'
          ? 'sensor-off'
          : d.online === 0
            ? 'offline'
            : d.lastSeen !== null || d.online === 1
              ? 'connected'
              : 'unknown';
      return {
        id: d.deviceId,
        state,
        battery: d.battery,
        sensor: d.sensor,
        lastSeen: d.lastSeen === null ? null : new Date(d.lastSeen).toISOString(),
      };
    });
    return { ...view, devices };
  }

  ward(): { beds: BedTile[] } {
    return { beds: this.beds().map((b) => this.bed(b)) };
  }

  alarms() {
    return { alarms: this.#engine.openAlarms().map(alarmView) };
  }

  status(): GatewayStatus {
    return readStatus(this.#db, { syncConfigured: this.#syncConfigured });
  }

  /** The bed a device is bound to, if any. */
  bedOf(deviceId: string): string | undefined {
    return this.#devices.bedOf(deviceId);
  }
}
