// The HL7 acknowledgment (original mode, HL7 v2.6 section 2.9): MSH, MSA with
// the acknowledgment code and the control id of the message answered
// (MSA-2 = its MSH-10), and an ERR segment saying why when it is not AA.
//   AA  accepted: the readings are committed (or were already).
//   AE  error in the content (a unit, a value, a time): resending the same
//       message will not help; the reason says what to fix.
//   AR  rejected: not a message this receiver takes (type, version, sender),
//       or it could not be stored now; the sender may retry later.
// One ERR segment per problem (HL7 v2.5+ allows it repeated): ERR-2 the
// location (segment, its position, field), ERR-3 the table 0357 code, ERR-4
// the severity (table 0516: E error, W warning, I information), ERR-5 the
// wardgate code, ERR-8 the text. An AA may carry W rows (a row refused while
// the rest was stored) and I rows (demo data not stored as patient data).
import type { ErrorCode } from '../../shared/errors.js';
import { formatDtm } from './dtm.js';
import { DEFAULT_ENCODING, escape } from './message.js';

export type AckCode = 'AA' | 'AE' | 'AR';

export interface AckError {
  readonly code: ErrorCode;
  readonly message: string;
  /** HL7 table 0357 message error condition code (e.g. 103 table value not found, 207 application internal error). */
  readonly hl7Code: number;
  /** ERR-2 error location: segment id, its position in the message, the field. */
  readonly where?: { readonly segment: string; readonly position: number; readonly field: number };
  /** ERR-4 (HL7 table 0516); E when absent. */
  readonly severity?: 'E' | 'W' | 'I';
}

export interface AckInput {
  readonly code: AckCode;
  /** MSH-10 of the message answered ('' when it could not be read). */
  readonly controlId: string;
  /** The sender's MSH-3 / MSH-4 (our MSH-5 / MSH-6): each HD's components, decoded. */
  readonly sendingApplication?: readonly string[];
  readonly sendingFacility?: readonly string[];
  readonly version?: string;
  readonly processingId?: string;
  readonly error?: AckError;
  /** More ERR segments after `error` (rows refused, information). */
  readonly errors?: readonly AckError[];
  /** Our own names, MSH-3 / MSH-4 of the ACK. */
  readonly gatewayId: string;
  readonly ward: string;
  readonly ackControlId: string;
  readonly now: number;
  /** MSH-9.2 of the ACK: the trigger event of the message answered; R01 when absent. */
  readonly trigger?: string;
}

const HL7_CODE_TEXT: ReadonlyMap<number, string> = new Map([
  [0, 'Message accepted'],
  [100, 'Segment sequence error'],
  [101, 'Required field missing'],
  [102, 'Data type error'],
  [103, 'Table value not found'],
  [200, 'Unsupported message type'],
  [201, 'Unsupported event code'],
  [203, 'Unsupported version id'],
  [205, 'Duplicate key identifier'],
  [207, 'Application internal error'],
]);

/** An HD field in our encoding: its components escaped and joined. */
const hd = (parts: readonly string[] = []) => parts.map((p) => escape(p, DEFAULT_ENCODING)).join('^');

/** The ACK message text (segments joined with CR), ready to be framed. */
export function buildAck(input: AckInput): string {
  const e = (text: string) => escape(text, DEFAULT_ENCODING);
  const msh = [
    'MSH',
    '^~\\&',
    e(input.gatewayId),
    e(input.ward),
    hd(input.sendingApplication),
    hd(input.sendingFacility),
    formatDtm(input.now),
    '',
    `ACK^${e(input.trigger ?? 'R01')}^ACK`,
    e(input.ackControlId),
    e(input.processingId || 'P'),
    e(input.version || '2.6'),
  ].join('|');
  const { error } = input;
  const errors = [...(error ? [error] : []), ...(input.errors ?? [])];
  // MSA-3 (text message) only says why a message was not accepted; rows refused under AA are in ERR.
  const msa = ['MSA', input.code, e(input.controlId), ...(error && input.code !== 'AA' ? [e(error.message)] : [])].join(
    '|',
  );
  const segments = [msh, msa];
  for (const err of errors) {
    const where = err.where ? `${err.where.segment}^${err.where.position}^${err.where.field}` : '';
    segments.push(
      [
        'ERR',
        '',
        where,
        `${err.hl7Code}^${HL7_CODE_TEXT.get(err.hl7Code) ?? ''}^HL70357`,
        err.severity ?? 'E',
        `${err.code}^^WARDGATE`,
        '',
        '',
        e(err.message),
      ].join('|'),
    );
  }
  return `${segments.join('\r')}\r`;
}
