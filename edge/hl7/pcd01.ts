// IHE PCD-01 (Communicate PCD Data): an HL7 v2.6 ORU^R01 observation report
// from a monitor or central station, mapped to observation messages per
// device (DOMAIN.md section 5). Structure: MSH, [PID [PV1]], { OBR, { OBX [PRT] } }.
// - MSH-3 sending application, MSH-7 message time (its offset places local
//   times of the whole message), MSH-9 ORU^R01, MSH-10 control id (MSA-2),
//   MSH-11 processing id (table 0103: P production; D debugging and T
//   training are not patient data).
// - PID-3 patient identifier list (CX: id ^^^ authority ^ type), PV1-3 assigned
//   location (PL: point of care ^ room ^ bed ^ facility).
// - OBX-2 value type, OBX-3 MDC code, OBX-4 position in the device tree
//   (MDS.VMD.channel.metric), OBX-5 value, OBX-6 units (MDC by number or
//   reference id, or UCUM), OBX-8 abnormal flags (table 0078), OBX-11 result
//   status (table 0085; X on hierarchy rows), OBX-14 observation time (else
//   OBR-7, else MSH-7), OBX-18 equipment instance (EUI-64); from v2.7 a PRT
//   segment after an OBX may name the device instead (PRT-10).
// Each row stands alone: a row that cannot be used is refused with its
// reason and location, and the others go on (see oruHandler.ts).
import { lookupCode } from '../../shared/codes.js';
import { reject, type ErrorCode, type Rejection } from '../../shared/errors.js';
import { validateEntry } from '../../shared/observation.js';
import { ReadingFlag, type ObservationEntry } from '../../shared/reading.js';
import { isRejection, type TimestampPolicy } from '../../shared/timestamp.js';
import { lookupMdcUnit } from '../../shared/units.js';
import type { PatientRef } from '../ingest/types.js';
import { readDtm, type DtmZone } from './dtm.js';
import { component, repetitions, unescape, value, type Hl7Message, type Segment } from './message.js';

/** Where in the message an entry came from: ERR-2 points there when it is refused. */
export interface ObxOrigin {
  readonly segment: number;
}

export interface DeviceGroup {
  readonly deviceId: string;
  readonly obs: ObservationEntry[];
  readonly origins: ObxOrigin[];
  /** Flags the sender gave each entry (OBX-8, OBX-11), by metric short name. */
  readonly flags: Map<string, number>;
}

/** An OBX row that was refused: the others of the message are still used. */
export interface RowRefusal {
  /** The OBX row's position in the message. */
  readonly segment: number;
  readonly field: number;
  /** Where the fault is, for ERR-2: the row's field, or the OBR-7 / MSH-7 it took its time from. */
  readonly where: { readonly segment: string; readonly position: number; readonly field: number };
  readonly code: ErrorCode;
  readonly message: string;
  /** HL7 table 0357 code for ERR-3. */
  readonly hl7Code: number;
  /** The device the row belonged to, when it was known. */
  readonly deviceId?: string;
}

export interface Pcd01Location {
  readonly pointOfCare: string;
  readonly room: string;
  readonly bed: string;
  readonly facility: string;
}

export interface Pcd01Report {
  readonly controlId: string;
  readonly sendingApplication: string;
  /** MSH-11 processing id (table 0103). */
  readonly processingId: string;
  /** MSH-11 says debugging or training: nothing in it is patient data. */
  readonly demo: boolean;
  readonly patient?: PatientRef;
  /** Why PID-3 was not taken as the patient (a placeholder such as "Unknown Patient"). */
  readonly patientIgnored?: string;
  readonly location?: Pcd01Location;
  /** MSH-7 as an instant, when it carries an offset or the sender's zone is configured. */
  readonly messageTime?: number;
  readonly groups: DeviceGroup[];
  readonly refused: RowRefusal[];
  /** OBX rows that became no reading and are not errors, by reason. */
  readonly skipped: Record<SkipReason, number>;
  /** OBX-3 identifiers the gateway does not map, one per row (counted by code, never dropped in silence). */
  readonly unmapped: string[];
}

