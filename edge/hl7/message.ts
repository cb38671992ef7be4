// HL7 v2 message structure (HL7 v2.6 chapter 2): segments end with CR; the
// field separator is MSH-1 (the 4th character of the message) and the
// encoding characters are MSH-2 (component, repetition, escape, subcomponent,
// and from v2.7 truncation). A sender may choose other characters than the
// usual |^~\&: everything here reads them from the message. Values are
// unescaped only after splitting, so an escaped delimiter never splits.
import { reject, type Rejection } from '../../shared/errors.js';

export interface Encoding {
  readonly field: string;
  readonly component: string;
  readonly repetition: string;
  readonly escape: string;
  readonly subcomponent: string;
  /** v2.7 truncation character, when MSH-2 has five characters. */
  readonly truncation?: string;
}

export const DEFAULT_ENCODING: Encoding = {
  field: '|',
  component: '^',
  repetition: '~',
  escape: '\\',
  subcomponent: '&',
};

export interface Segment {
  readonly id: string;
  /** fields[n] is SEG-n as sent (escaped). For MSH, fields[1] is MSH-1 and fields[2] MSH-2. */
  readonly fields: readonly string[];
  /** 1-based position of this segment in the message (for ERR-2). */
  readonly position: number;
}

export interface Hl7Message {
  readonly encoding: Encoding;
  readonly segments: readonly Segment[];
}

const SEGMENT_ID = /^[A-Z][A-Z0-9]{2}$/;

/** Splits a message into segments and fields, or says why it is not HL7 v2. */
export function parseHl7(text: string): Hl7Message | Rejection {
  if (!text.startsWith('MSH')) return reject('WG_ERR_HL7_FORMAT', 'a message must begin with an MSH segment', 'MSH');
  const field = text[3];
  if (field === undefined || /[A-Za-z0-9\r\n ]/.test(field))
    return reject('WG_ERR_HL7_FORMAT', 'MSH-1 must be the field separator (usually |)', 'MSH-1');
  const end = text.indexOf(field, 4);
  const chars = text.slice(4, end < 0 ? undefined : end);
  if (
    chars.length < 4 ||
    chars.length > 5 ||
    new Set(field + chars).size !== chars.length + 1 ||
    /[A-Za-z0-9\r\n ]/.test(chars)
  ) {
    return reject('WG_ERR_HL7_FORMAT', 'MSH-2 must hold 4 or 5 distinct encoding characters (usually ^~\\&)', 'MSH-2');
  }
  const encoding: Encoding = {
    field,
    component: chars[0],
    repetition: chars[1],
    escape: chars[2],
    subcomponent: chars[3],
    ...(chars.length === 5 && { truncation: chars[4] }),
  };
  const segments: Segment[] = [];
  // CR is the segment terminator; LF and CR LF are tolerated (files, some interface engines).
  for (const line of text.split(/\r\n|\r|\n/)) {
    if (line === '') continue;
    const parts = line.split(field);
    const id = parts[0];
    if (!SEGMENT_ID.test(id))
      return reject(
        'WG_ERR_HL7_FORMAT',
        `segment ${segments.length + 1} has no valid segment id`,
        `segment ${segments.length + 1}`,
      );
    // MSH-1 is the separator itself, so MSH fields are shifted by one.
    const fields = id === 'MSH' && segments.length === 0 ? ['MSH', field, ...parts.slice(1)] : parts;
    segments.push({ id, fields, position: segments.length + 1 });
  }
  return { encoding, segments };
}

/** A field as sent, '' when absent. */
export function rawField(segment: Segment | undefined, n: number): string {
  return segment?.fields[n] ?? '';
}

/**
 * The decoded text at SEG-n, repetition 1 by default, component c,
 * subcomponent s (all 1-based, as the standard counts them).
 */
export function value(msg: Hl7Message, segment: Segment | undefined, n: number, c = 1, s = 1, repetition = 0): string {
  const raw = rawField(segment, n);
  // MSH-1 and MSH-2 are the delimiters themselves: never split or unescaped.
  if (segment?.id === 'MSH' && n <= 2) return raw;
  return unescape(component(msg.encoding, raw, c, s, repetition), msg.encoding);
}

/**
 * The components of SEG-n (repetition 1), each decoded: a composite such as
 * an HD (namespace^universal id^type) whole, to be written again in another
 * message's encoding. Trailing empty components are dropped.
 */
export function components(msg: Hl7Message, segment: Segment | undefined, n: number): string[] {
  const rep = repetitions(msg.encoding, rawField(segment, n))[0] ?? '';
  const parts = rep
    .split(msg.encoding.component)
    .map((c) => unescape(c.split(msg.encoding.subcomponent)[0] ?? '', msg.encoding));
  while (parts.length && parts[parts.length - 1] === '') parts.pop();
  return parts;
}

/** The repetitions of a raw field. */
export function repetitions(encoding: Encoding, raw: string): string[] {
  return raw === '' ? [] : raw.split(encoding.repetition);
}

/** Component c, subcomponent s of (repetition r of) a raw field, still escaped. */
export function component(encoding: Encoding, raw: string, c: number, s = 1, repetition = 0): string {
  const rep = raw.split(encoding.repetition)[repetition] ?? '';
  const comp = rep.split(encoding.component)[c - 1] ?? '';
  return comp.split(encoding.subcomponent)[s - 1] ?? '';
}

