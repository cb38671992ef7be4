// One MLLP port, as the gateway's three listeners open it (PCD-01 devices,
// the ADT feed, the alarm manager's PCD-05 status reports): plain TCP or TLS
// only, a limit on connections in all and from one address, and, where the
// listener asks for it, the oldest connection that has not yet sent a message
// giving way to a new one when every slot is taken (a silent socket cannot
// lock the senders out). Framing, pipelining, in-order answers and the
// first-message and idle timeouts are each connection's (connection.ts).
// What a listener does differently (who may connect, what it logs and counts
// on a refusal, an answer or a framing fault, its handler) it says in the
// options; this piece decides nothing about the messages themselves.
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import type { Logger } from '../log.js';
import { Hl7Connection, type MessageHandler } from './connection.js';
import type { MllpFault } from './mllp.js';
import type { Answer } from './answer.js';

/** Why a connection was refused at connect. */
export type ConnectRefusal = 'address' | 'per-address' | 'full';

export interface MllpServerTls {
  readonly cert: Buffer;
  readonly key: Buffer;
  /** Present: the peer must present a certificate this CA signed. */
  readonly ca?: Buffer;
}

export interface MllpServerOptions {
  readonly host: string;
  readonly port: number;
  /** Present: the port speaks MLLP inside TLS only. */
  readonly tls?: MllpServerTls;
  readonly handler: MessageHandler;
  readonly log: Logger;
  readonly maxMessageBytes: number;
  /** A connection with no complete message this long after connecting is closed (0: never). */
  readonly firstMessageTimeoutMs: number;
  /** A connection with nothing unanswered and nothing received this long is ended (0: never). */
  readonly idleTimeoutMs: number;
  readonly maxConnections: number;
  /** Absent: no limit but maxConnections. */
  readonly maxConnectionsPerAddress?: number;
  /** Whether a peer address may connect at all (checked first); absent: every address may. */
  readonly admits?: (address: string) => boolean;
  /** When maxConnections are open, the oldest connection that has sent nothing gives way to the new one. */
  readonly evictSilent: boolean;
  /** A connection refused at connect (it is closed just after). */
  readonly onRefused: (address: string, reason: ConnectRefusal) => void;
  /** A silent connection about to be closed to make room. */
  readonly onEvicted?: (address: string) => void;
  /** A connection about to be closed: its first message did not come in time. */
  readonly onFirstMessageTimeout?: (address: string) => void;
  readonly onTlsError?: (err: Error) => void;
  /** A connection accepted, before it is read. */
  readonly onConnection?: (connection: Hl7Connection) => void;
  /** How many are open, after each one accepted or closed. */
  readonly onConnections?: (open: number) => void;
  readonly onAnswer: (answer: Answer, connection: Hl7Connection) => void;
  readonly onFault: (fault: MllpFault, connection: Hl7Connection) => void;
}

export class MllpServer {
  readonly #options: MllpServerOptions;
  readonly #connections = new Set<Hl7Connection>();
  /** Open connections by peer address. */
  readonly #perAddress = new Map<string, number>();
  #server: Server | undefined;

  constructor(options: MllpServerOptions) {
    this.#options = options;
  }

  get port(): number | undefined {
    return (this.#server?.address() as AddressInfo | null)?.port;
  }

  get connections(): number {
    return this.#connections.size;
  }

  async listen(): Promise<void> {
    const { tls, onTlsError } = this.#options;
    const accept = (socket: Socket) => this.#accept(socket);
    const server = tls
      ? createTlsServer(
          { cert: tls.cert, key: tls.key, ...(tls.ca && { ca: tls.ca, requestCert: true, rejectUnauthorized: true }) },
          accept,
        )
      : createServer(accept);
    if (onTlsError) server.on('tlsClientError', (err: Error) => onTlsError(err));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.#options.port, this.#options.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.#server = server;
  }

  /** Stops accepting, answers what was received (within drainMs), then closes every connection. */
  async close(drainMs: number): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    const closed = server ? new Promise<void>((resolve) => server.close(() => resolve())) : Promise.resolve();
    await Promise.all([...this.#connections].map((c) => c.drain(drainMs)));
    await closed;
  }

  #accept(socket: Socket): void {
    const options = this.#options;
    socket.on('error', () => {});
    const address = (socket.remoteAddress ?? '').replace(/^::ffff:/, '');
    const refusal = this.#refusal(address);
    if (refusal) {
      options.onRefused(address, refusal);
      socket.destroy();
      return;
    }
    const { onFirstMessageTimeout } = options;
    const connection: Hl7Connection = new Hl7Connection(socket, {
      handler: options.handler,
      maxMessageBytes: options.maxMessageBytes,
      firstMessageTimeoutMs: options.firstMessageTimeoutMs,
      idleTimeoutMs: options.idleTimeoutMs,
      log: options.log,
      ...(onFirstMessageTimeout && { onFirstMessageTimeout: () => onFirstMessageTimeout(address) }),
      onAnswer: (answer) => options.onAnswer(answer, connection),
      onFault: (fault) => options.onFault(fault, connection),
    });
    this.#connections.add(connection);
    this.#perAddress.set(address, (this.#perAddress.get(address) ?? 0) + 1);
    options.onConnections?.(this.#connections.size);
    void connection.closed.then(() => {
      this.#connections.delete(connection);
      const left = (this.#perAddress.get(address) ?? 1) - 1;
      if (left > 0) this.#perAddress.set(address, left);
      else this.#perAddress.delete(address);
      options.onConnections?.(this.#connections.size);
    });
    options.onConnection?.(connection);
    connection.start();
  }

  #refusal(address: string): ConnectRefusal | undefined {
    const { admits, maxConnectionsPerAddress, maxConnections } = this.#options;
    if (admits && !admits(address)) return 'address';
    if (maxConnectionsPerAddress !== undefined && (this.#perAddress.get(address) ?? 0) >= maxConnectionsPerAddress)
      return 'per-address';
    // Only a connection that may send takes a silent one's slot: the address is checked first.
    if (this.#connections.size >= maxConnections && !this.#evictSilent()) return 'full';
    return undefined;
  }

  /** Closes the oldest connection that has sent nothing yet, to make room; false when every one has spoken. */
  #evictSilent(): boolean {
    if (!this.#options.evictSilent) return false;
    for (const connection of this.#connections) {
      if (connection.heard) continue;
      // Removed now, not at its close event: the slot is the new connection's at once.
      this.#connections.delete(connection);
      this.#options.onEvicted?.(connection.address);
      connection.evict();
      return true;
    }
    return false;
  }
}

/** What hl7.* and hl7.adt.* both set of their port, by the same names. */
export type MllpPortConfig = Pick<
  MllpServerOptions,
  'host' | 'port' | 'maxMessageBytes' | 'firstMessageTimeoutMs' | 'idleTimeoutMs' | 'maxConnections'
>;

/** Those settings alone, out of a listener's whole config section. */
export function portOptions(config: MllpPortConfig): MllpPortConfig {
  const { host, port, maxMessageBytes, firstMessageTimeoutMs, idleTimeoutMs, maxConnections } = config;
  return { host, port, maxMessageBytes, firstMessageTimeoutMs, idleTimeoutMs, maxConnections };
}
