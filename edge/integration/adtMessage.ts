// What an HL7 v2 ADT message says, read into the few facts the ward keeps:
// the event (MSH-9 trigger, else EVN-1), when it happened (EVN-6, else EVN-2,
// else MSH-7), the patient (one PID-3 repetition, chosen by the configured
// identifier type and authority), a name to show (PID-5), where the patient is
// now (PV1-3) and, for a merge (A40), the identifier that goes away (MRG-1).
// Nothing here touches the store; nothing here is logged.
import { createHash } from 'node:crypto';
import type { AckError } from '../hl7/ack.js';
import { readDtm, type DtmZone } from '../hl7/dtm.js';
import { component, repetitions, unescape, value, type Hl7Message, type Segment } from '../hl7/message.js';
import type { AdtConfig } from './adtConfig.js';

/** The events the ward acts on (HL7 v2.5 chapter 3). */
export const ADT_EVENTS = ['A01', 'A02', 'A03', 'A04', 'A08', 'A11', 'A12', 'A13', 'A40'] as const;
export type AdtEventCode = (typeof ADT_EVENTS)[number];

export interface PatientId {
  readonly identifier: string;
  /** CX-4 assigning authority (namespace id); '' when absent. */
  readonly authority: string;
}

export interface PatientLocation {
  readonly pointOfCare: string;
  readonly room: string;
  readonly bed: string;
}

export interface AdtEvent {
  readonly event: AdtEventCode;
  readonly controlId: string;
  /** When the event happened, ms; the arrival time when the message gives none that can be read. */
  readonly eventTs: number;
  readonly patient: PatientId;
  /** PID-5, as `Family, Given Middle`; absent when PID-5 is empty. */
  readonly displayName?: string;
  /** PV1-3; absent when the message has no PV1 or an empty PV1-3. */
  readonly location?: PatientLocation;
  /** A40: the identifier merged into `patient` (MRG-1). */
  readonly prior?: PatientId;
  /** SHA-256 of what the message says (MSH-9 and every segment after MSH): a resend with a new MSH-7 is the same message. */
  readonly digest: string;
}

export type AdtReading =
  | { readonly kind: 'event'; readonly adt: AdtEvent }
  /** An ADT event the ward does not use (A05, A31...): accepted, no effect. */
  | { readonly kind: 'ignored'; readonly event: string; readonly controlId: string }
  /** Demo or training data (MSH-11 D or T): accepted, never patient data. */
  | { readonly kind: 'demo'; readonly processingId: string; readonly controlId: string }
  | { readonly kind: 'refused'; readonly error: AckError };

/** Patient ids that identify nobody (as in edge/hl7/pcd01.ts). */
const PLACEHOLDER_ID =
  /^(?:0+|[-_.?*\s]+|unknown(?:[\s_-]*patient)?|unk|n\/?a|none|null|nil|undefined|anonymous|no[\s_-]*(?:id|patient)|not[\s_-]*(?:admitted|available)|patient|temp|tbd)$/i;
const MAX_NAME = 128;

/** Reads a parsed message (MSH first) as an ADT event, or says why it cannot be used. */
export function readAdt(
  msg: Hl7Message,
  identifier: AdtConfig['identifier'],
  receivedTs: number,
  timeZone?: string,
): AdtReading {
  const msh = msg.segments[0];
  const type = value(msg, msh, 9, 1);
  const controlId = value(msg, msh, 10);
  const mshWhere = (field: number) => ({ segment: 'MSH', position: 1, field });
  if (type !== 'ADT') {
    return refused({
      code: 'WG_ERR_HL7_UNSUPPORTED',
      message: `message type '${printable(type)}' is not ADT (this port takes the hospital's ADT feed)`,
      hl7Code: 200,
      where: mshWhere(9),
    });
  }
  if (controlId.trim() === '') {
    return refused({
      code: 'WG_ERR_HL7_FORMAT',
      message: 'MSH-10 (message control id) is empty: a resend could not be told from a new message',
      hl7Code: 101,
      where: mshWhere(10),
    });
  }
  const evn = find(msg, 'EVN');
  // The trigger in MSH-9 rules: published feeds send EVN-1 stale (an A11 with EVN-1 A03).
  const event = value(msg, msh, 9, 2) || value(msg, evn, 1);
  const processingId = value(msg, msh, 11);
  if (processingId === 'D' || processingId === 'T') return { kind: 'demo', processingId, controlId };
  if (!(ADT_EVENTS as readonly string[]).includes(event))
    return { kind: 'ignored', event: printable(event), controlId };

  const pid = find(msg, 'PID');
  if (!pid) return refused({ code: 'WG_ERR_HL7_PATIENT', message: `ADT^${event} has no PID segment`, hl7Code: 100 });
  const patient = pickId(msg, pid.fields[3] ?? '', identifier);
  if (typeof patient === 'string')
    return refused({
      code: 'WG_ERR_HL7_PATIENT',
      message: `PID-3: ${patient}`,
      hl7Code: 101,
      where: { segment: 'PID', position: pid.position, field: 3 },
    });
  let prior: PatientId | undefined;
  if (event === 'A40') {
    const mrg = find(msg, 'MRG');
    if (!mrg)
      return refused({
        code: 'WG_ERR_HL7_PATIENT',
        message: 'ADT^A40 has no MRG segment: the identifier to merge is missing',
        hl7Code: 100,
      });
    const picked = pickId(msg, mrg.fields[1] ?? '', identifier);
    if (typeof picked === 'string')
      return refused({
        code: 'WG_ERR_HL7_PATIENT',
        message: `MRG-1: ${picked}`,
        hl7Code: 101,
        where: { segment: 'MRG', position: mrg.position, field: 1 },
      });
    prior = picked;
  }
  const pv1 = find(msg, 'PV1');
  const location = pv1 && locationOf(msg, pv1);
  const displayName = nameOf(msg, pid);
  return {
    kind: 'event',
    adt: {
      event: event as AdtEventCode,
      controlId,
      eventTs: eventTime(msg, evn, receivedTs, timeZone),
      patient,
      ...(displayName && { displayName }),
      ...(location && { location }),
      ...(prior && { prior }),
      digest: digestOf(msg),
    },
  };
}

