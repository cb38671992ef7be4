// A real MLLP client for tests: sends framed HL7 messages over TCP to the
// gateway (loopback only) and collects the ACKs it answers with.
import { connect, type Socket } from 'node:net';
import { MllpDecoder, mllpFrame, type MllpFrame } from '../../edge/hl7/mllp.js';

interface T {
  teardown(fn: () => unknown): void;
}

export interface Ack {
  code: string;
  controlId: string;
  text: string;
  err?: string;
}

export class MllpClient {
  readonly socket: Socket;
  readonly acks: Ack[] = [];
  closed = false;
  #waiters: Array<() => void> = [];

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.setNoDelay(true);
    const decoder = new MllpDecoder({ maxMessageBytes: 1 << 20 });
    decoder.on('data', (f: MllpFrame) => {
      if (f.kind !== 'message') return;
      const text = f.message.toString();
      const segs = text.split('\r');
      const msa = (segs.find((s) => s.startsWith('MSA|')) ?? '').split('|');
      const err = segs.find((s) => s.startsWith('ERR|'));
      this.acks.push({ code: msa[1] ?? '', controlId: msa[2] ?? '', text, ...(err && { err }) });
      this.#wake();
    });
    socket.on('data', (c) => decoder.write(c));
    socket.on('close', () => {
      this.closed = true;
      this.#wake();
    });
    socket.on('error', () => {});
  }

  /** `localAddress`: another loopback address (127.0.0.2...) to appear as a second host. */
  static connect(t: T, port: number, localAddress?: string): Promise<MllpClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port, ...(localAddress && { localAddress }) }, () =>
        resolve(new MllpClient(socket)),
      );
      socket.once('error', reject);
      t.teardown(() => socket.destroy());
    });
  }

  send(message: string): void {
    this.socket.write(mllpFrame(message));
  }

  write(bytes: Buffer | string): void {
    this.socket.write(bytes);
  }

  /** Resolves when `n` ACKs have arrived in all, or rejects after `ms` (or when the connection closes short). */
  async waitForAcks(n: number, ms = 15_000): Promise<Ack[]> {
    const deadline = Date.now() + ms;
    while (this.acks.length < n) {
      if (this.closed) throw new Error(`connection closed after ${this.acks.length} of ${n} ACKs`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out with ${this.acks.length} of ${n} ACKs`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 200));
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.acks.slice(0, n);
  }

  end(): void {
    this.socket.end();
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }
}
