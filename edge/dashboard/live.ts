// The dashboard's live feed: server-sent events pushed from the bus. Changes
// are coalesced per bed over a short window and each changed bed is
// serialized once for all open dashboards, so ten screens cost little more
// than one. Alarm events are pushed at once. A stream ends when its session
// does (automatic logoff), with an `expired` event the page acts on.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { EventBus } from '../bus.js';
import type { Logger } from '../log.js';
import type { Session, SessionStore } from './sessions.js';
import type { WardState } from './wardState.js';

interface Client {
  readonly res: ServerResponse;
  readonly session: Session;
}

export interface LiveOptions {
  readonly bus: EventBus;
  readonly state: WardState;
  readonly sessions: SessionStore;
  readonly log: Logger;
  readonly ward: string;
  readonly statusIntervalMs: number;
  /** Coalescing window for routine changes. */
  readonly flushMs?: number;
}

const KEEPALIVE_MS = 15_000;
/** A client this far behind is dropped; it reconnects and gets a fresh snapshot. */
const MAX_BUFFERED = 1024 * 1024;

export class LiveFeed {
  readonly #o: LiveOptions;
  readonly #clients = new Set<Client>();
  readonly #dirtyBeds = new Set<string>();
  #alarmsDirty = false;
  #flushTimer: NodeJS.Timeout | undefined;
  #timers: NodeJS.Timeout[] = [];
  #unsubscribe: Array<() => void> = [];

  constructor(options: LiveOptions) {
    this.#o = options;
  }

  get clients(): number {
    return this.#clients.size;
  }

  start(): void {
    const { bus, state } = this.#o;
    this.#unsubscribe = [
      bus.on('ingest.committed', (items) => {
        for (const { item, result } of items) {
          if (result.outcome !== 'stored') continue;
          const bed =
            item.kind === 'obs' ? result.bed : item.deviceId !== undefined ? state.bedOf(item.deviceId) : undefined;
          if (bed) this.#dirtyBeds.add(bed);
        }
        this.#schedule(this.#o.flushMs ?? 50);
      }),
      bus.on('alarm.events', (events) => {
        for (const [event] of events) if (event.bed !== null) this.#dirtyBeds.add(event.bed);
        this.#alarmsDirty = true;
        this.#schedule(0);
      }),
      // Another screen admitted, discharged or changed the entries: the name on the tile must not wait.
      bus.on('patient.changed', ({ bed }) => {
        this.#dirtyBeds.add(bed);
        this.#schedule(0);
      }),
      bus.on('device.connected', ({ deviceId }) => this.#deviceChanged(deviceId)),
      bus.on('device.disconnected', ({ deviceId }) => this.#deviceChanged(deviceId)),
    ];
    const every = (ms: number, fn: () => void) => {
      const timer = setInterval(fn, ms);
      timer.unref();
      this.#timers.push(timer);
    };
    every(this.#o.statusIntervalMs, () => this.#clients.size && this.#broadcast('status', this.#o.state.status()));
    every(KEEPALIVE_MS, () => this.#writeAll(': keepalive\n\n'));
    every(1000, () => this.#expire());
  }

  stop(): void {
    for (const off of this.#unsubscribe) off();
    for (const timer of this.#timers) clearInterval(timer);
    clearTimeout(this.#flushTimer);
    this.#timers = [];
    for (const client of this.#clients) client.res.end();
    this.#clients.clear();
  }

  /** Opens an event stream: a full snapshot first, then changes. */
  open(req: IncomingMessage, res: ServerResponse, session: Session): void {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-content-type-options': 'nosniff',
    });
    req.socket.setNoDelay(true);
    const client: Client = { res, session };
    this.#clients.add(client);
    res.on('close', () => this.#clients.delete(client));
    const { state } = this.#o;
    res.write('retry: 2000\n\n');
    res.write(
      frame('snapshot', {
        serverTime: Date.now(),
        ward: this.#o.ward,
        ...state.ward(),
        ...state.alarms(),
        status: state.status(),
      }),
    );
  }

  #deviceChanged(deviceId: string): void {
    const bed = this.#o.state.bedOf(deviceId);
    if (bed) this.#dirtyBeds.add(bed);
    this.#schedule(this.#o.flushMs ?? 50);
  }

  #schedule(ms: number): void {
    if (!this.#clients.size) {
      this.#dirtyBeds.clear();
      this.#alarmsDirty = false;
      return;
    }
    if (this.#flushTimer !== undefined) {
      if (ms > 0) return;
      clearTimeout(this.#flushTimer);
    }
    this.#flushTimer = setTimeout(() => this.#flush(), ms);
  }

  #flush(): void {
    this.#flushTimer = undefined;
    const beds = [...this.#dirtyBeds];
    this.#dirtyBeds.clear();
    try {
      // Alarms first: the list a nurse acts on must never trail the tiles.
      if (this.#alarmsDirty) {
        this.#alarmsDirty = false;
        this.#broadcast('alarms', { serverTime: Date.now(), ...this.#o.state.alarms() });
      }
      for (const bed of beds) this.#broadcast('bed', { serverTime: Date.now(), ...this.#o.state.bed(bed) });
    } catch (err) {
      this.#o.log.error({ err }, 'dashboard update failed');
    }
  }

  #broadcast(event: string, data: unknown): void {
    if (this.#clients.size) this.#writeAll(frame(event, data));
  }

  #writeAll(text: string): void {
    for (const client of this.#clients) {
      if (client.res.writableLength > MAX_BUFFERED) {
        this.#clients.delete(client);
        client.res.destroy();
        continue;
      }
      client.res.write(text);
    }
  }

  #expire(): void {
    for (const client of this.#clients) {
      if (this.#o.sessions.isLive(client.session)) continue;
      this.#clients.delete(client);
      client.res.end(frame('expired', { reason: 'session ended' }));
    }
  }
}

function frame(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}
