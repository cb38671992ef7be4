// The HL7 v2 / MLLP listener (IHE PCD-01 ORU^R01 in, ACK out). Off unless
// `hl7:` is configured; binds to loopback unless told otherwise. Several
// connections at once, within limits: hl7.maxConnections in all and
// hl7.maxConnectionsPerAddress from one address, so that one host cannot
// take every slot; when all are taken, the oldest connection that has not yet
// sent a message gives way to the new one (silent sockets cannot lock the
// monitors out), and only when every slot is in use by a sender that spoke is
// a new connection refused. Refusals are counted and logged (at most once a
// minute per cause). Senders are limited by address (here, at connect) and by
// who they say they are and what they report (senderPolicy.ts, per message,
// answered AR). The port and its connections are mllpServer.ts's.
import type { Hl7Config } from '../config/schema.js';
import type { Ingestor } from '../ingest/ingestor.js';
import type { Logger } from '../log.js';
import type { GatewayMetrics } from '../metrics.js';
import type { Service } from '../service.js';
import { failureOf } from './answer.js';
import { LocationMap } from './locationMap.js';
import { MllpServer, portOptions, type ConnectRefusal } from './mllpServer.js';
import { LogLimiter } from '../logLimiter.js';
import { OruHandler } from './oruHandler.js';
import { Hl7StatusRecorder, type Hl7Status } from './senderStatus.js';
import { SenderPolicy, type DeclaredElsewhere } from './senderPolicy.js';

export interface Hl7ListenerDeps {
  readonly config: Hl7Config;
  readonly ingestor: Ingestor;
  readonly metrics: GatewayMetrics;
  readonly log: Logger;
  readonly gatewayId: string;
  readonly ward: string;
  readonly maxFutureSkewMs: number;
  /** Devices the config declares (with their beds and sources): HL7 may not report those of other sources. */
  readonly declared?: readonly DeclaredElsewhere[];
  /** ingest.acceptUnknownDevices: senders not in hl7.senders may register new equipment (lab use). */
  readonly acceptUnknownSenders?: boolean;
  /** Where `wardgate status` reads the senders' clocks, demo rows and unmapped codes (senderStatus.ts); absent: kept in memory only. */
  readonly statusFile?: string;
}

/** Distinct OBX-3 codes counted by name in wardgate_hl7_obx_unmapped_total. */
const MAX_UNMAPPED_LABELS = 256;
/** A sender clock further off than this is logged (once a minute). */
const CLOCK_WARN_MS = 60_000;

type RefusalReason = ConnectRefusal | 'first-message' | 'evicted';

export class Hl7Listener implements Service {
  readonly name = 'hl7';
  readonly #deps: Hl7ListenerDeps;
  readonly #log: Logger;
  readonly #limited: LogLimiter;
  readonly #unmappedCodes = new Set<string>();
  readonly #status: Hl7StatusRecorder;
  #server: MllpServer | undefined;

  constructor(deps: Hl7ListenerDeps) {
    this.#deps = deps;
    this.#log = deps.log.child({ module: 'hl7' });
    this.#limited = new LogLimiter(this.#log);
    this.#status = new Hl7StatusRecorder(deps.statusFile);
  }

  /** The senders' clocks, demo rows and unmapped codes seen since start. */
  get status(): Hl7Status {
    return this.#status.snapshot();
  }

  get port(): number | undefined {
    return this.#server?.port;
  }

  get connections(): number {
    return this.#server?.connections ?? 0;
  }

