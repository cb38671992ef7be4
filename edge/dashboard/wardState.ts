// What the dashboard shows, assembled from the alarm engine (vitals, NEWS2,
// open alarms), the admissions (display names, never identifiers) and the
// store (devices, buffer, sync, dead letters).
import type { Statement } from 'better-sqlite3';
import type { AlarmEngine } from '../alarms/engine.js';
import { alarmView } from '../alarms/outputs.js';
import { bedList, bedView, type BedView } from '../http/bedView.js';
import type { Admissions } from '../patients/admissions.js';
import type { Db } from '../store/database.js';
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

interface DeviceRow { device_id: string; online: number | null; battery: number | null; sensor: string | null; last_seen: number | null }

export class WardState {
  readonly #engine: AlarmEngine;
  readonly #admissions: Admissions;
  readonly #db: Db;
  readonly #configuredBeds: readonly string[];
  readonly #syncConfigured: boolean;
  readonly #devicesAt: Statement;
  readonly #bedOf: Statement;

  constructor(deps: { engine: AlarmEngine; admissions: Admissions; db: Db; beds: readonly string[]; syncConfigured: boolean }) {
    this.#engine = deps.engine;
    this.#admissions = deps.admissions;
    this.#db = deps.db;
    this.#configuredBeds = deps.beds;
    this.#syncConfigured = deps.syncConfigured;
    this.#devicesAt = deps.db.prepare('SELECT device_id, online, battery, sensor, last_seen FROM devices WHERE bed = ? ORDER BY device_id');
    this.#bedOf = deps.db.prepare('SELECT bed FROM devices WHERE device_id = ?').pluck();
  }

  beds(): string[] {
    return bedList(this.#configuredBeds, this.#admissions);
  }

  bed(bed: string): BedTile {
    const view = bedView(this.#engine, this.#admissions, bed);
    const open = this.#engine.openAlarms().filter((a) => a.kind === 'technical' && a.deviceId !== null);
    const devices = (this.#devicesAt.all(bed) as DeviceRow[]).map((d): DeviceTile => {
      const rules = new Set(open.filter((a) => a.deviceId === d.device_id).map((a) => a.rule));
      const state: DeviceTile['state'] = rules.has('device-silent')
        ? 'silent'
        : d.sensor !== null && d.sensor !== 'ok'
          ? 'sensor-off'
          : d.online === 0
            ? 'offline'
            : d.last_seen !== null || d.online === 1
              ? 'connected'
              : 'unknown';
      return { id: d.device_id, state, battery: d.battery, sensor: d.sensor, lastSeen: d.last_seen === null ? null : new Date(d.last_seen).toISOString() };
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
    return (this.#bedOf.get(deviceId) as string | null | undefined) ?? undefined;
  }
}
