// One MLLP connection: frames in, ACKs out, in the order the messages came.
// A sender may pipeline messages without waiting for each ACK; each is
// processed as it arrives (so a whole burst shares one group commit), and the
// ACKs are written strictly in arrival order, as original-mode senders match
// them. Too many unanswered messages pause reading (back-pressure on TCP).
// A connection must complete its first message within a short time (a slot
// held by a silent socket is a slot a monitor cannot have), and once the
// socket closes nothing more of it is read or handled.
import type { Socket } from 'node:net';
import type { Logger } from '../log.js';
import { MllpDecoder, mllpFrame, type MllpFault, type MllpFrame } from './mllp.js';
import type { Answer } from './oruHandler.js';

/** What answers each message of a connection: the PCD-01 handler, the alarm manager's status handler. */
export interface MessageHandler {
  handle(bytes: Buffer, peer: string, address: string): Promise<Answer>;
  /** A frame longer than the limit: answered from its head. */
  overlong(head: Buffer, size: number, limit: number, peer: string): Promise<Answer>;
}

export interface ConnectionDeps {
  readonly handler: MessageHandler;
  readonly maxMessageBytes: number;
  /** Closed when no message is complete this long after connecting (0: never). */
  readonly firstMessageTimeoutMs: number;
  readonly idleTimeoutMs: number;
  /** The first message did not come in time: the connection is being closed. */
  readonly onFirstMessageTimeout?: () => void;
  readonly log: Logger;
  readonly onAnswer: (answer: Answer) => void;
  readonly onFault: (fault: MllpFault) => void;
}

/** Unanswered messages per connection before reading pauses. */
const MAX_IN_FLIGHT = 256;

export class Hl7Connection {
  readonly #socket: Socket;
  readonly #deps: ConnectionDeps;
  readonly #peer: string;
  readonly #address: string;
  readonly #replies: Array<{ bytes?: Buffer }> = [];
  #paused = false;
  #ended = false;
  #heard = false;
  #firstTimer: NodeJS.Timeout | undefined;
  #decoder: MllpDecoder | undefined;
  readonly closed: Promise<void>;

  constructor(socket: Socket, deps: ConnectionDeps) {
    this.#socket = socket;
    this.#deps = deps;
    this.#address = (socket.remoteAddress ?? '').replace(/^::ffff:/, '');
    this.#peer = `${socket.remoteAddress}:${socket.remotePort}`;
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.#stop();
        resolve();
      }),
    );
  }

  get peer(): string {
    return this.#peer;
  }

  /** The peer's address (IPv4 without the mapped prefix). */
  get address(): string {
    return this.#address;
  }

  /** A complete message has arrived on it (a silent connection may give way to a new one). */
  get heard(): boolean {
    return this.#heard;
  }

  get pending(): number {
    return this.#replies.length;
  }

  start(): void {
    const socket = this.#socket;
    // ACKs are small writes made after a commit: without this each waits for Nagle.
    socket.setNoDelay(true);
    if (this.#deps.idleTimeoutMs > 0) {
      socket.setTimeout(this.#deps.idleTimeoutMs, () => {
        if (this.#replies.length === 0) socket.end();
      });
    }
    if (this.#deps.firstMessageTimeoutMs > 0) {
      // From the connect, not from the last byte: a trickle of bytes does not keep a slot.
      this.#firstTimer = setTimeout(() => {
        try {
          this.#deps.onFirstMessageTimeout?.();
        } finally {
          socket.destroy();
        }
      }, this.#deps.firstMessageTimeoutMs);
    }
    const decoder = new MllpDecoder({
      maxMessageBytes: this.#deps.maxMessageBytes,
      onFault: (fault) => this.#deps.onFault(fault),
    });
    this.#decoder = decoder;
    decoder.on('data', (frame: MllpFrame) => this.#frame(frame));
    decoder.on('error', (err) => this.#deps.log.debug({ peer: this.#peer, err: err.message }, 'hl7 decoder stopped'));
    socket.on('data', (chunk: Buffer) => {
      if (!this.#ended) decoder.write(chunk);
    });
    socket.on('end', () => {
      if (!this.#ended) decoder.end();
    });
    socket.on('error', (err) => this.#deps.log.debug({ peer: this.#peer, err: err.message }, 'hl7 connection error'));
  }

  /** Closes at once, answering nothing (a silent connection evicted for a new one). */
  evict(): void {
    this.#socket.destroy();
  }

  /** Ends the connection once every message received has been answered. */
  async drain(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.#replies.length && Date.now() < deadline && !this.#socket.destroyed)
      await new Promise((r) => setTimeout(r, 10));
    this.#socket.end();
    const timer = setTimeout(() => this.#socket.destroy(), 500);
    await this.closed;
    clearTimeout(timer);
  }

  /** The socket closed: what it had not yet delivered is dropped, and no frame of it is handled any more. */
  #stop(): void {
    this.#ended = true;
    clearTimeout(this.#firstTimer);
    this.#decoder?.destroy();
    this.#replies.length = 0;
  }

  #frame(frame: MllpFrame): void {
    if (this.#ended) return;
    this.#heard = true;
    clearTimeout(this.#firstTimer);
    const slot: { bytes?: Buffer } = {};
    this.#replies.push(slot);
    if (this.#replies.length >= MAX_IN_FLIGHT && !this.#paused) {
      this.#paused = true;
      this.#socket.pause();
    }
    this.#answer(frame).then(
      (answer) => {
        // An empty answer sends nothing (an acknowledgment received is not acknowledged), but keeps its turn.
        slot.bytes = answer.ack ? mllpFrame(answer.ack) : Buffer.alloc(0);
        this.#flush();
        try {
          this.#deps.onAnswer(answer);
        } catch {
          // Counting and logging must not stop the connection.
        }
      },
      (err: Error) => {
        // The handler answers every failure itself; reaching here means even that failed. No ACK: the sender retries.
        this.#deps.log.error({ peer: this.#peer, err: err.name }, 'hl7 message handling failed');
        this.#socket.destroy();
      },
    );
  }

  /** The handler's answer; a synchronous throw becomes a rejection rather than escaping into the socket's event. */
  async #answer(frame: MllpFrame): Promise<Answer> {
    if (frame.kind === 'message') return this.#deps.handler.handle(frame.message, this.#peer, this.#address);
    return this.#deps.handler.overlong(frame.head, frame.size, this.#deps.maxMessageBytes, this.#peer);
  }

  #flush(): void {
    if (this.#ended) return;
    while (this.#replies.length && this.#replies[0].bytes) {
      const { bytes } = this.#replies.shift()!;
      if (!this.#socket.destroyed) this.#socket.write(bytes!);
    }
    if (this.#paused && this.#replies.length < MAX_IN_FLIGHT / 2) {
      this.#paused = false;
      this.#socket.resume();
    }
  }
}