export type SkipReason = 'hierarchy' | 'status' | 'value-type' | 'unknown-code' | 'demo';

/** Why a message cannot be used at all, with the HL7 error code (table 0357) and where (ERR-2). */
export interface Pcd01Error {
  readonly rejection: Rejection;
  readonly hl7Code: number;
  readonly where?: { readonly segment: string; readonly position: number; readonly field: number };
}

export interface Pcd01Options {
  /** The sender's configured zone (hl7.senders[].timeZone), for times when MSH-7 has no offset either. */
  readonly zone?: DtmZone;
  /** The device id when the message names none (no OBX-18, PRT or MSH-3): one per sender, never a constant. */
  readonly fallbackDevice?: string;
  /** Checks each row as the ingest will (units, values, time window); without it rows are only mapped. */
  readonly policy?: TimestampPolicy;
}

/**
 * OBX-11 (HL7 table 0085). Stored as valid: F final, C corrected, U changed to
 * final, R entered not verified (what monitors send), and an empty status.
 * Stored flagged preliminary (and unreliable: no alarm): P preliminary, S partial.
 * No result to store (counted): X cannot be obtained, I pending, N not asked,
 * O order detail. Refused, named in the ACK: D deleted, W wrong (the sender
 * itself says the value must not be used); and a letter outside the table.
 */
const VALID_STATUS = new Set(['', 'F', 'C', 'U', 'R']);
const PRELIMINARY_STATUS = new Set(['P', 'S']);
const NO_RESULT_STATUS = new Set(['X', 'I', 'N', 'O']);
const WITHDRAWN_STATUS = new Set(['D', 'W']);
/** MSH-11 (table 0103): D debugging, T training. */
const DEMO_PROCESSING = new Set(['D', 'T']);
/**
 * OBX-8 marks of a row produced in demo or test mode: IEEE 11073-10201
 * MeasurementStatus demo-data and test-data, which IHE PCD writes DEMO and
 * TEST in OBX-8 (as the HL7 FHIR PoCD guide's v2 mapping tabulates).
 */
const DEMO_ROW_FLAGS = new Set(['DEMO', 'TEST', 'demo-data', 'test-data']);
/** OBX-8 (table 0078) and the reading flags each sets. */
const ABNORMAL_FLAGS: ReadonlyMap<string, number> = new Map([
  ['L', ReadingFlag.low],
  ['H', ReadingFlag.high],
  ['LL', ReadingFlag.low | ReadingFlag.critical],
  ['HH', ReadingFlag.high | ReadingFlag.critical],
  ['LU', ReadingFlag.low | ReadingFlag.critical],
  ['HU', ReadingFlag.high | ReadingFlag.critical],
  ['<', ReadingFlag.low | ReadingFlag.offScale],
  ['>', ReadingFlag.high | ReadingFlag.offScale],
  ['A', ReadingFlag.abnormal],
  ['AA', ReadingFlag.abnormal | ReadingFlag.critical],
  ['N', 0],
  // 11073 MeasurementStatus in OBX-8 (IHE PCD): questionable, calibrating, early estimate: kept, unreliable, no alarm.
  ['QUES', ReadingFlag.unreliable],
  ['CAL', ReadingFlag.unreliable],
  ['EARLY', ReadingFlag.unreliable | ReadingFlag.preliminary],
  // The metric is in alarm / has its alarms off on the device: facts about the device, not about the value.
  ['ALACT', 0],
  ['ALINH', 0],
]);
/** OBX-8 marks that say there is no valid value (11073 invalid, not-available, measuring; no information, off). */
const NO_VALUE_FLAGS = new Set(['INV', 'NAV', 'BUSY', 'NI', 'OFF']);
const NM = /^[+-]?(\d+\.?\d*|\.\d+)$/;

