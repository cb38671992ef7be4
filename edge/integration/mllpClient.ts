// One MLLP client connection to a hospital system (an interface engine, an
// alarm manager), HL7 v2 original-mode acknowledgment: send one message, wait
// for the ACK whose MSA-2 is its MSH-10, then the next. Framing and parsing
// are the listener's (edge/hl7/mllp.ts, edge/hl7/message.ts).
//
// It connects when asked to send and stays connected; a failure (refused,
// reset, TLS, no ACK in time, an ACK that is not for this message) ends the
// connection, so that a late answer can never be taken for the next
// message's, and the next send connects again. When to try again is the
// caller's decision (edge/integration/outboundLink.ts).
import { connect as connectTcp, type Socket } from 'node:net';
import { connect as connectTls, type ConnectionOptions } from 'node:tls';
import { MllpDecoder, mllpFrame, type MllpFrame } from '../hl7/mllp.js';
import { parseHl7, value } from '../hl7/message.js';

export interface MllpClientTls {
  /** CA certificate(s) the receiver's certificate must chain to; absent: the system's. */
  readonly ca?: string | Buffer;
  /** A client certificate and key, for a receiver that asks for one. */
  readonly cert?: string | Buffer;
  readonly key?: string | Buffer;
  /** The name the certificate must carry, when it is not the host. */
  readonly servername?: string;
}

export interface MllpClientOptions {
  readonly host: string;
  readonly port: number;
  /** Present: TLS, with the receiver's certificate verified. */
  readonly tls?: MllpClientTls;
  readonly connectTimeoutMs: number;
  readonly ackTimeoutMs: number;
  /** Larger answers are a protocol fault. */
  readonly maxAckBytes?: number;
  /** Told when the connection opens or ends. */
  readonly onConnected?: (connected: boolean) => void;
}

/** MSA-1 (HL7 table 0008): original mode AA/AE/AR, enhanced mode CA/CE/CR. */
export type AckCode = 'AA' | 'AE' | 'AR' | 'CA' | 'CE' | 'CR';

export interface Ack {
  readonly code: AckCode;
  /** MSA-2: the control id of the message answered. */
  readonly controlId: string;
  /** Why, for AE/AR: ERR-8 (user message), else MSA-3 (text message), else ''. */
  readonly text: string;
}

export type SendFailureKind = 'network' | 'timeout' | 'protocol';

/** No acknowledgment: the message may or may not have reached the receiver. */
export class MllpSendError extends Error {
  readonly kind: SendFailureKind;
  constructor(kind: SendFailureKind, message: string) {
    super(message);
    this.name = 'MllpSendError';
    this.kind = kind;
  }
}

const ACK_CODES = new Set<string>(['AA', 'AE', 'AR', 'CA', 'CE', 'CR']);

export class MllpClient {
  readonly #options: MllpClientOptions;
  #socket: Socket | undefined;
  #connecting: Promise<Socket> | undefined;
  /** The socket still connecting, ended by close(). */
  #pending: Socket | undefined;
  /** The frame handler of the send in progress. */
  #waiter: ((frame: MllpFrame | Error) => void) | undefined;
  #busy = false;
  #closed = false;

  constructor(options: MllpClientOptions) {
    this.#options = options;
  }

  get connected(): boolean {
    return this.#socket !== undefined;
  }

