// Drives one outbound HL7 link (the EHR, an alarm manager): takes messages
// from its durable queue (edge/store/outboundStore.ts) and sends them over
// MLLP (mllpClient.ts) until the receiver accepts each.
//
// API, for the features that send (EHR vitals, alarm reports):
//   const link = new OutboundLink({ name, db, connection, retry, alarms, log, registry, onAccepted });
//   link.start() / link.stop()       Service lifecycle (start after the store and the alarm engine).
//   link.enqueue({ orderKey, controlId, message }) -> id
//                                    Durable once it returns; sent as soon as its turn comes.
//   link.status()                    For `wardgate status` and /metrics.
//   onAccepted(message, ack)         Called when the receiver answered AA/CA.
//   onQuarantined(message, ack)      Called when it answered AR/CR.
//
// Order and concurrency: one message in flight per link (original-mode MLLP
// on one connection answers one message at a time). Within an ordering key
// (a patient) messages go strictly in enqueue order: only the oldest queued
// message of a key may be sent (head-of-line). Across keys the oldest due
// head goes first, so a message the receiver keeps answering AE for delays
// its own patient only.
//
// Outcomes of one attempt:
//   AA / CA   accepted: sent, done.
//   AE / CE   the receiver had a problem with it: tried again after a backoff
//             of its own (exponential, 1 s to 5 min by default), forever.
//   AR / CR   refused: quarantined (out of the queue, the messages behind it
//             go on), a technical alarm on the ward and a metric; an operator
//             puts it back once the cause is fixed.
//   no ACK in time, network error, an answer for another message:
//             the link backs off as a whole (same schedule) and the message is
//             sent again, with the same control id (MSH-10), so a receiver
//             that got it the first time can recognise the repeat.
// Delivery is therefore at least once, each copy with the same control id.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Logger } from '../log.js';
import type { Service } from '../service.js';
import type { Db } from '../store/database.js';
import { OutboundStore, type OutboundMessage, type OutboundSummary } from '../store/outboundStore.js';
import { backoffDelay } from '../sync/backoff.js';
import type { TechnicalAlarms } from '../sync/technicalAlarms.js';
import { MllpClient, MllpSendError, type Ack, type MllpClientOptions } from './mllpClient.js';

export interface RetryPolicy {
  /** First delay after a failure; doubles with each further failure up to maxMs (with jitter). */
  readonly minMs: number;
  readonly maxMs: number;
}

export interface OutboundLinkOptions {
  /** The link's name in the queue, the alarms, the metrics and `wardgate status` ('ehr', 'alarm-manager'). */
  readonly name: string;
  /** What people call the receiver in alarm texts ('the EHR'). */
  readonly receiver: string;
  /** The gateway's database, open before the link is built (the queue is in it). */
  readonly db: Db;
  readonly connection: Omit<MllpClientOptions, 'onConnected'>;
  readonly retry: RetryPolicy;
  readonly alarms: TechnicalAlarms;
  readonly log: Logger;
  readonly registry?: Registry;
  /** A technical alarm when no message got through for this long while some wait (0: never). */
  readonly unreachableAlarmMs?: number;
  /**
   * How long delivered messages are kept (they hold patient identifiers; the receiver has them):
   * 7 days by default, enough to answer "was it sent, and when".
   */
  readonly keepSentMs?: number;
  readonly onAccepted?: (message: OutboundMessage, ack: Ack) => void;
  readonly onQuarantined?: (message: OutboundMessage, ack: Ack) => void;
  readonly now?: () => number;
  readonly random?: () => number;
}

export interface OutboundLinkStatus extends OutboundSummary {
  readonly inFlight: boolean;
}

const DEFAULT_KEEP_SENT_MS = 7 * 86_400_000;

/** The technical alarm keys of a link (the engine holds one open alarm per key). */
export const quarantineAlarmKey = (link: string) => `outbound:${link}:quarantine`;
export const unreachableAlarmKey = (link: string) => `outbound:${link}:unreachable`;