export function mapPcd01(msg: Hl7Message, options: Pcd01Options = {}): Pcd01Report | Pcd01Error {
  const msh = msg.segments[0];
  const controlId = value(msg, msh, 10);
  const type = value(msg, msh, 9, 1);
  const trigger = value(msg, msh, 9, 2);
  if (type !== 'ORU')
    return refuse(
      'WG_ERR_HL7_UNSUPPORTED',
      `message type '${type}' is not ORU (IHE PCD-01 sends ORU^R01)`,
      200,
      msh,
      9,
    );
  if (trigger !== 'R01') return refuse('WG_ERR_HL7_UNSUPPORTED', `trigger event '${trigger}' is not R01`, 201, msh, 9);
  const version = value(msg, msh, 12);
  if (!/^2\.\d/.test(version))
    return refuse('WG_ERR_HL7_UNSUPPORTED', `version '${version}' is not HL7 v2.x (PCD-01 uses 2.6)`, 203, msh, 12);
  if (!controlId) return refuse('WG_ERR_HL7_FORMAT', 'MSH-10 (message control id) is required', 101, msh, 10);
  const mshTime = value(msg, msh, 7, 1);
  const messageDtm = mshTime === '' ? undefined : readDtm(mshTime, options.zone);
  if (messageDtm === 'format')
    return refuse('WG_ERR_TIMESTAMP', 'MSH-7 is not an HL7 date/time (YYYYMMDDHHMMSS[+ZZZZ])', 102, msh, 7);
  // MSH-7's offset is the sender's zone for every time in the message that has none (HL7 v2.6 2.A.22).
  const zone: DtmZone | undefined =
    typeof messageDtm === 'object' && messageDtm.offsetMin !== undefined
      ? { offsetMin: messageDtm.offsetMin }
      : options.zone;
  const messageTime: TimeRead = messageDtm === undefined ? undefined : messageDtm === 'zone' ? 'zone' : messageDtm.ts;
  const processingId = value(msg, msh, 11, 1);

  const pid = msg.segments.find((s) => s.id === 'PID');
  const pv1 = msg.segments.find((s) => s.id === 'PV1');
  const patientRead = pid ? patientOf(msg, pid) : undefined;
  const devices = deviceIds(msg);
  const fallbackDevice = deviceIdOf(value(msg, msh, 3)) ?? options.fallbackDevice ?? 'hl7-sender';

  const groups = new Map<string, DeviceGroups>();
  const refused: RowRefusal[] = [];
  const unmapped: string[] = [];
  const skipped: Record<SkipReason, number> = { hierarchy: 0, status: 0, 'value-type': 0, 'unknown-code': 0, demo: 0 };
  let obrTime: TimeRead | 'format' = undefined;
  let obr: Segment | undefined;
  for (const seg of msg.segments) {
    if (seg.id === 'OBR') {
      obrTime = timeOf(msg, seg, 7, zone);
      obr = seg;
      continue;
    }
    if (seg.id !== 'OBX') continue;
    const valueType = value(msg, seg, 2);
    if (valueType === '') {
      skipped.hierarchy++;
      continue;
    }
    const deviceId = devices.get(seg.position) ?? fallbackDevice;
    const row = (field: number, code: ErrorCode, message: string, hl7Code: number, at: Segment = seg) =>
      refused.push({
        segment: seg.position,
        field,
        where: { segment: at.id, position: at.position, field },
        code,
        message: `${at.id}-${field}: ${message}`,
        hl7Code,
        deviceId,
      });
    const abnormal = abnormalFlags(msg, seg);
    if (abnormal.demo) {
      skipped.demo++;
      continue;
    }
    const status = value(msg, seg, 11);
    if (NO_RESULT_STATUS.has(status) || abnormal.noValue) {
      skipped.status++;
      continue;
    }
    if (WITHDRAWN_STATUS.has(status)) {
      row(
        11,
        'WG_ERR_HL7_STATUS',
        `result status '${status}' (${status === 'D' ? 'deleted' : 'wrong'}): the sender says this value must not be used; not stored`,
        207,
      );
      continue;
    }
    if (!VALID_STATUS.has(status) && !PRELIMINARY_STATUS.has(status)) {
      row(11, 'WG_ERR_HL7_STATUS', `result status '${printable(status)}' is not in HL7 table 0085`, 103);
      continue;
    }
    const metric = metricOf(msg, seg);
    if (!metric) {
      skipped['unknown-code']++;
      unmapped.push(codeOf(msg, seg));
      continue;
    }
    if (valueType !== 'NM') {
      skipped['value-type']++;
      continue;
    }
    const text = unescape(
      component(msg.encoding, repetitions(msg.encoding, seg.fields[5] ?? '')[0] ?? '', 1),
      msg.encoding,
    ).trim();
    if (text !== '' && !NM.test(text)) {
      row(5, 'WG_ERR_SCHEMA', `'${printable(text)}' is not a number (OBX-2 says NM)`, 102);
      continue;
    }
    const unit = unitOf(msg, seg);
    if (text !== '' && unit === undefined) {
      row(
        6,
        'WG_ERR_UNIT',
        `'${printable(value(msg, seg, 6))}' is not a known MDC unit code or UCUM unit for ${metric}`,
        103,
      );
      continue;
    }
    const obxTime = timeOf(msg, seg, 14, zone);
    const ts = obxTime ?? obrTime ?? messageTime;
    // The row's time is OBX-14, else its OBR-7, else MSH-7: a fault is named where the time came from.
    const from = obxTime !== undefined ? seg : obrTime !== undefined && obr ? obr : msh;
    const fromField = from.id === 'OBX' ? 14 : 7;
    if (ts === 'format') {
      row(fromField, 'WG_ERR_TIMESTAMP', 'not an HL7 date/time', 102, from);
      continue;
    }
    if (ts === 'zone') {
      row(
        fromField,
        'WG_ERR_HL7_TIMEZONE',
        'the time has no UTC offset, MSH-7 gives none, and no timeZone is configured for this sender in hl7.senders; the gateway does not assume its own zone',
        207,
        from,
      );
      continue;
    }
    const entry: ObservationEntry = {
      code: metric,
      value: text === '' ? null : Number(text),
      ...(unit !== undefined && { unit }),
      ...(ts !== undefined && { ts }),
      ...(PRELIMINARY_STATUS.has(status) && { unreliable: true }),
    };
    if (options.policy) {
      const checked = validateEntry(entry, 'obs', ts ?? options.policy.now, options.policy);
      if (isRejection(checked)) {
        const field = checked.field?.endsWith('.unit') ? 6 : checked.field?.endsWith('.ts') ? 14 : 5;
        row(field, checked.code, checked.message, checked.code === 'WG_ERR_UNIT' ? 103 : 102);
        continue;
      }
    }
    const flags = abnormal.flags | (PRELIMINARY_STATUS.has(status) ? ReadingFlag.preliminary : 0);
    place(groups, deviceId, entry, { segment: seg.position }, flags);
  }
  return {
    controlId,
    sendingApplication: value(msg, msh, 3),
    processingId,
    demo: DEMO_PROCESSING.has(processingId),
    ...(patientRead && 'id' in patientRead && { patient: patientRead }),
    ...(patientRead && 'placeholder' in patientRead && { patientIgnored: patientRead.placeholder }),
    ...(pv1 && {
      location: {
        pointOfCare: value(msg, pv1, 3, 1),
        room: value(msg, pv1, 3, 2),
        bed: value(msg, pv1, 3, 3),
        facility: value(msg, pv1, 3, 4),
      },
    }),
    ...(typeof messageTime === 'number' && { messageTime }),
    groups: [...groups.values()].flatMap((d) => d.list),
    refused,
    skipped,
    unmapped,
  };
}