function find(msg: Hl7Message, id: string): Segment | undefined {
  return msg.segments.find((s) => s.id === id);
}

/** The repetition of a CX list with the configured type code (and authority), or why there is none. */
function pickId(msg: Hl7Message, raw: string, rule: AdtConfig['identifier']): PatientId | string {
  const want = `type '${rule.typeCode}'${rule.authority ? ` and authority '${rule.authority}'` : ''}`;
  for (const rep of repetitions(msg.encoding, raw)) {
    const text = (c: number) => unescape(component(msg.encoding, rep, c), msg.encoding).trim();
    if (text(5).toUpperCase() !== rule.typeCode.toUpperCase()) continue;
    if (rule.authority !== undefined && text(4) !== rule.authority) continue;
    const identifier = text(1);
    if (identifier === '') continue;
    if (PLACEHOLDER_ID.test(identifier)) return `the identifier of ${want} is a placeholder, not a patient id`;
    return { identifier, authority: text(4) };
  }
  return `no identifier of ${want} (hl7.adt.identifier)`;
}

/** PV1-3 (PL): point of care ^ room ^ bed; undefined when all three are empty. */
function locationOf(msg: Hl7Message, pv1: Segment): PatientLocation | undefined {
  const location = {
    pointOfCare: value(msg, pv1, 3, 1).trim(),
    room: value(msg, pv1, 3, 2).trim(),
    bed: value(msg, pv1, 3, 3).trim(),
  };
  return location.pointOfCare || location.room || location.bed ? location : undefined;
}

/** PID-5 first repetition (XPN: family ^ given ^ middle), for the ward's screens only. */
function nameOf(msg: Hl7Message, pid: Segment): string | undefined {
  const part = (c: number) =>
    value(msg, pid, 5, c)
      .replace(/[\u0000-\u001f\u007f]/g, ' ')
      .trim();
  const family = part(1);
  const given = [part(2), part(3)].filter(Boolean).join(' ');
  const name = family && given ? `${family}, ${given}` : family || given;
  return name ? name.slice(0, MAX_NAME) : undefined;
}

/**
 * EVN-6 (event occurred), else EVN-2 (recorded), else MSH-7. A time without
 * an offset is placed by MSH-7's offset, else the sender's zone, else read as
 * UTC: it then only orders one sender's events among themselves, which is all
 * it is used for.
 */
function eventTime(msg: Hl7Message, evn: Segment | undefined, receivedTs: number, timeZone?: string): number {
  const msh7 = readDtm(value(msg, msg.segments[0], 7));
  const zone: DtmZone =
    typeof msh7 === 'object' && msh7.offsetMin !== undefined
      ? { offsetMin: msh7.offsetMin }
      : timeZone
        ? { timeZone }
        : { offsetMin: 0 };
  for (const text of [value(msg, evn, 6), value(msg, evn, 2), value(msg, msg.segments[0], 7)]) {
    if (text.trim() === '') continue;
    const read = readDtm(text, zone);
    if (typeof read === 'object') return read.ts;
  }
  return receivedTs;
}

function digestOf(msg: Hl7Message): string {
  const hash = createHash('sha256');
  hash
    .update(value(msg, msg.segments[0], 9, 1))
    .update('^')
    .update(value(msg, msg.segments[0], 9, 2));
  for (const s of msg.segments.slice(1)) hash.update('\r').update(s.fields.join(msg.encoding.field));
  return hash.digest('hex');
}

function refused(error: AckError): AdtReading {
  return { kind: 'refused', error };
}

/** A value quoted in an ACK, shortened and without control characters. */
function printable(text: string): string {
  const clean = text.replace(/[\u0000-\u001f\u007f]/g, '?');
  return clean.length > 16 ? `${clean.slice(0, 16)}...` : clean;
}
