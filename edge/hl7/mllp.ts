// MLLP framing (HL7 v2 Minimal Lower Layer Protocol, release 2): a message is
// sent as <VT 0x0B> message <FS 0x1C><CR 0x0D>, with no length and no
// checksum. The decoder turns a TCP byte stream into messages, whatever the
// packet boundaries; bytes outside a frame are junk and skipped; a frame that
// grows beyond the limit is skipped to its end, keeping only its head so that
// the sender can still be answered (MSH-10). It never throws.
import { Transform, type TransformCallback } from 'node:stream';

export const START_BLOCK = 0x0b;
export const END_BLOCK = 0x1c;
export const CARRIAGE_RETURN = 0x0d;

export type MllpFault =
  /** Bytes outside a frame. */
  | 'junk'
  /** A start block inside a frame: the unfinished frame was dropped. */
  | 'restart'
  /** The stream ended inside a frame. */
  | 'truncated';

export type MllpFrame =
  | { readonly kind: 'message'; readonly message: Buffer }
  /** A frame beyond the limit: its first `head.length` bytes and its full size. */
  | { readonly kind: 'overlong'; readonly head: Buffer; readonly size: number };

export interface MllpDecoderOptions {
  readonly maxMessageBytes: number;
  /** How much of an over-long frame is kept to answer it. */
  readonly headBytes?: number;
  readonly onFault?: (fault: MllpFault, bytes: number) => void;
}

export class MllpDecoder extends Transform {
  readonly #max: number;
  readonly #headBytes: number;
  readonly #onFault: (fault: MllpFault, bytes: number) => void;
  #parts: Buffer[] = [];
  #size = 0;
  /** Bytes held in #parts (the whole frame, or its head once it is over the limit). */
  #stored = 0;
  #inFrame = false;
  /** The previous byte was FS: a CR now ends the frame. */
  #sawEnd = false;

  constructor(options: MllpDecoderOptions) {
    super({ readableObjectMode: true });
    this.#max = options.maxMessageBytes;
    this.#headBytes = Math.min(options.headBytes ?? 4096, options.maxMessageBytes);
    this.#onFault = options.onFault ?? (() => {});
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    let at = 0;
    let junk = 0;
    while (at < chunk.length) {
      if (!this.#inFrame) {
        const start = chunk.indexOf(START_BLOCK, at);
        junk += (start < 0 ? chunk.length : start) - at;
        if (start < 0) break;
        this.#begin();
        at = start + 1;
        continue;
      }
      if (this.#sawEnd) {
        this.#sawEnd = false;
        if (chunk[at] === CARRIAGE_RETURN) {
          at++;
          this.#finish();
          continue;
        }
        // FS not followed by CR: not a frame end; FS is kept as data (it never appears in HL7 text).
        this.#append(Buffer.from([END_BLOCK]));
      }
      const stop = indexOfEither(chunk, END_BLOCK, START_BLOCK, at);
      if (stop < 0) {
        this.#append(chunk.subarray(at));
        break;
      }
      this.#append(chunk.subarray(at, stop));
      if (chunk[stop] === START_BLOCK) {
        this.#fault('restart', this.#size);
        this.#begin();
      } else {
        this.#sawEnd = true;
      }
      at = stop + 1;
    }
    if (junk) this.#fault('junk', junk);
    callback();
  }

  override _flush(callback: TransformCallback): void {
    if (this.#inFrame) this.#fault('truncated', this.#size);
    this.#inFrame = false;
    this.#parts = [];
    callback();
  }

  #begin(): void {
    this.#inFrame = true;
    this.#sawEnd = false;
    this.#parts = [];
    this.#size = 0;
    this.#stored = 0;
  }

  #append(bytes: Buffer): void {
    // Beyond the limit only the size is tracked; the head stays for the answer.
    const room = (this.#size + bytes.length <= this.#max ? this.#max : this.#headBytes) - this.#stored;
    if (room > 0) {
      const kept = bytes.length <= room ? bytes : bytes.subarray(0, room);
      this.#parts.push(kept);
      this.#stored += kept.length;
    }
    this.#size += bytes.length;
    if (this.#size > this.#max && this.#stored > this.#headBytes) {
      this.#parts = [Buffer.concat(this.#parts).subarray(0, this.#headBytes)];
      this.#stored = this.#headBytes;
    }
  }

  #finish(): void {
    this.#inFrame = false;
    const body = Buffer.concat(this.#parts);
    this.#parts = [];
    if (this.#size > this.#max) this.push({ kind: 'overlong', head: body, size: this.#size } satisfies MllpFrame);
    else this.push({ kind: 'message', message: body } satisfies MllpFrame);
  }

  #fault(fault: MllpFault, bytes: number): void {
    try {
      this.#onFault(fault, bytes);
    } catch {
      // A failing counter must not stop the stream.
    }
  }
}

function indexOfEither(chunk: Buffer, a: number, b: number, from: number): number {
  for (let i = from; i < chunk.length; i++) if (chunk[i] === a || chunk[i] === b) return i;
  return -1;
}

/** Wraps an HL7 message for sending: VT, message, FS CR. */
export function mllpFrame(message: string | Buffer): Buffer {
  const body = typeof message === 'string' ? Buffer.from(message, 'utf8') : message;
  return Buffer.concat([Buffer.from([START_BLOCK]), body, Buffer.from([END_BLOCK, CARRIAGE_RETURN])]);
}