  /**
   * Sends one message and resolves with the receiver's ACK, whatever its code;
   * rejects with MllpSendError when there is none (network, timeout, an answer
   * that is not an ACK for `controlId`). One send at a time.
   */
  async send(message: string, controlId: string): Promise<Ack> {
    if (this.#busy) throw new Error('MllpClient.send: a send is already in progress');
    if (this.#closed) throw new MllpSendError('network', 'the link is closed');
    this.#busy = true;
    try {
      const socket = await this.#connect();
      return await this.#exchange(socket, message, controlId);
    } finally {
      this.#busy = false;
    }
  }

  /** Ends the connection; later sends fail. */
  close(): void {
    this.#closed = true;
    this.#pending?.destroy(new Error('the link is closed'));
    this.#drop(new MllpSendError('network', 'the link is closed'));
  }

  #exchange(socket: Socket, message: string, controlId: string): Promise<Ack> {
    return new Promise<Ack>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiter = undefined;
        this.#drop();
        reject(new MllpSendError('timeout', `no acknowledgment within ${this.#options.ackTimeoutMs} ms`));
      }, this.#options.ackTimeoutMs);
      this.#waiter = (frame) => {
        clearTimeout(timer);
        this.#waiter = undefined;
        if (frame instanceof Error) return reject(frame);
        const ack =
          frame.kind === 'message'
            ? readAck(frame.message.toString('utf8'), controlId)
            : `an answer of ${frame.size} bytes`;
        if (typeof ack === 'string') {
          this.#drop();
          return reject(new MllpSendError('protocol', ack));
        }
        resolve(ack);
      };
      socket.write(mllpFrame(message));
    });
  }

  #connect(): Promise<Socket> {
    if (this.#socket) return Promise.resolve(this.#socket);
    this.#connecting ??= new Promise<Socket>((resolve, reject) => {
      const { host, port, tls } = this.#options;
      const socket: Socket = tls
        ? connectTls({ host, port, ...tlsOptions(tls) } satisfies ConnectionOptions)
        : connectTcp({ host, port });
      this.#pending = socket;
      const fail = (err: Error) => {
        clearTimeout(timer);
        socket.destroy();
        this.#connecting = undefined;
        this.#pending = undefined;
        reject(new MllpSendError('network', `cannot connect to ${host}:${port}: ${err.message}`));
      };
      const timer = setTimeout(
        () => fail(new Error(`no connection within ${this.#options.connectTimeoutMs} ms`)),
        this.#options.connectTimeoutMs,
      );
      socket.once('error', fail);
      socket.once(tls ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        socket.off('error', fail);
        this.#connecting = undefined;
        this.#pending = undefined;
        if (this.#closed) {
          socket.destroy();
          return reject(new MllpSendError('network', 'the link is closed'));
        }
        this.#adopt(socket);
        resolve(socket);
      });
    });
    return this.#connecting;
  }

  #adopt(socket: Socket): void {
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 30_000);
    const decoder = new MllpDecoder({ maxMessageBytes: this.#options.maxAckBytes ?? 65_536 });
    decoder.on('data', (frame: MllpFrame) => {
      if (this.#waiter) this.#waiter(frame);
      else if (this.#socket === socket) this.#drop(); // an answer nobody asked for: the stream is out of step
    });
    socket.on('data', (chunk: Buffer) => decoder.write(chunk));
    socket.on('error', () => {
      // 'close' follows and says the rest.
    });
    socket.on('close', () => {
      if (this.#socket !== socket) return;
      this.#socket = undefined;
      this.#options.onConnected?.(false);
      this.#waiter?.(new MllpSendError('network', 'the connection closed before the acknowledgment'));
    });
    this.#socket = socket;
    this.#options.onConnected?.(true);
  }

  #drop(reason?: Error): void {
    const socket = this.#socket;
    if (!socket) return;
    this.#socket = undefined;
    socket.destroy();
    this.#options.onConnected?.(false);
    if (reason) this.#waiter?.(reason);
  }
}

function tlsOptions(tls: MllpClientTls): ConnectionOptions {
  return {
    ...(tls.ca !== undefined && { ca: tls.ca }),
    ...(tls.cert !== undefined && { cert: tls.cert }),
    ...(tls.key !== undefined && { key: tls.key }),
    ...(tls.servername !== undefined && { servername: tls.servername }),
    rejectUnauthorized: true,
  };
}

/** The ACK for `controlId`, or why the answer is not one. */
export function readAck(text: string, controlId: string): Ack | string {
  const parsed = parseHl7(text);
  if ('code' in parsed) return `the answer is not HL7: ${parsed.message}`;
  const msa = parsed.segments.find((s) => s.id === 'MSA');
  if (!msa) return 'the answer has no MSA segment';
  const code = value(parsed, msa, 1);
  if (!ACK_CODES.has(code)) return `the answer's MSA-1 '${code.slice(0, 8)}' is not an acknowledgment code`;
  const answered = value(parsed, msa, 2);
  if (answered !== controlId) return `the answer acknowledges another message (MSA-2 '${answered.slice(0, 40)}')`;
  const err = parsed.segments.find((s) => s.id === 'ERR');
  const text8 = err ? value(parsed, err, 8) : '';
  return { code: code as AckCode, controlId: answered, text: text8 || value(parsed, msa, 3) };
}
