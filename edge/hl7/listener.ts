// The HL7 v2 / MLLP listener (IHE PCD-01 ORU^R01 in, ACK out). Off unless
// `hl7:` is configured; binds to loopback unless told otherwise. Several
// connections at once; senders may be limited by address (here, at connect)
// and by MSH-3 sending application (per message, answered AR).
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { Hl7Config } from '../config/schema.js';
import type { Ingestor } from '../ingest/ingestor.js';
import type { Logger } from '../log.js';
import type { GatewayMetrics } from '../metrics.js';
import type { Service } from '../service.js';
import { Hl7Connection } from './connection.js';
import { OruHandler } from './oruHandler.js';

export interface Hl7ListenerDeps {
  readonly config: Hl7Config;
  readonly ingestor: Ingestor;
  readonly metrics: GatewayMetrics;
  readonly log: Logger;
  readonly gatewayId: string;
  readonly ward: string;
  readonly maxFutureSkewMs: number;
}

export class Hl7Listener implements Service {
  readonly name = 'hl7';
  readonly #deps: Hl7ListenerDeps;
  readonly #log: Logger;
  readonly #connections = new Set<Hl7Connection>();
  #server: Server | undefined;
  /** Addresses refused, so each is logged once rather than on every reconnect. */
  readonly #refused = new Set<string>();

  constructor(deps: Hl7ListenerDeps) {
    this.#deps = deps;
    this.#log = deps.log.child({ module: 'hl7' });
  }

  get port(): number | undefined {
    return (this.#server?.address() as AddressInfo | null)?.port;
  }

  get connections(): number {
    return this.#connections.size;
  }

  async start(): Promise<void> {
    const { config, ingestor, metrics, gatewayId, ward, maxFutureSkewMs } = this.#deps;
    const handler = new OruHandler({
      ingestor,
      gatewayId,
      ward,
      allowedApplications: config.allowedApplications,
      maxFutureSkewMs,
      onSkipped: (reason, n) => metrics.hl7ObxSkipped.inc({ reason }, n),
    });
    const server = createServer((socket) => this.#accept(socket, handler));
    server.maxConnections = config.maxConnections;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.port, config.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.#server = server;
    this.#log.info({ host: config.host, port: this.port }, 'hl7 listening');
  }

  /** Stops accepting, answers what was received (bounded), then closes every connection. */
  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    const closed = server ? new Promise<void>((resolve) => server.close(() => resolve())) : Promise.resolve();
    await Promise.all([...this.#connections].map((c) => c.drain(2000)));
    await closed;
  }

  #accept(socket: Socket, handler: OruHandler): void {
    const { config, metrics } = this.#deps;
    const address = (socket.remoteAddress ?? '').replace(/^::ffff:/, '');
    if (config.allowedAddresses.length && !config.allowedAddresses.includes(address)) {
      if (!this.#refused.has(address)) this.#log.warn({ code: 'WG_ERR_HL7_SENDER', address }, 'hl7 connection refused: address not in hl7.allowedAddresses');
      this.#refused.add(address);
      metrics.hl7Messages.inc({ ack: 'refused-connection' });
      socket.destroy();
      return;
    }
    let lastRefusal: string | undefined;
    const connection = new Hl7Connection(socket, {
      handler,
      maxMessageBytes: config.maxMessageBytes,
      idleTimeoutMs: config.idleTimeoutMs,
      log: this.#log,
      onAnswer: (answer) => {
        metrics.hl7Messages.inc({ ack: answer.code });
        // Logged when the reason changes, not once per message of a misconfigured sender.
        const refusal = answer.rejection && `${answer.code} ${answer.rejection.code}`;
        if (refusal && refusal !== lastRefusal) this.#log.warn({ peer: connection.peer, ack: answer.code, code: answer.rejection!.code }, 'hl7 message not accepted');
        lastRefusal = refusal;
      },
      onFault: (fault) => metrics.hl7FrameErrors.inc({ fault }),
    });
    this.#connections.add(connection);
    void connection.closed.then(() => this.#connections.delete(connection));
    this.#log.debug({ peer: connection.peer }, 'hl7 connection');
    connection.start();
  }
}