/**
 * Decodes escape sequences (HL7 v2.6 section 2.7): \F\ \S\ \T\ \R\ \E\ (and
 * \P\ for truncation) give the delimiter, \Xhh..\ bytes in hex; formatting
 * (\.br\ and others, \H\ \N\) and character-set (\C..\ \M..\) and local (\Z..\)
 * sequences carry no text for a number or a code and are dropped. A lone
 * escape character without its closing one is kept as it is.
 */
export function unescape(text: string, encoding: Encoding): string {
  const esc = encoding.escape;
  if (!text.includes(esc)) return text;
  let out = '';
  let at = 0;
  while (at < text.length) {
    const open = text.indexOf(esc, at);
    if (open < 0) break;
    const close = text.indexOf(esc, open + 1);
    if (close < 0) break;
    out += text.slice(at, open);
    out += decodeSequence(text.slice(open + 1, close), encoding);
    at = close + 1;
  }
  return out + text.slice(at);
}

function decodeSequence(seq: string, encoding: Encoding): string {
  switch (seq) {
    case 'F':
      return encoding.field;
    case 'S':
      return encoding.component;
    case 'T':
      return encoding.subcomponent;
    case 'R':
      return encoding.repetition;
    case 'E':
      return encoding.escape;
    case 'P':
      return encoding.truncation ?? '';
    case '.br':
      return '\n';
  }
  if (/^X([0-9A-Fa-f]{2})+$/.test(seq)) return Buffer.from(seq.slice(1), 'hex').toString('latin1');
  return '';
}

/** Escapes text for a field value (ACK text): the escape character first, then each delimiter. */
export function escape(text: string, encoding: Encoding = DEFAULT_ENCODING): string {
  const table: Array<[string, string]> = [
    [encoding.field, 'F'],
    [encoding.component, 'S'],
    [encoding.subcomponent, 'T'],
    [encoding.repetition, 'R'],
    ...(encoding.truncation ? [[encoding.truncation, 'P'] as [string, string]] : []),
  ];
  let out = '';
  for (const ch of text.replace(/[\r\n]+/g, ' ')) {
    if (ch === encoding.escape) out += `${encoding.escape}E${encoding.escape}`;
    else {
      const hit = table.find(([d]) => d === ch);
      out += hit ? `${encoding.escape}${hit[1]}${encoding.escape}` : ch;
    }
  }
  return out;
}

/**
 * Segments a dead letter must not keep in clear: they identify the patient
 * (and next of kin, guarantor, insurance, merges, visit details, allergies,
 * diagnoses) or carry free text (NTE) that may name them.
 */
const PATIENT_SEGMENTS = new Set([
  'PID',
  'PD1',
  'PD2',
  'PD3',
  'NK1',
  'GT1',
  'IN1',
  'IN2',
  'IN3',
  'MRG',
  'ACC',
  'PV2',
  'AL1',
  'IAM',
  'DG1',
  'NTE',
]);
/** The same ids found anywhere in a line: a segment run into the one before (no CR), or behind junk. */
const EMBEDDED = /(PID|PD[123]|NK1|GT1|IN[123]|MRG|ACC|PV2|AL1|IAM|DG1|NTE)(?=[^A-Za-z0-9\s])/i;
/** PV1 keeps fields 1-3 (class and location): the bed is what an integrator needs to see. */
const PV1_KEPT_FIELDS = 3;
const REDACTED = '[redacted]';

/**
 * The message with patient-identifying segments blanked (`PID|[redacted]`),
 * for the dead-letter table: an integrator can still see what was wrong with
 * MSH, OBR and OBX, and no patient identifier is kept outside the patients
 * table. It reads the text as it is, not as parsed, so that it holds for the
 * malformed messages that end up there: any case, junk before a segment id,
 * a missing segment terminator, local Z segments. It errs on blanking too much.
 */
export function redactPatientData(text: string): string {
  return text
    .split(/(\r\n|\r|\n)/)
    .map((part, i) => (i % 2 === 1 ? part : redactLine(part)))
    .join('');
}

function redactLine(line: string): string {
  const lead = /^[^A-Za-z0-9]*/.exec(line)![0].length;
  const id = line.slice(lead, lead + 3).toUpperCase();
  if (line.length > lead + 3 && (PATIENT_SEGMENTS.has(id) || id.startsWith('Z')))
    return `${line.slice(0, lead)}${id}|${REDACTED}`;
  let kept = line;
  if (id === 'PV1' && line.length > lead + 3) {
    const separator = line[lead + 3];
    const fields = line.split(separator);
    if (/[A-Za-z0-9\s]/.test(separator)) return `${line.slice(0, lead)}PV1|${REDACTED}`;
    if (fields.length > PV1_KEPT_FIELDS + 1)
      kept = `${fields.slice(0, PV1_KEPT_FIELDS + 1).join(separator)}${separator}${REDACTED}`;
  }
  // A patient segment run into this one, or behind a corrupted id (`xPID|`): everything from it on is blanked.
  const embedded = EMBEDDED.exec(kept);
  return embedded ? `${kept.slice(0, embedded.index)}${embedded[1].toUpperCase()}|${REDACTED}` : kept;
}
