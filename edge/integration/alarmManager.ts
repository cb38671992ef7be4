// The gateway as an IHE PCD Alarm Reporter: every alarm lifecycle event the
// configuration selects goes to the hospital's alarm manager as a PCD-04
// (alarmReport.ts) over the durable outbound link 'alarm-manager'
// (outboundLink.ts: retried until accepted, a technical alarm on the ward
// while the manager is unreachable or refuses), and what the manager reports
// back (PCD-05, alarmStatus.ts) updates the ward: "accepted" acknowledges the
// alarm exactly as a nurse at the dashboard does, and every status is
// audited with who, where and on which device.
//
// Reports are taken from the recorded alarm events (an outbox, like the
// cloud sync's), not from the engine's callbacks: the engine raises alarms
// without waiting for any of this, an event is reported once it is recorded
// (an event recorded late, after a full disk, is reported late, in order),
// and the cursor moves in the transaction that queues the reports, so a
// crash neither loses nor doubles one. One ordering key per alarm: an
// alarm's events reach the manager in order, and one alarm the manager
// keeps refusing holds up no other.
import { readFileSync } from 'node:fs';
import type { Rejection } from '../../shared/errors.js';
import { priorityRank, type Alarm } from '../alarms/types.js';
import type { EventBus } from '../bus.js';
import type { Logger } from '../log.js';
import { LogLimiter } from '../logLimiter.js';
import type { Service } from '../service.js';
import { AlarmReportOutbox, type OwedEvent } from '../store/alarmReportOutbox.js';
import type { AuditLog } from '../store/auditLog.js';
import type { Db } from '../store/database.js';
import { OutboundStore } from '../store/outboundStore.js';
import type { AlarmManagerConfig } from './alarmManagerConfig.js';
import { buildAlarmReport } from './alarmReport.js';
import { acceptedBy, type AckReport, type AlarmStatusReport } from './alarmStatus.js';
import { AlarmStatusListener } from './alarmStatusListener.js';

/** The link's name in the queue, the technical alarms, the metrics and `wardgate status`. */
export const ALARM_MANAGER_LINK = 'alarm-manager';
/** MSH-10 of the report of the alarm event with this seq: the same after any restart, never reused. */
export const reportControlId = (seq: number) => `WGA${seq}`;
const seqOfControlId = (controlId: string) => (/^WGA(\d+)$/.exec(controlId) ? Number(controlId.slice(3)) : undefined);

/** Events looked at per pass; a backlog is worked through in passes. */
const PASS = 500;
/** How often events recorded late (a full disk) are looked for. */
const SWEEP_MS = 1000;

export interface AlarmManagerDeps {
  readonly config: AlarmManagerConfig;
  readonly ward: string;
  readonly gatewayId: string;
  readonly db: Db;
  readonly audit: AuditLog;
  readonly bus: EventBus;
  readonly log: Logger;
  /** Wakes the outbound link: reports were queued. */
  readonly kick: () => void;
  /** An open alarm by id (the engine's), undefined once it is cleared or never was. */
  readonly openAlarm: (alarmId: string) => Alarm | undefined;
  /** The ward's acknowledgement, the same the dashboard and MQTT use (the engine, its audit entry, the live displays). */
  readonly acknowledge: (alarmId: string, by: string, via: string) => Alarm | undefined;
  /** Counts what the manager says: statuses, reports queued. */
  readonly onCount?: (what: 'queued' | 'skipped' | 'stale' | 'status', label: string, n?: number) => void;
  readonly now?: () => number;
}

export class AlarmManagerReporter implements Service {
  readonly name = 'alarm-manager';
  readonly #deps: AlarmManagerDeps;
  readonly #log: Logger;
  /** At most one line a minute per cause: the sweep retries every second. */
  readonly #limited: LogLimiter;
  readonly #now: () => number;
  #outbox: AlarmReportOutbox | undefined;
  #queue: OutboundStore | undefined;
  #listener: AlarmStatusListener | undefined;
  #unsubscribe: (() => void) | undefined;
  #sweep: NodeJS.Timeout | undefined;
  #pending: NodeJS.Immediate | undefined;

  constructor(deps: AlarmManagerDeps) {
    this.#deps = deps;
    this.#log = deps.log.child({ module: 'alarm-manager' });
    this.#limited = new LogLimiter(this.#log);
    this.#now = deps.now ?? Date.now;
  }

  /** The port the status listener took (alarmManager.listen.port 0: any). */
  get statusPort(): number | undefined {
    return this.#listener?.port;
  }