/** A time read from a field: absent (undefined), an instant, or why not. */
type TimeRead = number | undefined | 'zone';

/** A device's groups, and how many of them already hold each metric. */
interface DeviceGroups {
  readonly list: DeviceGroup[];
  readonly count: Map<ObservationEntry['code'], number>;
}

/**
 * Adds an entry to its device's group. One observation message holds each
 * metric once, so a second value of the same metric (two temperature sites)
 * starts another group of that device rather than being lost. The k-th value
 * of a metric goes to group k: found by count, not by search, so a message of
 * thousands of rows costs linear time.
 */
function place(
  groups: Map<string, DeviceGroups>,
  deviceId: string,
  entry: ObservationEntry,
  origin: ObxOrigin,
  flags: number,
): void {
  let device = groups.get(deviceId);
  if (!device) {
    device = { list: [], count: new Map() };
    groups.set(deviceId, device);
  }
  const k = device.count.get(entry.code) ?? 0;
  device.count.set(entry.code, k + 1);
  let group = device.list[k];
  if (!group) {
    group = { deviceId, obs: [], origins: [], flags: new Map() };
    device.list.push(group);
  }
  group.obs.push(entry);
  group.origins.push(origin);
  if (flags) group.flags.set(String(entry.code), flags);
}

/**
 * Patient ids that identify nobody: what monitors and central stations send
 * when no patient is admitted ("Unknown Patient", "UNKNOWN", "N/A", "none",
 * "0000000", "-"). Such a message still carries readings, but no patient.
 */
