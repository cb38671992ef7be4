// One typed event bus between the gateway's features. A listener that throws
// is logged and contained: it never takes the daemon or another listener down.
import type { Logger } from './log.js';
import type { CommittedItem } from './ingest/types.js';

export interface BusEvents {
  /** A group of ingest items is durable in SQLite. */
  'ingest.committed': readonly CommittedItem[];
  'device.connected': { readonly deviceId: string; readonly source: string };
  'device.disconnected': { readonly deviceId: string; readonly source: string };
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
