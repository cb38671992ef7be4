// One MLLP connection: frames in, ACKs out, in the order the messages came.
// A sender may pipeline messages without waiting for each ACK; each is
// processed as it arrives (so a whole burst shares one group commit), and the
// ACKs are written strictly in arrival order, as original-mode senders match
// them. Too many unanswered messages pause reading (back-pressure on TCP).
import type { Socket } from 'node:net';
import type { Logger } from '../log.js';
import { MllpDecoder, mllpFrame, type MllpFault, type MllpFrame } from './mllp.js';
import type { Answer, OruHandler } from './oruHandler.js';

export interface ConnectionDeps {
  readonly handler: OruHandler;
  readonly maxMessageBytes: number;
  readonly idleTimeoutMs: number;
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
  readonly #replies: Array<{ bytes?: Buffer }> = [];
  #paused = false;
  readonly closed: Promise<void>;

  constructor(socket: Socket, deps: ConnectionDeps) {
    this.#socket = socket;
    this.#deps = deps;
    this.#peer = `${socket.remoteAddress}:${socket.remotePort}`;
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
  }

  get peer(): string {
    return this.#peer;
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
    const decoder = new MllpDecoder({ maxMessageBytes: this.#deps.maxMessageBytes, onFault: (fault) => this.#deps.onFault(fault) });
    decoder.on('data', (frame: MllpFrame) => this.#frame(frame));
    socket.on('data', (chunk: Buffer) => decoder.write(chunk));
    socket.on('end', () => decoder.end());
    socket.on('error', (err) => this.#deps.log.debug({ peer: this.#peer, err: err.message }, 'hl7 connection error'));
  }

  /** Ends the connection once every message received has been answered. */
  async drain(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.#replies.length && Date.now() < deadline && !this.#socket.destroyed) await new Promise((r) => setTimeout(r, 10));
    this.#socket.end();
    const timer = setTimeout(() => this.#socket.destroy(), 500);
    await this.closed;
    clearTimeout(timer);
  }

  #frame(frame: MllpFrame): void {
    const slot: { bytes?: Buffer } = {};
    this.#replies.push(slot);
    if (this.#replies.length >= MAX_IN_FLIGHT && !this.#paused) {
      this.#paused = true;
      this.#socket.pause();
    }
    const answered =
      frame.kind === 'message'
        ? this.#deps.handler.handle(frame.message, this.#peer)
        : this.#deps.handler.overlong(frame.head, frame.size, this.#deps.maxMessageBytes, this.#peer);
    answered.then(
      (answer) => {
        this.#deps.onAnswer(answer);
        slot.bytes = mllpFrame(answer.ack);
        this.#flush();
      },
      (err: Error) => {
        // The handler answers every failure itself; reaching here is a bug. No ACK: the sender retries.
        this.#deps.log.error({ peer: this.#peer, err }, 'hl7 message handling failed');
        this.#socket.destroy();
      },
    );
  }

  #flush(): void {
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
