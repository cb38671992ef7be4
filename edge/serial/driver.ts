// The contract every serial device driver obeys: one complete line in (the
// framer has cut it), one decoded line out. Drivers are pure functions of the
// line and never throw; the port reader maps their output to the ingest
// pipeline (seq, validation, commit, dead letters) the same way for all.
import type { Transform } from 'node:stream';
import type { ObservationEntry, SensorState } from '../../shared/reading.js';
import type { SerialDriverName } from '../config/schema.js';
import { LineFramer, type FramingFault } from './lineFramer.js';

export interface DecodeContext {
  /** How to read a device clock without a zone: local time, UTC, or not at all. */
  readonly deviceClock: 'local' | 'utc' | 'ignore';
}

export type DecodedLine =
  /** Values from a vendor format. deviceTs where the line carries the device's own time. */
  | {
      readonly kind: 'reading';
      readonly deviceTs?: number;
      readonly obs: ObservationEntry[];
      /** The sensor state the line reports, where the format has one. */
      readonly sensor?: SensorState;
      /** Named exception flags in force (for the log on change; never values). */
      readonly exceptions?: readonly string[];
      /** A nurse marked an event on the device (Nonin '*'). */
      readonly event?: boolean;
    }
  /** A whole observation message in the MQTT JSON form (jsonl). */
  | { readonly kind: 'message'; readonly payload: Buffer }
  /** Text the device prints that carries no values (a power-up banner): skipped. */
  | { readonly kind: 'header' }
  /** Not a line of this format: counted, skipped, dead-lettered. */
  | { readonly kind: 'garbage'; readonly reason: string };

export interface SerialDriver {
  readonly name: SerialDriverName;
  /** Whether bytes >= 0x80 are junk on this port (vendor ASCII formats) or may be UTF-8 (JSON). */
  readonly asciiOnly: boolean;
  /** The framer of a binary format (bytes in, one Buffer per record out); absent: lines. */
  readonly framer?: (onFault: (fault: FramingFault, bytes: number) => void) => Transform;
  decode(line: string, context: DecodeContext): DecodedLine;
}

/** The framer a port of this driver reads through: the driver's own, or lines. */
export function framerFor(
  driver: SerialDriver,
  maxLineBytes: number,
  onFault: (fault: FramingFault, bytes: number) => void,
): Transform {
  return driver.framer
    ? driver.framer(onFault)
    : new LineFramer({ maxLineBytes, asciiOnly: driver.asciiOnly, onFault });
}

/** "---", "--", "--.-": the vendors' way of saying "no value" (DOMAIN.md section 6). */
export function isAbsentText(text: string): boolean {
  return /^-+(\.-+)?$/.test(text);
}

/** A device's wall-clock time as epoch ms, or undefined when it is not a real date/time. */
export function deviceTime(
  parts: { year: number; month: number; day: number; hour: number; minute: number; second: number },
  clock: DecodeContext['deviceClock'],
): number | undefined {
  if (clock === 'ignore') return undefined;
  const { year, month, day, hour, minute, second } = parts;
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 59) return undefined;
  const date =
    clock === 'utc'
      ? new Date(Date.UTC(year, month - 1, day, hour, minute, second))
      : new Date(year, month - 1, day, hour, minute, second);
  // 02/30 rolls over into March: not a date the device could have meant.
  const day2 = clock === 'utc' ? date.getUTCDate() : date.getDate();
  return day2 === day ? date.getTime() : undefined;
}
