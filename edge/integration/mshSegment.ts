// The MSH segment of the messages wardgate sends to the hospital (PCD-01
// ORU^R01 to the EHR, PCD-04 ORU^R40 to the alarm manager): HL7 v2.6, UTF-8,
// original mode acknowledgements (AL, NE), and the IHE profile in MSH-21.
import { formatDtm } from '../hl7/dtm.js';
import { DEFAULT_ENCODING, escape } from '../hl7/message.js';

/** MSH-3 to MSH-6 and MSH-11, as the site configured the link. */
export interface MessageHeader {
  readonly sendingApplication: string;
  readonly sendingFacility: string;
  readonly receivingApplication: string;
  readonly receivingFacility: string;
  /** MSH-11: P production, T training, D debugging. */
  readonly processingId: 'P' | 'T' | 'D';
}

/** The MSH segment (without its CR) of a message of `messageType` (MSH-9) sent at `now`. */
export function mshSegment(
  header: MessageHeader,
  messageType: string,
  controlId: string,
  now: number,
  profile: string,
): string {
  const e = (text: string) => escape(text, DEFAULT_ENCODING);
  return [
    'MSH',
    '^~\\&',
    e(header.sendingApplication),
    e(header.sendingFacility),
    e(header.receivingApplication),
    e(header.receivingFacility),
    formatDtm(now),
    '',
    messageType,
    e(controlId),
    header.processingId,
    '2.6',
    '',
    '',
    'AL',
    'NE',
    '',
    'UNICODE UTF-8',
    '',
    '',
    profile,
  ].join('|');
}
