// Framing for Nonin's binary serial data formats (OEM III, Xpod, WristOx
// 3150, Onyx 9560): bytes in, whole records out. The stream has no line ends
// and no escape bytes, so a record is found by the shape its bytes must have,
// and a byte that cannot start one is junk: dropped, counted, and the search
// goes on from the next byte. A record split across chunks is joined; a
// packet that loses a frame is dropped whole, never spliced with the next.
//
// - #1: 3 bytes once a second: STATUS (bit 7 set), HR, SpO2 (bit 7 clear).
// - #8: 4 bytes once a second: #1 plus STATUS2 (bit 7 clear).
//   Neither has a checksum: bit 7 is the only sync.
// - #2: frames of 5 bytes, 01, STATUS (bit 7 set), PLETH, DATA (<= 0x7F),
//   CHK = (sum of the first four) mod 256.
// - #7: frames of 5 bytes, STATUS (bit 7 set), PLETH MSB, PLETH LSB, DATA
//   (<= 0x7F), CHK likewise.
//   In #2 and #7, 25 frames make a packet, the first with STATUS bit 0 (SYNC)
//   set and no other; 3 packets a second. Each packet repeats the numerics, so
//   one packet in three is passed on: one reading a second, as the other
//   oximeter formats give.
import { Transform, type TransformCallback } from 'node:stream';
import type { FramingFault } from './lineFramer.js';

export type NoninFormat = 1 | 2 | 7 | 8;

interface Layout {
  readonly frameBytes: number;
  /** Frames per packet: 1 for the once-a-second records. */
  readonly frames: number;
  valid(b: Buffer, at: number): boolean;
  /** The first frame of a packet. */
  sync(b: Buffer, at: number): boolean;
}

const checksum = (b: Buffer, at: number) => ((b[at] + b[at + 1] + b[at + 2] + b[at + 3]) & 0xff) === b[at + 4];
const high = (byte: number) => (byte & 0x80) !== 0;

const layouts: Readonly<Record<NoninFormat, Layout>> = {
  1: { frameBytes: 3, frames: 1, valid: (b, i) => high(b[i]) && !high(b[i + 1]) && !high(b[i + 2]), sync: () => true },
  8: {
    frameBytes: 4,
    frames: 1,
    valid: (b, i) => high(b[i]) && !high(b[i + 1]) && !high(b[i + 2]) && !high(b[i + 3]),
    sync: () => true,
  },
  2: {
    frameBytes: 5,
    frames: 25,
    valid: (b, i) => b[i] === 0x01 && high(b[i + 1]) && !high(b[i + 3]) && checksum(b, i),
    sync: (b, i) => (b[i + 1] & 0x01) === 1,
  },
  7: {
    frameBytes: 5,
    frames: 25,
    valid: (b, i) => high(b[i]) && !high(b[i + 3]) && checksum(b, i),
    sync: (b, i) => (b[i] & 0x01) === 1,
  },
};

/** The bytes of one record as the framer passes it on: a #1 or #8 record, a #2 or #7 packet. */
export function recordBytes(format: NoninFormat): number {
  return layouts[format].frameBytes * layouts[format].frames;
}

/** Packets a second in #2 and #7; one of them is passed on. */
const PACKETS_PER_READING = 3;

export interface NoninFramerOptions {
  readonly format: NoninFormat;
  readonly onFault?: (fault: FramingFault, bytes: number) => void;
}

export class NoninFramer extends Transform {
  readonly #layout: Layout;
  readonly #onFault: (fault: FramingFault, bytes: number) => void;
  #pending: Buffer = Buffer.alloc(0);
  /** Frames of the packet being gathered (none: waiting for a SYNC frame). */
  #packet: Buffer[] = [];
  #packets = 0;

  constructor(options: NoninFramerOptions) {
    super({ readableObjectMode: true });
    this.#layout = layouts[options.format];
    this.#onFault = options.onFault ?? (() => {});
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    const b = this.#pending.length ? Buffer.concat([this.#pending, chunk]) : chunk;
    const { frameBytes } = this.#layout;
    let at = 0;
    let junk = 0;
    while (b.length - at >= frameBytes) {
      if (!this.#layout.valid(b, at)) {
        // A byte that starts no frame: in a packet, the packet is lost with it.
        junk += 1 + this.#dropPacket();
        at++;
        continue;
      }
      junk += this.#frame(b.subarray(at, at + frameBytes), b, at);
      at += frameBytes;
    }
    this.#pending = Buffer.from(b.subarray(at));
    if (junk) this.#fault('junk', junk);
    callback();
  }

  override _flush(callback: TransformCallback): void {
    const partial = this.#pending.length + this.#dropPacket();
    if (partial) this.#fault('partial', partial);
    this.#pending = Buffer.alloc(0);
    callback();
  }

  /** Takes a valid frame; returns the bytes it costs as junk (a frame outside any packet). */
  #frame(frame: Buffer, b: Buffer, at: number): number {
    const { frames, frameBytes } = this.#layout;
    if (frames === 1) {
      this.push(Buffer.from(frame));
      return 0;
    }
    let lost = 0;
    if (this.#layout.sync(b, at)) lost = this.#dropPacket();
    else if (this.#packet.length === 0) return frameBytes;
    this.#packet.push(Buffer.from(frame));
    if (this.#packet.length === frames) {
      if (this.#packets++ % PACKETS_PER_READING === 0) this.push(Buffer.concat(this.#packet));
      this.#packet = [];
    }
    return lost;
  }

  /** Drops a packet being gathered; returns its bytes. */
  #dropPacket(): number {
    const bytes = this.#packet.length * this.#layout.frameBytes;
    this.#packet = [];
    return bytes;
  }

  #fault(fault: FramingFault, bytes: number): void {
    try {
      this.#onFault(fault, bytes);
    } catch {
      // A failing counter must not stop the stream of readings.
    }
  }
}