export class OutboundLink implements Service {
  readonly name: string;
  readonly #options: OutboundLinkOptions;
  readonly #now: () => number;
  #store: OutboundStore | undefined;
  #client: MllpClient | undefined;
  #loop: Promise<void> | undefined;
  #stopped = true;
  #wake: (() => void) | undefined;
  #timer: NodeJS.Timeout | undefined;
  #inFlight = false;
  /** Consecutive attempts that got no ACK at all; the link waits until #retryAt. */
  #linkFailures = 0;
  #retryAt = 0;
  /** When the current run of failures began (null: the last attempt got an ACK). */
  #failingSince: number | null = null;
  #metrics: LinkMetrics | undefined;
  #purgedAt = 0;

  constructor(options: OutboundLinkOptions) {
    this.name = `outbound:${options.name}`;
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  async start(): Promise<void> {
    const { name, connection, registry } = this.#options;
    const store = new OutboundStore(this.#options.db);
    this.#store = store;
    // A crash left the last state behind: nothing is connected yet.
    store.setConnected(name, false, this.#now());
    this.#client = new MllpClient({ ...connection, onConnected: (connected) => this.#connected(connected) });
    if (registry) this.#metrics = linkMetrics(registry, this);
    this.#refreshQuarantineAlarm();
    this.#stopped = false;
    this.#loop = this.#run();
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    // An exchange in progress ends now: its message stays queued and goes again, same control id, after the restart.
    this.#client?.close();
    this.#wakeUp();
    await this.#loop;
    this.#metrics?.links.delete(this);
    this.#store = undefined;
  }

  /** Queues a message durably and wakes the sender. */
  enqueue(message: { orderKey: string; controlId: string; message: string }): number {
    const id = this.#requireStore().enqueue({ link: this.#options.name, ...message }, this.#now());
    this.#wakeUp();
    return id;
  }

  /** Puts refused messages back in the queue (the cause was fixed); clears the alarm once none is left. */
  retryQuarantined(): number {
    const n = this.#requireStore().requeueQuarantined(this.#options.name, this.#now());
    this.#refreshQuarantineAlarm();
    this.#wakeUp();
    return n;
  }

  status(): OutboundLinkStatus {
    return {
      ...this.#requireStore().summary(this.#options.name),
      connected: this.#client?.connected ?? false,
      inFlight: this.#inFlight,
    };
  }

  /** Wakes the loop now: a message was enqueued (through the store directly, or here). */
  kick(): void {
    this.#wakeUp();
  }

  #requireStore(): OutboundStore {
    if (!this.#store) throw new Error(`outbound link ${this.#options.name} is not started`);
    return this.#store;
  }

  async #run(): Promise<void> {
    while (!this.#stopped) {
      try {
        const wait = await this.#step();
        if (wait !== 0) await this.#sleep(wait);
      } catch (err) {
        // The database refused a write (a full disk, a lock): the message stays queued as it was.
        this.#options.log.error({ err, link: this.#options.name }, 'outbound link: queue update failed; retrying');
        await this.#sleep(this.#options.retry.minMs);
      }
    }
  }

  /** Sends the next due message; returns how long to wait before the next step (0: go on, null: until woken). */
  async #step(): Promise<number | null> {
    const store = this.#requireStore();
    const now = this.#now();
    this.#checkUnreachable(now);
    this.#purge(store, now);
    const heads = store.heads(this.#options.name);
    if (heads.length === 0) return null;
    if (now < this.#retryAt) return this.#retryAt - now;
    const due = heads.find((h) => h.nextAttemptAt <= now);
    if (!due) return Math.min(...heads.map((h) => h.nextAttemptAt)) - now;
    this.#inFlight = true;
    const started = this.#now();
    let ack: Ack;
    try {
      ack = await this.#client!.send(due.message, due.controlId);
    } catch (err) {
      this.#inFlight = false;
      this.#noAck(due, err);
      return 0;
    }
    this.#inFlight = false;
    this.#metrics?.ackSeconds.observe({ link: this.#options.name }, (this.#now() - started) / 1000);
    this.#linkFailures = 0;
    this.#retryAt = 0;
    this.#answered(due, ack);
    return 0;
  }

  #answered(message: OutboundMessage, ack: Ack): void {
    const { name, log } = this.#options;
    const store = this.#requireStore();
    const now = this.#now();
    const outcome =
      ack.code === 'AA' || ack.code === 'CA'
        ? 'accepted'
        : ack.code === 'AE' || ack.code === 'CE'
          ? 'error'
          : 'rejected';
    this.#metrics?.attempts.inc({ link: name, outcome });
    if (outcome === 'accepted') {
      store.markSent(message.id, now);
      this.#failingSince = null;
      this.#options.alarms.set(unreachableAlarmKey(name), null);
      log.debug(
        { link: name, controlId: message.controlId, attempts: message.attempts + 1 },
        'outbound message accepted',
      );
      this.#notify(this.#options.onAccepted, message, ack);
    } else if (outcome === 'error') {
      const next = now + this.#delay(message.attempts + 1);
      store.markFailed(message.id, `${ack.code}: ${ack.text}`, next, now);
      store.setLinkError(name, `${ack.code} for ${message.controlId}: ${ack.text}`, now);
      this.#failingSince ??= now;
      // The receiver's text may name the patient: it stays in the database (wardgate status), out of the logs.
      log.warn(
        {
          link: name,
          controlId: message.controlId,
          ack: ack.code,
          attempts: message.attempts + 1,
          retryInMs: next - now,
        },
        'outbound message answered with an error; it will be sent again',
      );
    } else {
      store.quarantine(message.id, `${ack.code}: ${ack.text}`, now);
      store.setLinkError(name, `${ack.code} for ${message.controlId}: ${ack.text}`, now);
      log.error(
        { code: 'WG_ERR_HL7_REFUSED', link: name, controlId: message.controlId, ack: ack.code },
        'outbound message refused by the receiver; quarantined (its reason: wardgate status)',
      );
      this.#refreshQuarantineAlarm();
      this.#notify(this.#options.onQuarantined, message, ack);
    }
  }

  #noAck(message: OutboundMessage, err: unknown): void {
    const { name, log } = this.#options;
    const now = this.#now();
    const reason = err instanceof Error ? err.message : String(err);
    const kind = err instanceof MllpSendError ? err.kind : 'network';
    if (this.#stopped) return; // closed by stop(): not a failure of the receiver
    this.#linkFailures++;
    this.#retryAt = now + this.#delay(this.#linkFailures);
    this.#failingSince ??= now;
    const store = this.#requireStore();
    store.markFailed(message.id, `${kind}: ${reason}`, this.#retryAt, now);
    store.setLinkError(name, `${kind}: ${reason}`, now);
    this.#metrics?.attempts.inc({ link: name, outcome: kind });
    // The first failure of a run is worth a warning; its repeats every few minutes are not.
    const level = this.#linkFailures === 1 ? 'warn' : 'debug';
    log[level](
      {
        link: name,
        controlId: message.controlId,
        kind,
        reason,
        failures: this.#linkFailures,
        retryInMs: this.#retryAt - now,
      },
      'outbound message not acknowledged; it will be sent again with the same control id',
    );
  }

  /** At most once an hour: delivered messages past their keeping time. */
  #purge(store: OutboundStore, now: number): void {
    if (now - this.#purgedAt < 3_600_000) return;
    this.#purgedAt = now;
    const purged = store.purgeSent(this.#options.name, now - (this.#options.keepSentMs ?? DEFAULT_KEEP_SENT_MS));
    if (purged)
      this.#options.log.info(
        { link: this.#options.name, purged },
        'delivered outbound messages past their keeping time deleted',
      );
  }

  #checkUnreachable(now: number): void {
    const after = this.#options.unreachableAlarmMs ?? 0;
    if (after <= 0 || this.#failingSince === null || now - this.#failingSince < after) return;
    const { name, receiver } = this.#options;
    const summary = this.#requireStore().summary(name);
    this.#options.alarms.set(unreachableAlarmKey(name), {
      rule: 'outbound-unreachable',
      priority: 'low',
      value: summary.queued,
      // Alarm texts travel to the cloud: the receiver's own words (which may name a patient) stay in wardgate status.
      message: `${receiver} has taken no message for ${Math.round((now - this.#failingSince) / 60_000)} min; ${summary.queued} waiting, none lost (wardgate status says why)`,
    });
  }

  #refreshQuarantineAlarm(): void {
    const { name, receiver } = this.#options;
    const summary = this.#requireStore().summary(name);
    if (summary.quarantined === 0) return this.#options.alarms.set(quarantineAlarmKey(name), null);
    this.#options.alarms.set(quarantineAlarmKey(name), {
      rule: 'outbound-quarantine',
      priority: 'medium',
      value: summary.quarantined,
      message: `${summary.quarantined} message(s) refused by ${receiver}: wardgate status gives the reason; fix the cause, then send them again`,
    });
  }

  #notify(listener: ((m: OutboundMessage, ack: Ack) => void) | undefined, message: OutboundMessage, ack: Ack): void {
    try {
      listener?.(message, ack);
    } catch (err) {
      this.#options.log.error({ err, link: this.#options.name }, 'outbound link listener failed');
    }
  }

  #connected(connected: boolean): void {
    try {
      this.#store?.setConnected(this.#options.name, connected, this.#now());
    } catch (err) {
      this.#options.log.warn({ err, link: this.#options.name }, 'outbound link: could not record the connection state');
    }
  }

  #delay(attempt: number): number {
    const { minMs, maxMs } = this.#options.retry;
    return Math.max(minMs, backoffDelay(attempt - 1, minMs, maxMs, this.#options.random));
  }

  #sleep(ms: number | null): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    return new Promise((resolve) => {
      this.#wake = () => {
        clearTimeout(this.#timer);
        this.#wake = undefined;
        resolve();
      };
      // Capped so that the unreachable alarm is looked at even while nothing is due.
      this.#timer = setTimeout(this.#wake, Math.min(ms ?? 60_000, 60_000));
    });
  }

  #wakeUp(): void {
    this.#wake?.();
  }
}

