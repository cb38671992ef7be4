// One typed event bus between the gateway's features. A listener that throws
// is logged and contained: it never takes the daemon or another listener down.
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
  'device.silent': { readonly deviceId: string; readonly source: string; readonly reason: 'disconnected' | 'no-data'; readonly since: number };
  /** A silent device delivers valid readings again. */
  'device.resumed': { readonly deviceId: string; readonly source: string };
  /** The device reported a sensor state different from the last one (Masimo EXC). */
  'device.sensor': { readonly deviceId: string; readonly source: string; readonly sensor: SensorState; readonly exceptions: readonly string[] };
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
  /** A patient was admitted to or discharged from the bed, or the nurse's NEWS2 entries for it changed. */
  'patient.changed': { readonly bed: string };
  /** A nurse marked an event on the device (Nonin '*'). */
  'device.event': { readonly deviceId: string; readonly source: string; readonly ts: number };
}

type Listener<K extends keyof BusEvents> = (event: BusEvents[K]) => void;

export class EventBus {
  readonly #listeners = new Map<keyof BusEvents, Array<Listener<keyof BusEvents>>>();
  readonly #log: Logger;

  constructor(log: Logger) {
    this.#log = log;
  }

  on<K extends keyof BusEvents>(name: K, listener: Listener<K>): () => void {
    const list = this.#listeners.get(name) ?? [];
    list.push(listener as Listener<keyof BusEvents>);
    this.#listeners.set(name, list);
    return () => {
      const at = list.indexOf(listener as Listener<keyof BusEvents>);
      if (at >= 0) list.splice(at, 1);
    };
  }

  emit<K extends keyof BusEvents>(name: K, event: BusEvents[K]): void {
    const list = this.#listeners.get(name);
    if (!list) return;
    for (const listener of list) {
      try {
        listener(event);
      } catch (err) {
        this.#log.error({ err, event: name }, 'event listener failed');
      }
    }
  }
}
