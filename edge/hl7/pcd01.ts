// IHE PCD-01 (Communicate PCD Data): an HL7 v2.6 ORU^R01 observation report
// from a monitor or central station, mapped to observation messages per
// device (DOMAIN.md section 5). Structure: MSH, [PID [PV1]], { OBR, { OBX } }.
// - MSH-9 ORU^R01, MSH-10 control id (echoed in MSA-2), MSH-3 sending application.
// - PID-3 patient identifier list (CX: id ^^^ authority ^ type), PV1-3 assigned
//   location (PL: point of care ^ room ^ bed): the patient/bed association.
// - OBX-2 value type, OBX-3 MDC code, OBX-4 position in the device tree
//   (MDS.VMD.channel.metric), OBX-5 value, OBX-6 units (MDC or UCUM),
//   OBX-11 result status (X on hierarchy rows), OBX-14 observation time
//   (else OBR-7, else MSH-7), OBX-18 equipment instance (EUI-64).
import { lookupCode } from '../../shared/codes.js';
import { reject, type Rejection } from '../../shared/errors.js';
import type { ObservationEntry } from '../../shared/reading.js';
import { mdcUnits } from '../../shared/units.js';
import type { PatientRef } from '../ingest/types.js';
import { parseDtm } from './dtm.js';
import { component, repetitions, unescape, value, type Hl7Message, type Segment } from './message.js';

/** Where in the message an entry came from: ERR-2 points there when it is refused. */
export interface ObxOrigin {
  readonly segment: number;
}

export interface DeviceGroup {
  readonly deviceId: string;
  readonly obs: ObservationEntry[];
  readonly origins: ObxOrigin[];
}

export interface Pcd01Report {
  readonly controlId: string;
  readonly sendingApplication: string;
  readonly patient?: PatientRef;
  readonly location?: { readonly pointOfCare: string; readonly room: string; readonly bed: string };
  readonly groups: DeviceGroup[];
  /** OBX rows that became no reading, by reason. */
  readonly skipped: Record<SkipReason, number>;
}

export type SkipReason = 'hierarchy' | 'status' | 'value-type' | 'unknown-code';

/** Why a message cannot be used, with the HL7 error code (table 0357) and where (ERR-2). */
export interface Pcd01Error {
  readonly rejection: Rejection;
  readonly hl7Code: number;
  readonly where?: { readonly segment: string; readonly position: number; readonly field: number };
}

/** OBX-11 statuses (HL7 table 0085) that carry no usable result. */
const NO_RESULT = new Set(['X', 'D', 'W', 'N', 'I', 'O']);
const NM = /^[+-]?(\d+\.?\d*|\.\d+)$/;

export function mapPcd01(msg: Hl7Message): Pcd01Report | Pcd01Error {
  const msh = msg.segments[0];
  const controlId = value(msg, msh, 10);
  const type = value(msg, msh, 9, 1);
  const trigger = value(msg, msh, 9, 2);
  if (type !== 'ORU') return refuse('WG_ERR_HL7_UNSUPPORTED', `message type '${type}' is not ORU (IHE PCD-01 sends ORU^R01)`, 200, msh, 9);
  if (trigger !== 'R01') return refuse('WG_ERR_HL7_UNSUPPORTED', `trigger event '${trigger}' is not R01`, 201, msh, 9);
  const version = value(msg, msh, 12);
  if (!/^2\.\d/.test(version)) return refuse('WG_ERR_HL7_UNSUPPORTED', `version '${version}' is not HL7 v2.x (PCD-01 uses 2.6)`, 203, msh, 12);
  if (!controlId) return refuse('WG_ERR_HL7_FORMAT', 'MSH-10 (message control id) is required', 101, msh, 10);
  const messageTime = timeOf(msg, msh, 7);
  if (messageTime === null) return refuse('WG_ERR_TIMESTAMP', 'MSH-7 is not an HL7 date/time (YYYYMMDDHHMMSS[+ZZZZ])', 102, msh, 7);

  const pid = msg.segments.find((s) => s.id === 'PID');
  const pv1 = msg.segments.find((s) => s.id === 'PV1');
  const patient = pid && patientOf(msg, pid);
  const bed = pv1 && value(msg, pv1, 3, 3);
  const equipment = equipmentByMds(msg);
  const fallbackDevice = deviceIdOf(value(msg, msh, 3)) ?? 'hl7-sender';

  const groups = new Map<string, DeviceGroups>();
  const skipped: Record<SkipReason, number> = { hierarchy: 0, status: 0, 'value-type': 0, 'unknown-code': 0 };
  let obrTime: number | undefined;
  for (const seg of msg.segments) {
    if (seg.id === 'OBR') {
      const t = timeOf(msg, seg, 7);
      if (t === null) return refuse('WG_ERR_TIMESTAMP', 'OBR-7 is not an HL7 date/time', 102, seg, 7);
      obrTime = t;
      continue;
    }
    if (seg.id !== 'OBX') continue;
    const valueType = value(msg, seg, 2);
    const status = value(msg, seg, 11);
    if (valueType === '' || status === 'X') {
      skipped.hierarchy++;
      continue;
    }
    if (NO_RESULT.has(status)) {
      skipped.status++;
      continue;
    }
    const metric = metricOf(msg, seg);
    if (!metric) {
      skipped['unknown-code']++;
      continue;
    }
    if (valueType !== 'NM') {
      skipped['value-type']++;
      continue;
    }
    const text = unescape(component(msg.encoding, repetitions(msg.encoding, seg.fields[5] ?? '')[0] ?? '', 1), msg.encoding).trim();
    if (text !== '' && !NM.test(text)) return refuse('WG_ERR_SCHEMA', `OBX-5 '${text}' is not a number (OBX-2 says NM)`, 102, seg, 5);
    const unit = unitOf(msg, seg);
    if (text !== '' && unit === undefined) {
      return refuse('WG_ERR_UNIT', `OBX-6 '${value(msg, seg, 6)}' is not a known MDC unit code or UCUM unit for ${metric}`, 103, seg, 6);
    }
    const obxTime = timeOf(msg, seg, 14);
    if (obxTime === null) return refuse('WG_ERR_TIMESTAMP', 'OBX-14 is not an HL7 date/time', 102, seg, 14);
    const ts = obxTime ?? obrTime ?? messageTime;
    const entry: ObservationEntry = {
      code: metric,
      value: text === '' ? null : Number(text),
      ...(unit !== undefined && { unit }),
      ...(ts !== undefined && { ts }),
    };
    const deviceId = deviceIdOf(value(msg, seg, 18)) ?? equipment.get(mdsOf(msg, seg)) ?? fallbackDevice;
    place(groups, deviceId, entry, { segment: seg.position });
  }
  return {
    controlId,
    sendingApplication: value(msg, msh, 3),
    ...(patient && { patient }),
    ...(pv1 && { location: { pointOfCare: value(msg, pv1, 3, 1), room: value(msg, pv1, 3, 2), bed: bed ?? '' } }),
    groups: [...groups.values()].flatMap((d) => d.list),
    skipped,
  };
}

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
function place(groups: Map<string, DeviceGroups>, deviceId: string, entry: ObservationEntry, origin: ObxOrigin): void {
  let device = groups.get(deviceId);
  if (!device) {
    device = { list: [], count: new Map() };
    groups.set(deviceId, device);
  }
  const k = device.count.get(entry.code) ?? 0;
  device.count.set(entry.code, k + 1);
  let group = device.list[k];
  if (!group) {
    group = { deviceId, obs: [], origins: [] };
    device.list.push(group);
  }
  group.obs.push(entry);
  group.origins.push(origin);
}

