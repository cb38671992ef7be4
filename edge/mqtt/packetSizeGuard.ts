// aedes has no maximum packet size, and mqtt-packet buffers a whole packet
// before anyone sees it. This guard sits between the socket and the broker,
// reads only each packet's fixed header (type byte + Remaining Length,
// [MQTT-2.2.3]) and stops a connection whose packet would exceed the limit
// before its body is buffered. Bytes pass through untouched.
import { Duplex, Transform, type TransformCallback } from 'node:stream';
import type { Socket } from 'node:net';

export class PacketTooLargeError extends Error {
  readonly packetType: number;
  readonly remainingLength: number;
  /** The first bytes of the packet (fixed header and what followed in the same chunk). */
  readonly head: Buffer;
  constructor(packetType: number, remainingLength: number, head: Buffer) {
    super(`MQTT packet of ${remainingLength} bytes exceeds the limit`);
    this.packetType = packetType;
    this.remainingLength = remainingLength;
    this.head = head;
  }
}

export class PacketSizeGuard extends Transform {
  readonly #limit: number;
  /** Bytes of the current packet's body still to pass before the next fixed header. */
  #skip = 0;
  #header: number[] = [];

  constructor(limit: number) {
    super();
    this.#limit = limit;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    let at = 0;
    while (at < chunk.length) {
      if (this.#skip > 0) {
        const step = Math.min(this.#skip, chunk.length - at);
        this.#skip -= step;
        at += step;
        continue;
      }
      this.#header.push(chunk[at++]);
      const parsed = decodeFixedHeader(this.#header);
      if (parsed === 'incomplete') continue;
      this.#header = [];
      if (parsed === 'malformed') break; // the broker's parser reports it
      if (parsed.remainingLength > this.#limit) {
        done(new PacketTooLargeError(parsed.type, parsed.remainingLength, chunk.subarray(Math.max(0, at - 5), at + 256)));
        return;
      }
      this.#skip = parsed.remainingLength;
    }
    done(null, chunk);
  }
}

/** Type and Remaining Length of a fixed header ([MQTT-2.2.3]: 1-4 length bytes, 7 bits each). */
export function decodeFixedHeader(bytes: readonly number[]): { type: number; remainingLength: number } | 'incomplete' | 'malformed' {
  if (bytes.length < 2) return 'incomplete';
  let length = 0;
  for (let i = 1; i < bytes.length; i++) {
    length += (bytes[i] & 0x7f) * 128 ** (i - 1);
    if ((bytes[i] & 0x80) === 0) return { type: bytes[0] >> 4, remainingLength: length };
    if (i === 4) return 'malformed';
  }
  return 'incomplete';
}

/** A duplex that reads through the guard and writes straight to the socket, for aedes.handle(). */
export function guardedConnection(socket: Socket, limit: number, onTooLarge: (err: PacketTooLargeError) => void): Duplex {
  const guard = new PacketSizeGuard(limit);
  socket.on('error', (err) => guard.destroy(err));
  guard.on('error', (err) => {
    if (err instanceof PacketTooLargeError) onTooLarge(err);
    socket.destroy();
  });
  socket.pipe(guard);
  return Duplex.from({ readable: guard, writable: socket });
}
