// Alarm events to a paging or nurse-call system: an HTTP POST per event, signed
// like the sync (`X-Wardgate-Signature: v1=HMAC-SHA256(secret, timestamp + "." +
// body)`), retried with exponential backoff and jitter, in order, one at a time.
import type { Logger } from '../log.js';
import { directOutbound, type Outbound } from '../net/outbound.js';
import { formatSyncTimestamp, signBody } from '../../shared/sync/signature.js';
import type { AlarmSink } from './engine.js';
import { eventView } from './outputs.js';
import { priorityRank, type AlarmEvent, type AlarmPriority } from './types.js';

export interface WebhookOptions {
  readonly url: string;
  readonly secret: string;
  readonly minPriority: AlarmPriority;
  readonly timeoutMs: number;
  readonly maxAttempts: number;
  readonly ward: string;
  readonly gateway: string;
  readonly log: Logger;
  /** Base of the exponential backoff (tests shorten it). */
  readonly backoffMs?: number;
  /** How requests go out: the web proxy like any other request, unless the host is in noProxy or on this box. */
  readonly outbound?: Outbound;
}

/** Pending deliveries beyond this are dropped oldest first (and counted): a dead pager must not exhaust memory. */
const MAX_QUEUE = 10_000;

export class AlarmWebhook implements AlarmSink {
  readonly name = 'webhook';
  readonly #options: WebhookOptions;
  readonly #queue: AlarmEvent[] = [];
  #running = false;
  #stopped = false;
  delivered = 0;
  dropped = 0;

  constructor(options: WebhookOptions) {
    this.#options = options;
  }

  onEvent(event: AlarmEvent): void {
    if (this.#stopped || priorityRank[event.priority] < priorityRank[this.#options.minPriority]) return;
    this.#queue.push(event);
    if (this.#queue.length > MAX_QUEUE) {
      this.#queue.shift();
      this.dropped++;
    }
    if (!this.#running) void this.#drain();
  }

  stop(): void {
    this.#stopped = true;
  }

  get pending(): number {
    return this.#queue.length;
  }

  async #drain(): Promise<void> {
    this.#running = true;
    try {
      while (this.#queue.length && !this.#stopped) {
        const event = this.#queue[0];
        if (await this.#deliver(event)) this.delivered++;
        this.#queue.shift();
      }
    } finally {
      this.#running = false;
    }
  }

  async #deliver(event: AlarmEvent): Promise<boolean> {
    const { url, secret, timeoutMs, maxAttempts, log, backoffMs = 500 } = this.#options;
    const body = Buffer.from(
      JSON.stringify({ ward: this.#options.ward, gateway: this.#options.gateway, event: eventView(event) }),
    );
    for (let attempt = 1; attempt <= maxAttempts && !this.#stopped; attempt++) {
      const timestamp = formatSyncTimestamp(Date.now());
      try {
        const res = await (this.#options.outbound ?? directOutbound).fetch(url, {
          method: 'POST',
          body,
          headers: {
            'content-type': 'application/json',
            'x-wardgate-timestamp': timestamp,
            'x-wardgate-signature': signBody(secret, timestamp, body),
            'x-wardgate-event': `${event.alarmId}:${event.phase}:${event.ts}`,
          },
          signal: AbortSignal.timeout(timeoutMs),
        });
        if (res.ok) return true;
        // A 4xx other than 408/429 will not get better by retrying.
        if (res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429) {
          log.error({ status: res.status, alarmId: event.alarmId }, 'alarm webhook refused the event');
          return false;
        }
      } catch (err) {
        log.warn({ err: (err as Error).message, attempt, alarmId: event.alarmId }, 'alarm webhook unreachable');
      }
      const delay = Math.min(60_000, backoffMs * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2);
      await new Promise((r) => setTimeout(r, delay).unref());
    }
    log.error({ alarmId: event.alarmId, phase: event.phase }, 'alarm webhook gave up on the event');
    return false;
  }
}
