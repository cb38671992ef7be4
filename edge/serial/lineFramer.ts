// Framing for line-oriented serial devices: bytes in, complete lines out.
// A serial line carries whatever the cable picks up: noise while a plug is
// seated, the tail of a line the device was halfway through when the port
// opened, a burst of binary from a device at the wrong baud rate. The framer
// never throws; it reports each fault and resynchronizes on the next line.
//
// Lines end with CR, LF or CR LF (Masimo and Nonin send CR LF). A control or
// non-ASCII byte inside a line means the line is damaged: what came before it
// is dropped, and the line restarts after it, so junk in front of a good line
// costs nothing but the junk.
import { Transform, type TransformCallback } from 'node:stream';

export type FramingFault =
  /** Bytes that cannot belong to a line (control bytes, non-ASCII where ASCII is expected), with the partial line they damaged. */
  | 'junk'
  /** A line longer than the limit: skipped up to the next line end. */
  | 'overlong'
  /** A line cut off by the end of the stream (port closed or lost mid-line). */
  | 'partial';

export interface LineFramerOptions {
  readonly maxLineBytes: number;
  /** Vendor ASCII formats: bytes >= 0x80 are junk. Off for JSON lines, which may hold UTF-8. */
  readonly asciiOnly: boolean;
  /** Told about every fault with the number of bytes it cost. */
  readonly onFault?: (fault: FramingFault, bytes: number) => void;
}

const CR = 0x0d;
const LF = 0x0a;
const TAB = 0x09;

export class LineFramer extends Transform {
  readonly #max: number;
  readonly #asciiOnly: boolean;
  readonly #onFault: (fault: FramingFault, bytes: number) => void;
  readonly #line: Buffer;
  #length = 0;
  /** Inside an over-long line: bytes are dropped until the next line end. */
  #skipping = false;
  #skipped = 0;

  constructor(options: LineFramerOptions) {
    super({ readableObjectMode: true });
    this.#max = options.maxLineBytes;
    this.#asciiOnly = options.asciiOnly;
    this.#onFault = options.onFault ?? (() => {});
    this.#line = Buffer.alloc(options.maxLineBytes);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    let junk = 0;
    for (let i = 0; i < chunk.length; i++) {
      const byte = chunk[i];
      if (byte === CR || byte === LF) {
        this.#endLine();
        continue;
      }
      if (this.#skipping) {
        this.#skipped++;
        continue;
      }
      if ((byte < 0x20 && byte !== TAB) || byte === 0x7f || (this.#asciiOnly && byte >= 0x80)) {
        junk += 1 + this.#length;
        this.#length = 0;
        continue;
      }
      if (this.#length === this.#max) {
        this.#skipping = true;
        this.#skipped = this.#length + 1;
        this.#length = 0;
        continue;
      }
      this.#line[this.#length++] = byte;
    }
    if (junk) this.#fault('junk', junk);
    callback();
  }

  override _flush(callback: TransformCallback): void {
    if (this.#skipping) this.#fault('overlong', this.#skipped);
    else if (this.#length) this.#fault('partial', this.#length);
    this.#skipping = false;
    this.#length = 0;
    callback();
  }

  #endLine(): void {
    if (this.#skipping) {
      this.#skipping = false;
      this.#fault('overlong', this.#skipped);
      return;
    }
    if (this.#length === 0) return; // the LF of CR LF, or a blank line
    this.push(Buffer.from(this.#line.subarray(0, this.#length)));
    this.#length = 0;
  }

  #fault(fault: FramingFault, bytes: number): void {
    try {
      this.#onFault(fault, bytes);
    } catch {
      // A failing counter must not stop the stream of readings.
    }
  }
}
