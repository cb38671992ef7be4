// What a handler answers one MLLP message with: the ACK text and, when the
// message was not accepted, why (for the listener's counts and logs). The
// ACK goes back to whoever sent the message (its MSH-3/MSH-4 become our
// MSH-5/MSH-6) in its version and processing mode, and names it by its
// MSH-10 (MSA-2). A message that did not parse is answered from its MSH
// segment read alone, so that even a refusal names the message it refuses
// and goes back to its sender; where not even that segment can be read
// (no MSH, or no delimiters in MSH-1 and MSH-2), those are left empty.
import type { Rejection } from '../../shared/errors.js';
import { reject } from '../../shared/errors.js';
import { isRejection } from '../../shared/timestamp.js';
import { buildAck, type AckCode, type AckError, type AckInput } from './ack.js';
import { components, parseHl7, value, type Hl7Message } from './message.js';

export interface Answer {
  readonly code: AckCode;
  /** The ACK message text, to be framed; empty: nothing is sent (an acknowledgment is not acknowledged). */
  readonly ack: string;
  readonly rejection?: Rejection;
}

/** The sender's names, version and processing mode, as the ACK's MSH repeats them. */
export type Addressee = Pick<AckInput, 'sendingApplication' | 'sendingFacility' | 'version' | 'processingId'>;

export function addresseeOf(msg: Hl7Message): Addressee {
  const msh = msg.segments[0];
  return {
    sendingApplication: components(msg, msh, 3),
    sendingFacility: components(msg, msh, 4),
    version: value(msg, msh, 12),
    processingId: value(msg, msh, 11),
  };
}

/** Our side of the ACK: MSH-3/MSH-4, its own control id and time, and MSH-9.2 (R01 when absent). */
export interface Acknowledger {
  readonly gatewayId: string;
  readonly ward: string;
  readonly ackControlId: string;
  readonly now: number;
  readonly trigger?: string;
}

/**
 * The answer to `received`: the message, or its text when it did not parse,
 * or undefined when not even the text may be read again (a handler's own
 * failure); a rejection beside any code but AA that carries an error.
 */
export function acknowledge(
  received: Hl7Message | string | undefined,
  code: AckCode,
  us: Acknowledger,
  error?: AckError,
  errors?: readonly AckError[],
): Answer {
  const msg = typeof received === 'string' ? headerOf(received) : received;
  const ack = buildAck({
    code,
    controlId: msg ? value(msg, msg.segments[0], 10) : '',
    ...(msg && addresseeOf(msg)),
    ...(error && { error }),
    ...(errors?.length && { errors }),
    ...us,
  });
  return { code, ack, ...(error && code !== 'AA' && { rejection: reject(error.code, error.message) }) };
}

/** The MSH segment of a text that did not parse as a whole, as a message of its own; undefined when it does not parse either. */
function headerOf(text: string): Hl7Message | undefined {
  const header = parseHl7(text.split(/\r|\n/, 1)[0]);
  return isRejection(header) ? undefined : header;
}

/** A handler's failure as it may be logged: its name and the first `frames` places it went through, never its text (it may quote the message, the patient's identifiers). */
export function failureOf(err: unknown, frames: number): { name: string; at?: string[] } {
  if (!(err instanceof Error)) return { name: typeof err };
  const at = err.stack
    ?.split('\n')
    .slice(1, 1 + frames)
    .map((l) => l.trim());
  return { name: err.name, ...(at && { at }) };
}