const PLACEHOLDER_ID =
  /^(?:0+|[-_.?*\s]+|unknown(?:[\s_-]*patient)?|unk|n\/?a|none|null|nil|undefined|anonymous|no[\s_-]*(?:id|patient)|not[\s_-]*(?:admitted|available)|patient|temp|tbd)$/i;

/** PID-3: the repetition typed MR (medical record number) if any, else the first. */
function patientOf(msg: Hl7Message, pid: Segment): PatientRef | { placeholder: string } | undefined {
  const reps = repetitions(msg.encoding, pid.fields[3] ?? '');
  const pick = reps.find((r) => component(msg.encoding, r, 5) === 'MR') ?? reps[0];
  if (pick === undefined) return undefined;
  const id = unescape(component(msg.encoding, pick, 1), msg.encoding).trim();
  if (!id) return undefined;
  if (PLACEHOLDER_ID.test(id)) return { placeholder: 'PID-3 is a placeholder, not a patient id' };
  return {
    id,
    authority: unescape(component(msg.encoding, pick, 4, 1), msg.encoding),
    idType: unescape(component(msg.encoding, pick, 5), msg.encoding),
  };
}

/** OBX-3: the MDC code (numeric or reference id), in the first or the alternate triplet. */
function metricOf(msg: Hl7Message, seg: Segment): string | undefined {
  for (const first of [1, 4]) {
    const system = value(msg, seg, 3, first + 2);
    if (system !== 'MDC' && !(first === 1 && system === '')) continue;
    // The number is the code (11073: devices send numbers, reference ids are for people); the name only stands in for a missing number.
    const id = value(msg, seg, 3, first).trim();
    const found = /^\d+$/.test(id)
      ? lookupCode(id)
      : (lookupCode(id) ?? lookupCode(value(msg, seg, 3, first + 1).trim()));
    if (found && found.mdc !== 0) return found.code;
  }
  return undefined;
}

/** The OBX-3 identifier of an unmapped row, for counting: `150033` or `MDC_X`, else `SYSTEM:id` (bounded). */
function codeOf(msg: Hl7Message, seg: Segment): string {
  const id = value(msg, seg, 3, 1) || value(msg, seg, 3, 2);
  const system = value(msg, seg, 3, 3);
  const text = system && system !== 'MDC' ? `${system}:${id}` : id;
  return text.replace(/[^A-Za-z0-9_.:-]/g, '?').slice(0, 48) || '(empty)';
}