/** PID-3: the repetition typed MR (medical record number) if any, else the first. */
function patientOf(msg: Hl7Message, pid: Segment): PatientRef | undefined {
  const reps = repetitions(msg.encoding, pid.fields[3] ?? '');
  const pick = reps.find((r) => component(msg.encoding, r, 5) === 'MR') ?? reps[0];
  if (pick === undefined) return undefined;
  const id = unescape(component(msg.encoding, pick, 1), msg.encoding);
  if (!id) return undefined;
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
    const found = lookupCode(value(msg, seg, 3, first)) ?? lookupCode(value(msg, seg, 3, first + 1));
    if (found && found.mdc !== 0) return found.code;
  }
  return undefined;
}

/** OBX-6: an MDC unit code (partition 4) or a UCUM unit, in either triplet. */
function unitOf(msg: Hl7Message, seg: Segment): string | undefined {
  for (const first of [1, 4]) {
    const id = value(msg, seg, 6, first);
    const system = value(msg, seg, 6, first + 2);
    if (system === 'MDC' || (system === '' && /^\d+$/.test(id))) {
      const unit = mdcUnits.get(Number(id));
      if (unit) return unit.ucum;
    } else if ((system === 'UCUM' || system === '') && id !== '') {
      return id;
    }
  }
  return undefined;
}

/** The MDS (first number of OBX-4, MDS.VMD.channel.metric) a row belongs to. */
function mdsOf(msg: Hl7Message, seg: Segment): string {
  return value(msg, seg, 4).split('.')[0] ?? '';
}

/** OBX-18 equipment ids, by MDS: metric rows often carry none and inherit their MDS row's. */
function equipmentByMds(msg: Hl7Message): Map<string, string> {
  const byMds = new Map<string, string>();
  for (const seg of msg.segments) {
    if (seg.id !== 'OBX') continue;
    const id = deviceIdOf(value(msg, seg, 18));
    const mds = mdsOf(msg, seg);
    if (id && !byMds.has(mds)) byMds.set(mds, id);
  }
  return byMds;
}

/** An equipment or application id made into a device id (letters, digits, . _ -; at most 64). */
export function deviceIdOf(raw: string): string | undefined {
  const id = raw.trim().replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[^A-Za-z0-9]+/, '').slice(0, 64);
  return id === '' ? undefined : id;
}

/** undefined when the field is empty, null when it is not a valid date/time. */
function timeOf(msg: Hl7Message, seg: Segment, n: number): number | undefined | null {
  const text = value(msg, seg, n, 1);
  if (text === '') return undefined;
  return parseDtm(text) ?? null;
}

function refuse(code: Rejection['code'], message: string, hl7Code: number, seg: Segment, field: number): Pcd01Error {
  return { rejection: reject(code, message, `${seg.id}-${field}`), hl7Code, where: { segment: seg.id, position: seg.position, field } };
}