  async start(): Promise<void> {
    const { config, db, bus } = this.#deps;
    this.#outbox = new AlarmReportOutbox(db);
    this.#queue = new OutboundStore(db);
    this.queueOwed();
    // The events of this evaluation are recorded (or waiting for room on the disk). Queued once the
    // listeners that show the alarm on the ward have run: the report never delays the ward's screens.
    this.#unsubscribe = bus.on('alarm.events', () => this.#soon());
    this.#sweep = setInterval(() => this.queueOwed(), SWEEP_MS);
    this.#sweep.unref();
    if (config.listen) {
      this.#listener = new AlarmStatusListener({
        host: config.listen.host,
        port: config.listen.port,
        allowedAddresses: config.listen.allowedAddresses,
        ...(config.listen.tls && {
          tls: {
            cert: readFileSync(config.listen.tls.cert),
            key: readFileSync(config.listen.tls.key),
            ...(config.listen.tls.ca && { ca: readFileSync(config.listen.tls.ca) }),
          },
        }),
        application: config.sendingApplication,
        facility: config.sendingFacility ?? this.#deps.ward,
        log: this.#deps.log,
        onStatus: (report) => this.applyStatus(report),
        onAck: (ack) => this.#ackOnItsOwn(ack),
      });
      await this.#listener.start();
    }
  }

  #soon(): void {
    if (this.#pending) return;
    this.#pending = setImmediate(() => {
      this.#pending = undefined;
      this.queueOwed();
    });
  }

  async stop(): Promise<void> {
    clearImmediate(this.#pending);
    this.#pending = undefined;
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    clearInterval(this.#sweep);
    await this.#listener?.stop();
    this.#listener = undefined;
  }

  /** Queues a report for every recorded event above the cursor that the configuration selects. */
  queueOwed(): void {
    const outbox = this.#outbox;
    const queue = this.#queue;
    if (!outbox || !queue) return;
    try {
      for (;;) {
        const owed = outbox.owed(PASS);
        if (owed.length === 0) return;
        const now = this.#now();
        const stale = owed.filter((o) => now - o.event.ts > this.#deps.config.backlogMaxAgeMs);
        if (stale.length)
          this.#limited.warn(
            'stale',
            { events: stale.length, maxAgeMs: this.#deps.config.backlogMaxAgeMs },
            'alarm events recorded while no report could be queued are too old to page anyone; not reported',
          );
        const wanted = owed.filter((o) => this.#wanted(o) && !stale.includes(o));
        const messages = wanted.map((o) => ({
          link: ALARM_MANAGER_LINK,
          orderKey: `alarm:${o.event.alarmId}`,
          controlId: reportControlId(o.event.seq),
          message: this.#report(o, now),
        }));
        outbox.advance(owed[owed.length - 1].event.seq, () => queue.enqueueAll(messages, now));
        this.#deps.onCount?.('queued', 'report', messages.length);
        this.#deps.onCount?.('skipped', 'report', owed.length - messages.length - stale.length);
        this.#deps.onCount?.('stale', 'report', stale.length);
        if (messages.length) this.#deps.kick();
        if (owed.length < PASS) return;
      }
    } catch (err) {
      // The disk refused the write (full): the cursor did not move, the next pass queues the same events.
      this.#limited.error('queue', { err }, 'alarm reports could not be queued; trying again');
    }
  }

  /**
   * A PCD-05 from the manager. Every recipient's status is audited; an
   * "accepted" acknowledges the ward alarm once (a later one for an alarm
   * already acknowledged or cleared changes nothing on the ward).
   */
  applyStatus(report: AlarmStatusReport): Rejection | undefined {
    const alarmId = this.#alarmOf(report);
    if (!alarmId)
      return {
        code: 'WG_ERR_NOT_FOUND',
        message: `no alarm ${report.alarmId || report.answers} was reported to the alarm manager`,
        field: 'OBR-3',
      };
    const now = this.#now();
    for (const r of report.recipients) {
      this.#deps.onCount?.('status', r.status);
      this.#deps.audit.record({
        ts: now,
        actor: acceptedBy(r, report.manager),
        action: 'alarm-manager-status',
        target: `alarm:${alarmId}`,
        detail: {
          via: 'alarm-manager',
          status: r.status,
          statusText: r.text,
          manager: report.manager,
          ...(r.personId && { personId: r.personId }),
          ...(r.device && { device: r.device }),
          ...(r.location && { location: r.location }),
        },
      });
    }
    const accepted = report.recipients.find((r) => r.status === 'accepted');
    if (!accepted) return undefined;
    const open = this.#deps.openAlarm(alarmId);
    if (!open || open.state === 'acknowledged') {
      this.#log.info(
        { alarmId, state: open?.state ?? 'cleared' },
        'alarm manager acceptance for an alarm no longer waiting for one',
      );
      return undefined;
    }
    this.#deps.acknowledge(alarmId, acceptedBy(accepted, report.manager), 'alarm-manager');
    return undefined;
  }

  /** The alarm a status is about: OBR-3 as we sent it, else the report its MSA-2 answers. */
  #alarmOf(report: AlarmStatusReport): string | undefined {
    const outbox = this.#outbox;
    if (!outbox) return undefined;
    if (report.alarmId && outbox.knows(report.alarmId)) return report.alarmId;
    const seq = seqOfControlId(report.answers);
    return seq === undefined ? undefined : outbox.alarmOfSeq(seq);
  }

  #ackOnItsOwn(ack: AckReport): void {
    this.#log.debug(
      { code: ack.code, answers: ack.answers },
      'alarm manager acknowledgment received on the status connection',
    );
  }

  #wanted({ event }: OwedEvent): boolean {
    const { phases, minPriority, kinds } = this.#deps.config;
    return (
      phases.includes(event.phase) &&
      kinds.includes(event.kind) &&
      priorityRank[event.priority] >= priorityRank[minPriority]
    );
  }

  #report({ event, key, raisedAt, patient }: OwedEvent, now: number): string {
    const { config, ward, gatewayId } = this.#deps;
    return buildAlarmReport({
      event,
      key,
      raisedAt,
      controlId: reportControlId(event.seq),
      now,
      patient,
      assigner: gatewayId,
      header: {
        sendingApplication: config.sendingApplication,
        sendingFacility: config.sendingFacility ?? ward,
        receivingApplication: config.receivingApplication,
        receivingFacility: config.receivingFacility,
        processingId: config.processingId,
      },
      location: { pointOfCare: config.pointOfCare ?? ward, room: '', bed: event.bed, facility: config.facility },
    });
  }
}