/** OBX-6: an MDC unit (partition 4) by number or reference id, or a UCUM unit, in either triplet. */
function unitOf(msg: Hl7Message, seg: Segment): string | undefined {
  for (const first of [1, 4]) {
    const id = value(msg, seg, 6, first);
    const text = value(msg, seg, 6, first + 1);
    const system = value(msg, seg, 6, first + 2);
    if (system === 'MDC' || (system === '' && /^(\d+|MDC_DIM_\w+)$/.test(id))) {
      // As for codes, the number decides; a unit number the gateway does not know is not rescued by its name.
      const unit = /^\d+$/.test(id) ? lookupMdcUnit(id) : (lookupMdcUnit(id) ?? lookupMdcUnit(text));
      if (unit) return unit.ucum;
    } else if ((system === 'UCUM' || system === '') && id !== '') {
      return id;
    }
  }
  return undefined;
}

/** OBX-8 repetitions: the reading flags they set, and whether the row is demo or test data. */
function abnormalFlags(msg: Hl7Message, seg: Segment): { flags: number; demo: boolean; noValue: boolean } {
  let flags = 0;
  let demo = false;
  let noValue = false;
  for (const rep of repetitions(msg.encoding, seg.fields[8] ?? '')) {
    const flag = unescape(component(msg.encoding, rep, 1), msg.encoding).trim();
    if (DEMO_ROW_FLAGS.has(flag)) demo = true;
    else if (NO_VALUE_FLAGS.has(flag)) noValue = true;
    else if (flag !== '') flags |= ABNORMAL_FLAGS.get(flag) ?? ReadingFlag.abnormal;
  }
  return { flags, demo, noValue };
}

/** The MDS (first number of OBX-4, MDS.VMD.channel.metric) a row belongs to. */
function mdsOf(msg: Hl7Message, seg: Segment): string {
  return value(msg, seg, 4).split('.')[0] ?? '';
}

/**
 * The device of each OBX row, by segment position: its own OBX-18, else a PRT
 * (v2.7+, PCD) right after it naming a device (PRT-10), else what its MDS row
 * (same first number of OBX-4) named that way: metric rows often carry none.
 */
function deviceIds(msg: Hl7Message): Map<number, string> {
  const byMds = new Map<string, string>();
  const byRow = new Map<number, string>();
  const segments = msg.segments;
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i];
    if (seg.id !== 'OBX') continue;
    let id = deviceIdOf(value(msg, seg, 18));
    for (let j = i + 1; id === undefined && j < segments.length && segments[j].id === 'PRT'; j++)
      id = deviceIdOf(value(msg, segments[j], 10));
    const mds = mdsOf(msg, seg);
    if (id && !byMds.has(mds)) byMds.set(mds, id);
    const found = id ?? byMds.get(mds);
    if (found) byRow.set(seg.position, found);
  }
  return byRow;
}

/** An equipment or application id made into a device id (letters, digits, . _ -; at most 64). */
export function deviceIdOf(raw: string): string | undefined {
  const id = raw
    .trim()
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '')
    .slice(0, 64);
  return id === '' ? undefined : id;
}

/** undefined when the field is empty; 'format' when it is not a date/time; 'zone' when it has no offset and none is known. */
function timeOf(
  msg: Hl7Message,
  seg: Segment,
  n: number,
  zone: DtmZone | undefined,
): number | undefined | 'zone' | 'format' {
  const text = value(msg, seg, n, 1);
  if (text === '') return undefined;
  const read = readDtm(text, zone);
  return typeof read === 'string' ? read : read.ts;
}

/** A value from the message, shortened and without control characters, for an ACK text. */
export function printable(text: string): string {
  const clean = text.replace(/[\u0000-\u001f\u007f]/g, '?');
  return clean.length > 40 ? `${clean.slice(0, 40)}...` : clean;
}

function refuse(code: Rejection['code'], message: string, hl7Code: number, seg: Segment, field: number): Pcd01Error {
  return {
    rejection: reject(code, message, `${seg.id}-${field}`),
    hl7Code,
    where: { segment: seg.id, position: seg.position, field },
  };
}
