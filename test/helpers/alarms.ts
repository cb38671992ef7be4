// A controllable alarm engine for scenario tests: a manual clock, readings fed
// as committed items, and every lifecycle event recorded.
import {
  AlarmEngine,
  type AlarmSink,
  type Clock,
  type PatientDirectory,
  type WatchedDevice,
} from '../../edge/alarms/engine.js';
import type { PatientContext } from '../../edge/alarms/bedNews2.js';
import type { BedEpisodes } from '../../edge/alarms/bedPatients.js';
import { alarmConfigSchema, type AlarmConfig } from '../../edge/alarms/config.js';
import type { Alarm, AlarmEvent } from '../../edge/alarms/types.js';
import { EventBus } from '../../edge/bus.js';
import type { CommittedItem } from '../../edge/ingest/types.js';
import { createLogger } from '../../edge/log.js';
import type { Reading } from '../../shared/reading.js';
import { metric } from '../../shared/codes.js';
import type { MessageHeader } from '../../edge/integration/mshSegment.js';
import { AlarmStore } from '../../edge/store/alarmStore.js';
import { openDatabase, type Db } from '../../edge/store/database.js';
import type { Test } from 'tap';
import { tempDir } from './env.js';

export class ManualClock implements Clock {
  constructor(public t = Date.parse('2026-11-27T09:00:00Z')) {}
  now(): number {
    return this.t;
  }
  every(): () => void {
    return () => {};
  }
}

export interface Harness {
  engine: AlarmEngine;
  clock: ManualClock;
  events: AlarmEvent[];
  patients: Map<string, PatientContext>;
  /** Each bed's admission number (Admissions.get): whose values the bed holds. */
  admissions: Map<string, number>;
  /** The engine's bus, as the API and the ADT feed tell it of a bed's patient ('patient.changed'). */
  bus: EventBus;
  /** Feeds one observation from `deviceId` at the bed its device is bound to. */
  obs(deviceId: string, values: Record<string, number>, flags?: Record<string, number>): void;
  status(deviceId: string, status: { sensor?: 'ok' | 'off' | 'absent' | 'fault'; battery?: number }): void;
  /** Advances the clock in steps of one second, ticking the engine at each. */
  advance(ms: number, each?: () => void): void;
  phases(): string[];
  open(): Alarm[];
}

let seq = 0;

export function alarmHarness(
  config: Record<string, unknown> = {},
  devices: WatchedDevice[] = [
    { id: 'mon-1', bed: '1' },
    { id: 'mon-2', bed: '2' },
  ],
  /** Sinks after the one that records events (a store on disk, as the alarm service wires it). */
  sinks: AlarmSink[] = [],
  /**
   * The ward's admissions (edge/patients/admissions.ts) instead of the harness's maps, alarms restored from
   * a store, the clock (a restart: the same clock for the next engine), and where new episodes are kept.
   */
  options: {
    patients?: PatientDirectory;
    restored?: readonly Alarm[];
    clock?: ManualClock;
    episodes?: BedEpisodes;
  } = {},
): Harness {
  const clock = options.clock ?? new ManualClock();
  const events: AlarmEvent[] = [];
  const patients = new Map<string, PatientContext>();
  const admissions = new Map<string, number>();
  const parsed: AlarmConfig = alarmConfigSchema.parse(config);
  const bus = new EventBus(createLogger('silent'));
  const engine = new AlarmEngine({
    config: parsed,
    devices,
    bus,
    patients: options.patients ?? {
      atBed: (bed) => patients.get(bed),
      get: (bed) => {
        const admission = admissions.get(bed);
        return admission === undefined ? undefined : { admission };
      },
    },
    sinks: [{ name: 'record', onEvent: (event) => events.push(event) }, ...sinks],
    log: createLogger('silent'),
    clock,
    ...(options.restored && { restored: options.restored }),
    ...(options.episodes && { episodes: options.episodes }),
  });
  const bedOf = (id: string) => devices.find((d) => d.id === id)?.bed;
  const h: Harness = {
    engine,
    clock,
    events,
    patients,
    admissions,
    bus,
    obs(deviceId, values, flags = {}) {
      const readings: Reading[] = Object.entries(values).map(([code, value]) => ({
        code,
        value,
        unit: metric(code).unit,
        ts: clock.t,
        flags: flags[code] ?? 0,
      }));
      const bed = bedOf(deviceId);
      const item: CommittedItem = {
        item: {
          kind: 'obs',
          source: 'mqtt',
          receivedTs: clock.t,
          deviceId,
          seq: ++seq,
          ts: clock.t,
          digest: Buffer.alloc(8),
          readings,
        },
        result:
          bed === undefined
            ? { outcome: 'stored', readings: readings.length }
            : { outcome: 'stored', readings: readings.length, bed },
      };
      engine.onCommitted([item]);
    },
    status(deviceId, status) {
      engine.onCommitted([
        {
          item: { kind: 'status', source: 'mqtt', receivedTs: clock.t, deviceId, status: { ts: clock.t, ...status } },
          result: { outcome: 'status' },
        },
      ]);
    },
    advance(ms, each) {
      for (let left = ms; left > 0; left -= 1000) {
        clock.t += Math.min(1000, left);
        each?.();
        engine.tick();
      }
    },
    phases: () => events.map((e) => `${e.phase}:${e.rule}:${e.metric ?? ''}:${e.priority}`),
    open: () => engine.openAlarms(),
  };
  return h;
}

/** The MSH addressing of the tests' reports to the alarm manager: ward 3B's gateway to the hospital's nurse call. */
export const nurseCallHeader: MessageHeader = {
  sendingApplication: 'WARDGATE',
  sendingFacility: '3B',
  receivingApplication: 'NURSECALL',
  receivingFacility: 'HOSP',
  processingId: 'P',
};

/** A database in the test's own directory with an alarm store on it (a failed sync fails the test); both closed at teardown. */
export function alarmStoreOnDisk(t: Test): { db: Db; store: AlarmStore } {
  const db = openDatabase(tempDir(t));
  const store = new AlarmStore(db, { onSyncFailed: (err) => t.fail(`sync failed: ${err.message}`) });
  t.teardown(() => {
    store.close();
    db.close();
  });
  return { db, store };
}
