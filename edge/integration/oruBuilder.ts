// A bed's vitals as an IHE PCD-01 Communicate PCD Data message (HL7 v2.6
// ORU^R01, IHE PCD Technical Framework, Device Enterprise Communication
// profile), the gateway acting as Device Observer Reporter, for the EHR:
//   MSH  ORU^R01^ORU_R01, MSH-10 the control id fixed at enqueue, MSH-11
//        processing id, MSH-12 2.6, MSH-15/16 AL/NE, MSH-21 the PCD-01 profile
//   PID  PID-3 the patient's identifier as the hospital issued it
//        (id^^^authority^type), PID-5 the name the ward shows
//   PV1  PV1-2 I (inpatient), PV1-3 point of care ^ room ^ bed ^ facility
//   OBR  OBR-2/3 the report's id, OBR-4 182777000^monitoring of patient^SCT
//        (as the PCD-01 examples), OBR-7 observation time, OBR-25 result status
//   OBX  one row per vital: OBX-2 NM, OBX-3 MDC code (with LOINC as the
//        alternate), OBX-4 `1.0.0.<n>` (unique per message), OBX-5 the value,
//        OBX-6 MDC unit with UCUM as the alternate, OBX-11 F (a nurse
//        validated it), C (a nurse corrected a value already charted F: the
//        same measurement time, a new value) or P/R (unvalidated), OBR-25 C
//        when the report carries a correction, OBX-14 measurement time, OBX-16
//        the responsible observer (the nurse, validated rows only), OBX-17
//        AMEAS (as the device measured it) or MMEAS (entered or corrected by
//        the nurse), OBX-18 the device (equipment instance id).
// Every text field is escaped (HL7 v2.6 section 2.7): a `|` or `^` in a name,
// a bed or an id never shifts a field.
import { metric } from '../../shared/codes.js';
import { formatDtm } from '../hl7/dtm.js';
import { DEFAULT_ENCODING, escape } from '../hl7/message.js';
import { type MessageHeader, mshSegment } from './mshSegment.js';
import { obxUnits } from './obxUnits.js';

/** MSH-21: the IHE PCD-01 message profile id (DEC). */
export const PCD01_PROFILE = 'IHE_PCD_001^IHE PCD^1.3.6.1.4.1.19376.1.6.1.1.1^ISO';
/** OBR-4: what the report is, as the PCD-01 examples say it. */
export const MONITORING_OF_PATIENT = '182777000^monitoring of patient^SCT';

/** OBX-11 / OBR-25 (HL7 tables 0085 / 0123): F final (validated), P preliminary, R entered, not verified. */
export type ResultStatus = 'F' | 'P' | 'R';

export type OruHeader = MessageHeader;

export interface OruPatient {
  readonly identifier: string;
  readonly authority: string;
  readonly idType: string;
  /** The name the ward shows (`Family, Given` from ADT, or as typed at admission). */
  readonly displayName: string | null;
}

export interface OruLocation {
  readonly pointOfCare: string;
  readonly bed: string;
  readonly facility: string;
}

export interface Observer {
  readonly id: string;
  readonly family?: string;
  readonly given?: string;
}

export interface ChartValue {
  /** Short metric name from the code registry (shared/codes.ts). */
  readonly code: string;
  /** In the metric's canonical unit. */
  readonly value: number;
  /** Measurement time, epoch ms. */
  readonly ts: number;
  /** The device that measured it; null for a value the nurse entered. */
  readonly deviceId: string | null;
  /** The device measured it as sent, or the nurse entered or corrected it. */
  readonly method: 'device' | 'nurse';
  /** It corrects a value already charted final for the same measurement: OBX-11 C (validated reports only). */
  readonly correction?: boolean;
}

export interface VitalsReportInput {
  readonly controlId: string;
  readonly now: number;
  readonly header: OruHeader;
  readonly patient: OruPatient;
  readonly location: OruLocation;
  readonly status: ResultStatus;
  /** Required for F: who validated the values. */
  readonly observer?: Observer;
  readonly values: readonly ChartValue[];
}

