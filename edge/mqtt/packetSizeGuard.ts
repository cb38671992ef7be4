// aedes has no maximum packet size, and mqtt-packet buffers a whole packet
// before anyone sees it. The meter below reads only each packet's fixed header
// (type byte + Remaining Length, [MQTT-2.2.3]) as bytes flow past, and the
// guard stops a connection whose next packet would exceed the limit before its
// body is buffered. Bytes pass through untouched.
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

/** Follows packet boundaries across arbitrary chunks of a stream. */
export class PacketSizeMeter {
  readonly #limit: number;
  /** Bytes of the current packet's body still to pass before the next fixed header. */
  #skip = 0;
  #header: number[] = [];

  constructor(limit: number) {
    this.#limit = limit;
  }

  /** Inspects the next chunk; returns the error for the first packet over the limit, if any. */
  inspect(chunk: Buffer): PacketTooLargeError | undefined {
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
      if (parsed === 'malformed') return undefined; // the broker's parser reports it
      if (parsed.remainingLength > this.#limit) {
        return new PacketTooLargeError(
          parsed.type,
          parsed.remainingLength,
          Buffer.from(chunk.subarray(Math.max(0, at - 5), at + 256)),
        );
      }
      this.#skip = parsed.remainingLength;
    }
    return undefined;
  }
}

/** Type and Remaining Length of a fixed header ([MQTT-2.2.3]: 1-4 length bytes, 7 bits each). */
export function decodeFixedHeader(
  bytes: readonly number[],
): { type: number; remainingLength: number } | 'incomplete' | 'malformed' {
  if (bytes.length < 2) return 'incomplete';
  let length = 0;
  for (let i = 1; i < bytes.length; i++) {
    length += (bytes[i] & 0x7f) * 128 ** (i - 1);
    if ((bytes[i] & 0x80) === 0) return { type: bytes[0] >> 4, remainingLength: length };
    if (i === 4) return 'malformed';
  }
  return 'incomplete';
}

/**
 * Meters every chunk aedes reads from the socket. aedes pulls bytes with
 * `conn.read()`; wrapping that one method keeps the socket itself in aedes'
 * hands (its writes, corking and back-pressure stay exactly as aedes made them).
 */
export function guardSocket(socket: Socket, limit: number, onTooLarge: (err: PacketTooLargeError) => void): Socket {
  const meter = new PacketSizeMeter(limit);
  const read = socket.read.bind(socket);
  socket.read = (size?: number) => {
    const chunk = read(size) as Buffer | null;
    if (chunk === null) return null;
    const tooLarge = meter.inspect(chunk);
    if (!tooLarge) return chunk;
    onTooLarge(tooLarge);
    socket.destroy();
    return null;
  };
  return socket;
}
