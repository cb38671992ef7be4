// Sequence numbers for messages that carry none: serial lines and HL7 OBX
// groups. The store deduplicates on (device, seq), so a derived seq must come
// out the same whenever the same reading is presented again (a line replayed
// after a reconnect, an HL7 message retransmitted because its ACK was lost)
// and differ for different readings, across gateway restarts too.
//
// Layout: whole seconds since the epoch times 2^20, plus 20 low bits. This
// stays below 2^53 (a safe JSON integer) until the year 2242 and keeps seqs
// increasing with time, as the MQTT contract has them.
import { hash } from 'node:crypto';

const LOW_BITS = 20;
const SPAN = 2 ** LOW_BITS;

/**
 * For content with its own time (a device timestamp, OBX-14/OBR-7): the
 * second, plus 20 bits of a SHA-256 of the content. Identical content at the
 * same time gives the same seq (a repeat, stored once). Different content in
 * the same second can collide (a burst of hundreds of messages a second makes
 * it likely): the store then probes the next numbers (IngestStore), and a
 * retransmission follows the same path to its own row.
 */
export function contentSeq(timeMs: number, content: Buffer | string): number {
  const low = hash('sha256', content, 'buffer').readUInt32BE(0) >>> (32 - LOW_BITS);
  return Math.floor(Math.max(0, timeMs) / 1000) * SPAN + low;
}

/**
 * For content without a time of its own (Nonin lines): the arrival second,
 * made strictly increasing. Nothing replays such lines, so what matters is
 * that a restart never reuses a number: the series resumes above the last seq
 * stored for the device, even if the gateway clock stepped back.
 */
export class ArrivalSeq {
  #last: number;

  constructor(lastStored = -1) {
    this.#last = lastStored;
  }

  next(receivedMs: number): number {
    this.#last = Math.max(Math.floor(receivedMs / 1000) * SPAN, this.#last + 1);
    return this.#last;
  }
}

/** The second (epoch ms, floored) a derived seq was made from; for tests and diagnostics. */
export function seqSecond(seq: number): number {
  return Math.floor(seq / SPAN) * 1000;
}
