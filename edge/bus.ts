// One typed event bus between the gateway's features. A listener that throws
// is logged and contained: it never takes the daemon or another listener down.
//
// Who listens (each registers at its start and removes its listeners at stop):
// the alarm engine and the alarm service (ingest, devices, a bed's patient,
// acknowledgements, technical conditions, pulled rules), the sync (commits and alarm events make
// it look for work), the dashboard's live feed, and the alarm manager link.
//
// Order, where it matters: the alarm engine's listeners are 'state' listeners,
// run before every other listener of the same event, because the others read
// what it has just evaluated (the retained bed vitals and NEWS2, the live
// feed's bed tiles). Within a stage listeners run in the order they
// registered, which is the order their services start (gateway.ts); no other
// listener depends on that.
//
// A reading reaches the engine twice, on purpose: at 'ingest.accepted' its
// values are evaluated (an alarm never waits for the disk, docs/ALARMS.md),
// and at 'ingest.committed' the engine keeps the device's last-seen time
// (only stored readings mean a device is monitoring) and evaluates what it
// could not before the commit: readings of an undeclared device whose bed only
// the store knows. The engine remembers what it evaluated early, so nothing is
// evaluated twice.
import type { Logger } from './log.js';
import type { CommittedItem, IngestItem } from './ingest/types.js';
import type { SensorState } from '../shared/reading.js';
import type { Alarm, AlarmEvent } from './alarms/types.js';
import type { AlarmConfig } from './alarms/config.js';
import type { TechnicalReport } from './sync/technicalAlarms.js';

export interface BusEvents {
  /**
   * Valid ingest items handed to the store, not yet durable (the alarm engine
   * evaluates them at once). A message may come again (resent after a failed
   * commit, a duplicate): listeners must not take it as new.
   */
  'ingest.accepted': readonly IngestItem[];
  /** A group of ingest items is durable in SQLite. */
  'ingest.committed': readonly CommittedItem[];
  'device.connected': { readonly deviceId: string; readonly source: string };
  'device.disconnected': { readonly deviceId: string; readonly source: string };
  /**
   * A device stopped delivering readings: its port vanished ('disconnected') or
   * stayed open without a valid line for its silence limit ('no-data'). The
   * alarm engine raises the device-silent technical alarm on it. `since` is
   * the time of the last valid reading (or of the loss), epoch ms.
   */
  'device.silent': {
    readonly deviceId: string;
    readonly source: string;
    readonly reason: 'disconnected' | 'no-data';
    readonly since: number;
  };
  /** A silent device delivers valid readings again. */
  'device.resumed': { readonly deviceId: string; readonly source: string };
  /** The device reported a sensor state different from the last one (Masimo EXC). */
  'device.sensor': {
    readonly deviceId: string;
    readonly source: string;
    readonly sensor: SensorState;
    readonly exceptions: readonly string[];
  };
  /** An authorized person acknowledged an alarm (over MQTT; the API calls the engine directly). */
  'alarm.ack': { readonly alarmId: string; readonly by: string; readonly via: 'mqtt' | 'api' };
  /** Alarm lifecycle events of one evaluation, after the store has them (live displays; the sync sends them without waiting for its next tick). */
  'alarm.events': ReadonlyArray<readonly [AlarmEvent, Alarm]>;
  /**
   * A technical condition of another feature (the sync, the storage guard, the
   * disk): a report raises or updates the alarm under `key`, null clears it.
   * Heard by the alarm service, which starts before every feature that reports
   * and stops after them (gateway.ts).
   */
  'alarm.technical': { readonly key: string; readonly report: TechnicalReport | null };
  /** Alarm rules and limits pulled from the cloud, to be in force in the running daemon. */
  'alarm.config': AlarmConfig;
  /**
   * A patient was admitted to, moved into or out of, or discharged from the bed, or their record or NEWS2
   * entries changed: from the API and the ADT feed alike, neither of which calls the alarm engine itself. The
   * engine hears it first (a 'state' listener): NEWS2 scored again, a departed patient's values forgotten.
   */
  'patient.changed': { readonly bed: string };
  /** A nurse marked an event on the device (Nonin '*'). */
  'device.event': { readonly deviceId: string; readonly source: string; readonly ts: number };
}

type Listener<K extends keyof BusEvents> = (event: BusEvents[K]) => void;

/** 'state': the listener keeps state the others read (the alarm engine), and runs first; 'react': every other listener. */
export type ListenerStage = 'state' | 'react';

interface Entry {
  readonly listener: Listener<keyof BusEvents>;
  readonly stage: ListenerStage;
}

export class EventBus {
  readonly #listeners = new Map<keyof BusEvents, Entry[]>();
  readonly #log: Logger;

  constructor(log: Logger) {
    this.#log = log;
  }

  /** Registers a listener; returns the function that removes it. */
  on<K extends keyof BusEvents>(name: K, listener: Listener<K>, stage: ListenerStage = 'react'): () => void {
    const list = this.#listeners.get(name) ?? [];
    const entry: Entry = { listener: listener as Listener<keyof BusEvents>, stage };
    // A 'state' listener goes after the other 'state' ones, ahead of every 'react' one.
    const at = stage === 'state' ? list.filter((e) => e.stage === 'state').length : list.length;
    list.splice(at, 0, entry);
    this.#listeners.set(name, list);
    return () => {
      const index = list.indexOf(entry);
      if (index >= 0) list.splice(index, 1);
    };
  }

  /** Listeners registered, for one event or for all: a stopped daemon leaves none. */
  listenerCount(name?: keyof BusEvents): number {
    if (name) return this.#listeners.get(name)?.length ?? 0;
    let n = 0;
    for (const list of this.#listeners.values()) n += list.length;
    return n;
  }

  emit<K extends keyof BusEvents>(name: K, event: BusEvents[K]): void {
    const list = this.#listeners.get(name);
    if (!list) return;
    for (const { listener } of list) {
      try {
        listener(event);
      } catch (err) {
        this.#log.error({ err, event: name }, 'event listener failed');
      }
    }
  }
}
