// What a handler answers one MLLP message with: the ACK text and, when the
// message was not accepted, why (for the listener's counts and logs). The
// ACK goes back to whoever sent the message (its MSH-3/MSH-4 become our
// MSH-5/MSH-6) in its version and processing mode, and names it by its
// MSH-10; a message that did not parse is answered with those left empty.
import type { Rejection } from '../../shared/errors.js';
import { reject } from '../../shared/errors.js';
import { buildAck, type AckCode, type AckError, type AckInput } from './ack.js';
import { value, type Hl7Message } from './message.js';

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
    sendingApplication: value(msg, msh, 3),
    sendingFacility: value(msg, msh, 4),
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

/** The answer to `msg` (undefined: it did not parse); a rejection beside any code but AA that carries an error. */
export function acknowledge(
  msg: Hl7Message | undefined,
  code: AckCode,
  us: Acknowledger,
  error?: AckError,
  errors?: readonly AckError[],
): Answer {
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

/** A handler's failure as it may be logged: its name and the first `frames` places it went through, never its text (it may quote the message, the patient's identifiers). */
export function failureOf(err: unknown, frames: number): { name: string; at?: string[] } {
  if (!(err instanceof Error)) return { name: typeof err };
  const at = err.stack
    ?.split('\n')
    .slice(1, 1 + frames)
    .map((l) => l.trim());
  return { name: err.name, ...(at && { at }) };
}
