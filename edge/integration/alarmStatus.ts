// What the alarm manager says back about an alarm (IHE PCD-05 Report Alarm
// Status, ORA^R41^ORA_R41, from the Alarm Manager to the Alarm Reporter):
// the alarm it is about (OBR-3, the filler order number we sent in PCD-04,
// else MSA-2, the control id of our PCD-04), and per recipient a PRT
// (participation, HL7 v2.7) with the dissemination status in PRT-3 (action
// reason: received, delivered, read, accepted, rejected, cancelled...), the
// person in PRT-5, their location in PRT-9 and their device in PRT-10.
// Alarm managers word the status themselves; it is matched by its words.
// A plain ACK (MSA-1 AA/CA, AE/CE, AR/CR) only says the manager took or
// refused one of our messages.
import { reject, type Rejection } from '../../shared/errors.js';
import { parseDtm } from '../hl7/dtm.js';
import { parseHl7, value, type Hl7Message, type Segment } from '../hl7/message.js';

export const disseminationStatuses = [
  'received',
  'delivered',
  'read',
  'accepted',
  'rejected',
  'cancelled',
  'undeliverable',
  'other',
] as const;
export type DisseminationStatus = (typeof disseminationStatuses)[number];

export interface Recipient {
  readonly status: DisseminationStatus;
  /** PRT-3 as the manager wrote it. */
  readonly text: string;
  /** PRT-5: XCN id, and the name as "given family" when given. */
  readonly personId: string;
  readonly personName: string;
  /** PRT-9: the recipient's location (point of care, room, bed as sent, joined with spaces). */
  readonly location: string;
  /** PRT-10: the recipient's device (EI entity id). */
  readonly device: string;
  /** PRT-11, when readable. */
  readonly at: number | undefined;
}

export interface AlarmStatusReport {
  readonly kind: 'status';
  /** MSH-10 of the manager's message (what our ACK answers). */
  readonly controlId: string;
  /** MSH-3 of the manager's message. */
  readonly manager: string;
  /** OBR-3 (else OBR-2) entity id: the alarm id we sent. */
  readonly alarmId: string;
  /** MSA-2 when present: the control id of the PCD-04 it answers. */
  readonly answers: string;
  readonly recipients: readonly Recipient[];
}

export interface AckReport {
  readonly kind: 'ack';
  readonly controlId: string;
  readonly manager: string;
  readonly code: string;
  readonly answers: string;
  readonly text: string;
}

/** Reads a PCD-05 or an ACK from the alarm manager, or says why it is neither. */
export function readAlarmStatus(text: string): AlarmStatusReport | AckReport | Rejection {
  const parsed = parseHl7(text);
  if ('code' in parsed) return parsed;
  const msg = parsed;
  const msh = msg.segments[0];
  const type = value(msg, msh, 9, 1);
  const trigger = value(msg, msh, 9, 2);
  const controlId = value(msg, msh, 10);
  const manager = value(msg, msh, 3);
  const msa = first(msg, 'MSA');
  const answers = value(msg, msa, 2);
  if (type === 'ACK') {
    if (!msa) return reject('WG_ERR_HL7_FORMAT', 'an ACK must carry an MSA segment', 'MSA');
    return { kind: 'ack', controlId, manager, code: value(msg, msa, 1), answers, text: value(msg, msa, 3) };
  }
  if (type !== 'ORA' || trigger !== 'R41') {
    return reject(
      'WG_ERR_HL7_UNSUPPORTED',
      `expected ORA^R41 (IHE PCD-05) or ACK from the alarm manager, got ${type}^${trigger}`,
      'MSH-9',
    );
  }
  const obr = first(msg, 'OBR');
  const alarmId = value(msg, obr, 3) || value(msg, obr, 2);
  if (!alarmId && !answers)
    return reject('WG_ERR_SCHEMA', 'PCD-05 names no alarm: OBR-3 (filler order number) and MSA-2 are empty', 'OBR-3');
  const recipients = msg.segments.filter((s) => s.id === 'PRT').map((prt) => recipient(msg, prt));
  if (recipients.length === 0)
    return reject('WG_ERR_SCHEMA', 'PCD-05 carries no PRT segment with a status (PRT-3)', 'PRT');
  return { kind: 'status', controlId, manager, alarmId, answers, recipients };
}

function first(msg: Hl7Message, id: string): Segment | undefined {
  return msg.segments.find((s) => s.id === id);
}

function recipient(msg: Hl7Message, prt: Segment): Recipient {
  // CWE: the code, else its text (managers send either).
  const text = value(msg, prt, 3, 1) || value(msg, prt, 3, 2);
  const given = value(msg, prt, 5, 3);
  const family = value(msg, prt, 5, 2);
  const location = [1, 2, 3]
    .map((c) => value(msg, prt, 9, c))
    .filter(Boolean)
    .join(' ');
  return {
    status: statusOf(text),
    text,
    personId: value(msg, prt, 5, 1),
    personName: [given, family].filter(Boolean).join(' '),
    location,
    device: value(msg, prt, 10, 1),
    at: parseDtm(value(msg, prt, 11)),
  };
}

/** The status a manager's words mean; "not delivered" is not "delivered". */
export function statusOf(text: string): DisseminationStatus {
  const t = text.toLowerCase();
  if (/undeliver|not[ _-]?deliver|fail/.test(t)) return 'undeliverable';
  if (/accept/.test(t)) return 'accepted';
  if (/reject|declin/.test(t)) return 'rejected';
  if (/cancel/.test(t)) return 'cancelled';
  if (/\bread\b|viewed/.test(t)) return 'read';
  if (/deliver/.test(t)) return 'delivered';
  if (/receiv/.test(t)) return 'received';
  return 'other';
}

/** Who accepted, as the ward sees it: the name, else the id the manager gave, else the manager. */
export function acceptedBy(recipient: Recipient, manager: string): string {
  return recipient.personName || recipient.personId || manager || 'alarm manager';
}