interface LinkMetrics {
  readonly links: Set<OutboundLink>;
  readonly attempts: Counter<'link' | 'outcome'>;
  readonly ackSeconds: Histogram<'link'>;
}

const metricsByRegistry = new WeakMap<Registry, LinkMetrics>();

/** One set of metrics per registry, shared by its links (the EHR's and the alarm manager's). */
function linkMetrics(registry: Registry, link: OutboundLink): LinkMetrics {
  let metrics = metricsByRegistry.get(registry);
  if (!metrics) {
    const links = new Set<OutboundLink>();
    const registers = [registry];
    const gauge = (name: string, help: string, read: (s: OutboundLinkStatus) => number) =>
      new Gauge({
        name,
        help,
        labelNames: ['link'] as const,
        registers,
        collect() {
          this.reset();
          for (const l of links) {
            try {
              const s = l.status();
              this.set({ link: s.link }, read(s));
            } catch {
              // A link that stopped between two scrapes has nothing to say.
            }
          }
        },
      });
    gauge(
      'wardgate_outbound_queued',
      'Messages waiting to be accepted by the receiver, per outbound link.',
      (s) => s.queued,
    );
    gauge(
      'wardgate_outbound_quarantined',
      'Messages the receiver refused (AR), kept for an operator, per outbound link.',
      (s) => s.quarantined,
    );
    gauge('wardgate_outbound_connected', '1 while the outbound link has a connection to its receiver.', (s) =>
      Number(s.connected),
    );
    metrics = {
      links,
      attempts: new Counter({
        name: 'wardgate_outbound_attempts_total',
        help: 'Send attempts per outbound link by outcome: accepted (AA), error (AE), rejected (AR, quarantined), timeout, network, protocol.',
        labelNames: ['link', 'outcome'] as const,
        registers,
      }),
      ackSeconds: new Histogram({
        name: 'wardgate_outbound_ack_seconds',
        help: 'From sending a message to its acknowledgment, per outbound link.',
        labelNames: ['link'] as const,
        buckets: [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
        registers,
      }),
    };
    metricsByRegistry.set(registry, metrics);
  }
  metrics.links.add(link);
  return metrics;
}
