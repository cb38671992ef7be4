// What makes the sync look for work between its ticks: new rows committed by
// the ingest, and alarm events, which go to the cloud ahead of routine
// readings. Heard on the bus while the sync runs; removed when it stops.
import type { EventBus } from '../bus.js';
import type { Service } from '../service.js';
import type { SyncService } from './syncService.js';

export class SyncTriggers implements Service {
  readonly name = 'sync-triggers';
  readonly #bus: EventBus;
  readonly #sync: SyncService;
  #off: Array<() => void> = [];

  constructor(bus: EventBus, sync: SyncService) {
    this.#bus = bus;
    this.#sync = sync;
  }

  async start(): Promise<void> {
    this.#off = [
      this.#bus.on('ingest.committed', () => this.#sync.dataCommitted()),
      this.#bus.on('alarm.events', () => this.#sync.kick()),
    ];
  }

  async stop(): Promise<void> {
    for (const off of this.#off) off();
    this.#off = [];
  }
}