  async start(): Promise<void> {
    const { config, ingestor, metrics, gatewayId, ward, maxFutureSkewMs } = this.#deps;
    const policy = new SenderPolicy({
      senders: config.senders,
      allowedApplications: config.allowedApplications,
      declared: this.#deps.declared ?? [],
      openToUnknown: this.#deps.acceptUnknownSenders ?? false,
    });
    const handler = new OruHandler({
      ingestor,
      gatewayId,
      ward,
      policy,
      maxSegments: config.maxSegmentsPerMessage,
      maxFutureSkewMs,
      locations: new LocationMap(config.locations, config.otherLocations),
      onSkipped: (reason, n) => metrics.hl7ObxSkipped.inc({ reason }, n),
      onUnmapped: (code) => {
        // Bounded label set: a sender inventing codes cannot grow the metrics without limit.
        if (!this.#unmappedCodes.has(code) && this.#unmappedCodes.size < MAX_UNMAPPED_LABELS)
          this.#unmappedCodes.add(code);
        metrics.hl7ObxUnmapped.inc({ code: this.#unmappedCodes.has(code) ? code : 'other' });
        this.#status.unmapped(code);
      },
      onDemo: (sender, rows, processingId) => {
        metrics.hl7DemoRows.inc({ sender }, rows);
        this.#status.demo(sender, rows);
        this.#limited.warn(
          `demo ${sender}`,
          { code: 'WG_ERR_HL7_DEMO', sender, processingId, rows },
          'hl7 demo or test data received: counted, not stored as patient data',
        );
      },
      onClock: (sender, offsetMs) => {
        metrics.hl7ClockOffset.set({ sender }, offsetMs / 1000);
        this.#status.message(sender, Date.now(), offsetMs);
        if (Math.abs(offsetMs) > CLOCK_WARN_MS)
          this.#limited.warn(
            `clock ${sender}`,
            { sender, offsetSeconds: Math.round(offsetMs / 1000) },
            "hl7 sender's clock (MSH-7) is off the gateway's by more than a minute",
          );
      },
      onFailure: (err) => {
        metrics.hl7HandlerFailures.inc();
        // The name and where it failed, not the message text: it may quote the content.
        const error = failureOf(err, 3);
        this.#limited.error(
          `failure ${error.name}`,
          { code: 'WG_ERR_INTERNAL', error },
          'hl7 message made the handler fail; refused with AE',
        );
      },
    });
    const server = new MllpServer({
      ...portOptions(config),
      handler,
      log: this.#log,
      maxConnectionsPerAddress: config.maxConnectionsPerAddress,
      evictSilent: true,
      ...(config.allowedAddresses.length && {
        admits: (address: string) => config.allowedAddresses.includes(address),
      }),
      onRefused: (address, reason) => this.#refused(address, reason),
      onEvicted: (address) =>
        this.#counted(
          address,
          'evicted',
          'hl7 connection closed: a silent connection gave way to a new one (hl7.maxConnections open)',
        ),
      onFirstMessageTimeout: (address) =>
        this.#counted(
          address,
          'first-message',
          `hl7 connection closed: no complete message within hl7.firstMessageTimeoutMs (${config.firstMessageTimeoutMs} ms)`,
        ),
      onConnection: ({ peer }) => this.#log.debug({ peer }, 'hl7 connection'),
      onAnswer: (answer, { address, peer }) => {
        metrics.hl7Messages.inc({ ack: answer.code });
        // Once a minute per address and reason, not once per message: a sender alternating reasons cannot flood the log.
        const { rejection } = answer;
        if (rejection)
          this.#limited.warn(
            `answer ${address} ${answer.code} ${rejection.code}`,
            { peer, ack: answer.code, code: rejection.code },
            'hl7 message not accepted',
          );
      },
      onFault: (fault) => metrics.hl7FrameErrors.inc({ fault }),
    });
    await server.listen();
    this.#server = server;
    this.#log.info({ host: config.host, port: this.port }, 'hl7 listening');
  }

  /** Stops accepting, answers what was received (bounded), then closes every connection. */
  async stop(): Promise<void> {
    const server = this.#server;
    // Kept until closed: the connections still being answered are counted until then.
    await server?.close(2000);
    if (this.#server === server) this.#server = undefined;
    this.#status.flush();
  }

  #refused(address: string, reason: ConnectRefusal): void {
    const { config, metrics } = this.#deps;
    if (reason === 'address') metrics.hl7Messages.inc({ ack: 'refused-connection' });
    let why = 'address not in hl7.allowedAddresses';
    if (reason === 'full') why = `hl7.maxConnections (${config.maxConnections}) open`;
    else if (reason === 'per-address')
      why = `hl7.maxConnectionsPerAddress (${config.maxConnectionsPerAddress}) open from this address`;
    this.#counted(address, reason, `hl7 connection refused: ${why}`);
  }

  #counted(address: string, reason: RefusalReason, message: string): void {
    this.#deps.metrics.hl7ConnectionsRefused.inc({ reason });
    const code = reason === 'address' ? 'WG_ERR_HL7_SENDER' : 'WG_ERR_HL7_BUSY';
    this.#limited.warn(`${reason} ${address}`, { code, address, reason }, message);
  }
}
