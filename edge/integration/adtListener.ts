// The ADT feed's MLLP listener (hl7.adt): the hospital's interface engine
// connects and sends ADT events; each is answered after its effect is
// committed (adtHandler.ts). A port of its own, TLS when configured, a few
// connections at most (an ADT feed is one or two long-lived links, silent
// for hours at night): when all are taken, the oldest one that never sent a
// message gives way, so a silent socket cannot lock the feed out. The port,
// framing, pipelining, in-order answers and timeouts are those of every MLLP
// listener (hl7/mllpServer.ts).
import { readFileSync } from 'node:fs';
import type { EventBus } from '../bus.js';
import { failureOf } from '../hl7/answer.js';
import { MllpServer, portOptions } from '../hl7/mllpServer.js';
import type { Logger } from '../log.js';
import { LogLimiter } from '../logLimiter.js';
import type { Admissions } from '../patients/admissions.js';
import { AdtRecorder } from '../patients/adtRecorder.js';
import type { Service } from '../service.js';
import type { AuditLog } from '../store/auditLog.js';
import type { Db } from '../store/database.js';
import type { AdtConfig, AdtLocationConfig } from './adtConfig.js';
import { AdtHandler } from './adtHandler.js';
import { AdtStatusRecorder, type AdtStatus } from './adtStatus.js';

export interface AdtListenerDeps {
  readonly config: AdtConfig;
  /** This ward's PV1-3 locations (hl7.adt.locations, else hl7.locations). */
  readonly locations: readonly AdtLocationConfig[];
  readonly db: Db;
  readonly audit: AuditLog;
  /** The admissions the screens and the alarm engine read: reloaded after each change. */
  readonly admissions: Admissions;
  readonly bus: EventBus;
  readonly log: Logger;
  readonly gatewayId: string;
  readonly ward: string;
  /** Where `wardgate status` reads the link's state (adtStatus.ts); absent: memory only. */
  readonly statusFile?: string;
  readonly now?: () => number;
}

export class AdtListener implements Service {
  readonly name = 'adt';
  readonly #deps: AdtListenerDeps;
  readonly #log: Logger;
  readonly #limited: LogLimiter;
  readonly #status: AdtStatusRecorder;
  readonly #recorder: AdtRecorder;
  #server: MllpServer | undefined;
  #pruner: NodeJS.Timeout | undefined;

  constructor(deps: AdtListenerDeps) {
    this.#deps = deps;
    this.#log = deps.log.child({ module: 'adt' });
    this.#limited = new LogLimiter(this.#log);
    this.#status = new AdtStatusRecorder(deps.statusFile);
    this.#recorder = new AdtRecorder(deps.db, deps.audit, deps.now);
  }

  get port(): number | undefined {
    return this.#server?.port;
  }

  get status(): AdtStatus {
    return this.#status.snapshot();
  }

  async start(): Promise<void> {
    const { config, admissions, bus } = this.#deps;
    this.#prune();
    // Control ids are kept for rememberDays: forgotten once a day, not only at start, on a box that runs for months.
    this.#pruner = setInterval(() => this.#prune(), 86_400_000);
    this.#pruner.unref();
    const handler = new AdtHandler({
      config,
      locations: this.#deps.locations,
      recorder: this.#recorder,
      application: config.application ?? this.#deps.gatewayId,
      facility: config.facility ?? this.#deps.ward,
      ...(this.#deps.now && { now: this.#deps.now }),
      onChanged: (beds) => {
        admissions.reload();
        for (const bed of beds) bus.emit('patient.changed', { bed });
      },
      onAnswer: (kind, event) => this.#status.answered(kind, event, Date.now()),
      onFailure: (err) => {
        // The name and where, never the message: it holds the patient's identifiers.
        const error = failureOf(err, 2);
        this.#limited.error(
          `failure ${error.name}`,
          { code: 'WG_ERR_STORE', error },
          'adt message not applied; answered without AA so the sender resends it',
        );
      },
    });
    // Addresses are checked at connect when every listed sender names its own; otherwise per message (MSH-3 and address).
    const addresses = config.senders.every((s) => s.addresses)
      ? new Set(config.senders.flatMap((s) => s.addresses!))
      : undefined;
    const server = new MllpServer({
      ...portOptions(config),
      ...(config.tls && {
        tls: {
          cert: readFileSync(config.tls.cert),
          key: readFileSync(config.tls.key),
          ...(config.tls.ca && { ca: readFileSync(config.tls.ca) }),
        },
      }),
      handler,
      log: this.#log,
      evictSilent: true,
      ...(addresses && { admits: (address: string) => addresses.has(address) }),
      onRefused: (address, reason) => {
        const why =
          reason === 'address'
            ? 'address not in hl7.adt.senders'
            : `hl7.adt.maxConnections (${config.maxConnections}) open, each of them has sent messages`;
        this.#limited.warn(
          `refused ${address}`,
          { code: 'WG_ERR_HL7_SENDER', address },
          `adt connection refused: ${why}`,
        );
      },
      onEvicted: (address) =>
        this.#limited.warn(
          `evicted ${address}`,
          { code: 'WG_ERR_HL7_BUSY', address },
          'adt connection closed: a silent connection gave way to a new one (hl7.adt.maxConnections open)',
        ),
      onTlsError: (err) =>
        this.#limited.warn(
          `tls ${err.name}`,
          { code: 'WG_ERR_HL7_SENDER', err: err.message },
          'adt connection failed its TLS handshake',
        ),
      onConnection: ({ address }) => this.#log.info({ address }, 'adt connection'),
      onConnections: (open) => this.#status.connections(open),
      onAnswer: (answer, { address }) => {
        if (answer.rejection)
          this.#limited.warn(
            `answer ${address} ${answer.code} ${answer.rejection.code}`,
            { address, ack: answer.code, code: answer.rejection.code },
            'adt message not accepted',
          );
      },
      onFault: (fault, { address }) =>
        this.#limited.warn(`fault ${address} ${fault}`, { address, fault }, 'adt link: MLLP framing fault'),
    });
    await server.listen();
    this.#server = server;
    this.#status.listening(Date.now(), this.port!, config.tls !== undefined);
    this.#log.info({ host: config.host, port: this.port, tls: config.tls !== undefined }, 'adt listening');
  }

  async stop(): Promise<void> {
    clearInterval(this.#pruner);
    const server = this.#server;
    this.#server = undefined;
    await server?.close(2000);
    this.#status.closed();
  }

  #prune(): void {
    try {
      const forgotten = this.#recorder.prune(this.#deps.config.rememberDays);
      if (forgotten)
        this.#log.debug({ forgotten }, 'adt: applied control ids older than hl7.adt.rememberDays forgotten');
    } catch (err) {
      this.#log.warn(
        { code: 'WG_ERR_STORE', err: err instanceof Error ? err.name : String(err) },
        'adt: old control ids could not be forgotten; tried again tomorrow',
      );
    }
  }
}