const e = (text: string) => escape(text, DEFAULT_ENCODING);

/** The ORU^R01 text (segments ended with CR), ready to be framed. */
export function buildVitalsReport(input: VitalsReportInput): string {
  const { header, patient, location, status } = input;
  if (input.values.length === 0) throw new Error('a vitals report needs at least one value');
  if (status === 'F' && !input.observer) throw new Error('validated vitals need the responsible observer');
  if (status !== 'F' && input.values.some((v) => v.correction))
    throw new Error('only a validated report corrects a charted value');
  const msh = mshSegment(header, 'ORU^R01^ORU_R01', input.controlId, input.now, PCD01_PROFILE);
  const pid = [
    'PID',
    '',
    '',
    `${e(patient.identifier)}^^^${e(patient.authority)}^${e(patient.idType)}`,
    '',
    personName(patient.displayName),
  ].join('|');
  const pv1 = ['PV1', '', 'I', [location.pointOfCare, '', location.bed, location.facility].map(e).join('^')].join('|');
  const reportId = `${e(input.controlId)}^${e(header.sendingApplication)}`;
  const observedAt = Math.max(...input.values.map((v) => v.ts));
  const obr = [
    'OBR',
    '1',
    reportId,
    reportId,
    MONITORING_OF_PATIENT,
    '',
    '',
    formatDtm(observedAt),
    ...Array<string>(17).fill(''),
    input.values.some((v) => v.correction) ? 'C' : status,
  ].join('|');
  const observer = status === 'F' && input.observer ? observerName(input.observer) : '';
  const rows = input.values.map((v, i) => observationRow(i + 1, v, status, observer, header.sendingApplication));
  return [msh, pid, pv1, obr, ...rows].join('\r') + '\r';
}

function observationRow(n: number, v: ChartValue, status: ResultStatus, observer: string, assigner: string): string {
  const code = metric(v.code);
  const loinc = code.loinc ? `^${e(code.loinc)}^${e(code.label)}^LN` : '';
  const units = obxUnits(code.code, code.unit);
  const method = v.method === 'device' ? 'AMEAS^auto-measurement^MDC' : 'MMEAS^manual-measurement^MDC';
  const equipment = v.deviceId ? `${e(v.deviceId)}^${e(assigner)}` : '';
  // OBX-1 .. OBX-18
  return [
    'OBX',
    String(n),
    'NM',
    `${code.mdc}^${code.refid}^MDC${loinc}`,
    `1.0.0.${n}`,
    formatValue(v.value),
    units,
    '',
    '',
    '',
    '',
    v.correction ? 'C' : status,
    '',
    '',
    formatDtm(v.ts),
    '',
    observer,
    method,
    equipment,
  ].join('|');
}

/** Up to two decimals, no trailing zeros, never an exponent. */
export function formatValue(value: number): string {
  if (!Number.isFinite(value)) throw new Error('a charted value must be a finite number');
  return String(Math.round(value * 100) / 100);
}

/** PID-5 (XPN family ^ given ^ middle) from the ward's `Family, Given Middle`; one family name when there is no comma. */
function personName(displayName: string | null): string {
  if (!displayName) return '';
  const comma = displayName.indexOf(',');
  if (comma < 0) return e(displayName.trim());
  const family = displayName.slice(0, comma).trim();
  const [given = '', ...middle] = displayName
    .slice(comma + 1)
    .trim()
    .split(/\s+/);
  return [family, given, middle.join(' ')].map(e).join('^').replace(/\^+$/, '');
}

/** OBX-16 (XCN id ^ family ^ given). */
function observerName(o: Observer): string {
  return [o.id, o.family ?? '', o.given ?? ''].map(e).join('^').replace(/\^+$/, '');
}
