// One alarm lifecycle event as an IHE PCD-04 Report Alarm message (ORU^R40,
// IHE PCD Technical Framework, Alarm Communication Management profile), the
// gateway acting as Alarm Reporter. One alarm per message, one OBR for it:
//   MSH  ORU^R40^ORU_R40, HL7 2.6, MSH-15/16 AL/NE, MSH-21 the ACM profile id
//   PID  PID-3 the patient's identifier (hospital id, stays inside the hospital)
//   PV1  PV1-3 point of care ^ room ^ bed ^ facility
//   OBR  OBR-2/OBR-3 the alarm's unique id, OBR-4 196616^MDC_EVT_ALARM, OBR-7 event time
//   OBX  one row per facet, OBX-4 `1.0.0.0.<facet>` (the ACM dotted notation):
//        1 alarm type (MDC event code), text in OBX-5, OBX-8 abnormality ~ priority ~ source
//        2 the source: the parameter with its value (MDC + LOINC, MDC + UCUM unit)
//          and, for a limit alarm, the limit crossed in OBX-7 as a reference range
//          (`>88` for a low limit at 88, `<131` for a high one at 131), or, for a
//          technical alarm, the device (MDC_ATTR_ALERT_SOURCE)
//        3 event phase, 4 alarm state, 5 inactivation state, 6 priority, 7 alert type
// Priority and source go in OBX-8 of facet 1 as the ACM supplement places
// them; facets 6 and 7 repeat them as rows, as published alarm reporters do,
// for managers that read rows rather than flags.
import { lookupCode } from '../../shared/codes.js';
import type { AlarmEvent, AlarmKind, AlarmLimit, AlarmPhase, AlarmPriority } from '../alarms/types.js';
import { formatDtm } from '../hl7/dtm.js';
import { DEFAULT_ENCODING, escape } from '../hl7/message.js';
import { type MessageHeader, mshSegment } from './mshSegment.js';
import { obxUnits } from './obxUnits.js';

/** MSH-21: the ACM profile's PCD-04 message profile id. */
export const PCD04_PROFILE = 'IHE_PCD_ACM_001^IHE PCD^1.3.6.1.4.1.19376.1.6.4.4^ISO';

/**
 * IEEE 11073-10101 codes of the ACM facets (partition 1, attributes), as
 * published reports number them (test/corpus/hl7: 68480-68483 the IHE
 * examples, 68484 and 68485 GE's and Dräger's); not checked against the
 * 10101 table itself. GE's and Dräger's use the older 68164-68168 for the
 * other names: receivers match the names.
 */
export const FACET = {
  source: [68480, 'MDC_ATTR_ALERT_SOURCE'],
  phase: [68481, 'MDC_ATTR_EVENT_PHASE'],
  state: [68482, 'MDC_ATTR_ALARM_STATE'],
  inactivation: [68483, 'MDC_ATTR_ALARM_INACTIVATION_STATE'],
  priority: [68484, 'MDC_ATTR_ALARM_PRIORITY'],
  type: [68485, 'MDC_ATTR_ALERT_TYPE'],
} as const;

/**
 * IEEE 11073-10101 event codes (partition 3) for the alarm type, facet 1,
 * checked against a public 11073-10101 code table (test/corpus/hl7/README.md).
 */
export const EVENT = {
  alarm: [196616, 'MDC_EVT_ALARM'],
  high: [196650, 'MDC_EVT_HI_GT_LIM'],
  low: [196672, 'MDC_EVT_LO_LT_LIM'],
  batteryLow: [196802, 'MDC_EVT_BATT_LO'],
  /** Not otherwise specified: rate of change, NEWS2, device silent, sensor, gateway conditions (the text says which). */
  other: [258047, 'MDC_EVT_NOS'],
} as const;

/** ACM alarm priority (PH high, PM medium, PL low; PN no priority is never sent by us). */
export const PRIORITY_CODE: Readonly<Record<AlarmPriority, string>> = { high: 'PH', medium: 'PM', low: 'PL' };
/** ACM alert type / source: SP physiological, ST technical (SA advisory is not raised by wardgate). */
export const KIND_CODE: Readonly<Record<AlarmKind, string>> = { physiological: 'SP', technical: 'ST' };

interface AcmFacets {
  readonly phase: 'start' | 'continue' | 'end' | 'update' | 'escalate';
  readonly state: 'inactive' | 'active' | 'latched';
  readonly inactivation: 'enabled' | 'alert-acknowledged';
}

/**
 * What each lifecycle event says in ACM terms. An escalation (nobody answered
 * in time) is the ACM phase `escalate`; a re-activation or a priority rise is
 * an `update` that carries the new priority; a latched alarm's condition has
 * gone but the alarm stays (state `latched`); an acknowledgement keeps the
 * alarm open with inactivation state `alert-acknowledged`; a clear ends it.
 */
export function acmFacets(phase: AlarmPhase, state: AlarmEvent['state']): AcmFacets {
  switch (phase) {
    case 'raised':
      return { phase: 'start', state: 'active', inactivation: 'enabled' };
    case 'escalated':
      return { phase: 'escalate', state: state === 'latched' ? 'latched' : 'active', inactivation: 'enabled' };
    case 'updated':
      return { phase: 'update', state: 'active', inactivation: 'enabled' };
    case 'latched':
      return { phase: 'update', state: 'latched', inactivation: 'enabled' };
    case 'acknowledged':
      return { phase: 'update', state: 'active', inactivation: 'alert-acknowledged' };
    case 'cleared':
      return { phase: 'end', state: 'inactive', inactivation: 'enabled' };
  }
}

export type ReportHeader = MessageHeader;

export interface ReportLocation {
  /** PV1-3.1 point of care: the ward. */
  readonly pointOfCare: string;
  readonly room: string;
  readonly bed: string | null;
  /** PV1-3.4 facility. */
  readonly facility: string;
}

export interface ReportPatient {
  readonly identifier: string;
  readonly authority: string;
}

export interface AlarmReportInput {
  readonly event: AlarmEvent;
  /** The alarm's key (what condition it is about). */
  readonly key: string;
  readonly raisedAt: number;
  readonly controlId: string;
  readonly now: number;
  readonly header: ReportHeader;
  readonly location: ReportLocation;
  readonly patient: ReportPatient | undefined;
  /** The namespace of our alarm ids in OBR-2/3 (EI-2): the gateway. */
  readonly assigner: string;
}

/** The PCD-04 message text (segments joined with CR), ready to be framed. */
export function buildAlarmReport(input: AlarmReportInput): string {
  const e = (text: string) => escape(text, DEFAULT_ENCODING);
  const { event, header, location, patient } = input;
  const at = formatDtm(event.ts);
  const msh = mshSegment(header, 'ORU^R40^ORU_R40', input.controlId, input.now, PCD04_PROFILE);
  const pid = ['PID', '', '', patient ? `${e(patient.identifier)}^^^${e(patient.authority)}^MR` : ''].join('|');
  const pv1 = [
    'PV1',
    '',
    'I',
    [location.pointOfCare, location.room, location.bed ?? '', location.facility].map(e).join('^'),
  ].join('|');
  const alarmId = `${e(event.alarmId)}^${e(input.assigner)}`;
  const obr = ['OBR', '1', alarmId, alarmId, `${EVENT.alarm[0]}^${EVENT.alarm[1]}^MDC`, '', '', at].join('|');
  return [msh, pid, pv1, obr, ...facetRows(input, at)].join('\r') + '\r';
}

function facetRows(input: AlarmReportInput, at: string): string[] {
  const e = (text: string) => escape(text, DEFAULT_ENCODING);
  const { event } = input;
  const facets = acmFacets(event.phase, event.state);
  const priority = PRIORITY_CODE[event.priority];
  const source = KIND_CODE[event.kind];
  const side = limitSide(event);
  const type = alarmType(event, side);
  const flags = [side === 'low' ? 'L' : side === 'high' ? 'H' : '', priority, source].filter(Boolean).join('~');
  const equipment = event.deviceId ? `${e(event.deviceId)}^${e(input.assigner)}` : '';
  const row = (
    n: number,
    valueType: string,
    code: string,
    value: string,
    extra: { units?: string; range?: string; flags?: string; time?: string } = {},
  ) =>
    [
      'OBX',
      String(n),
      valueType,
      code,
      `1.0.0.0.${n}`,
      value,
      extra.units ?? '',
      extra.range ?? '',
      extra.flags ?? '',
      '',
      '',
      'R',
      '',
      '',
      extra.time ?? '',
      '',
      '',
      '',
      equipment,
    ].join('|');
  const attr = ([code, refid]: readonly [number, string]) => `${code}^${refid}^MDC`;
  return [
    row(1, 'ST', attr(type), e(event.message), { flags, time: at }),
    sourceRow(event, row, attr, at, event.limit),
    row(3, 'ST', attr(FACET.phase), facets.phase),
    row(4, 'ST', attr(FACET.state), facets.state),
    row(5, 'ST', attr(FACET.inactivation), facets.inactivation),
    row(6, 'ST', attr(FACET.priority), priority),
    row(7, 'ST', attr(FACET.type), source),
  ];
}

type Row = (
  n: number,
  valueType: string,
  code: string,
  value: string,
  extra?: { units?: string; range?: string; flags?: string; time?: string },
) => string;

/** Facet 2: the parameter in alarm with its value, or the device a technical alarm is about. */
function sourceRow(
  event: AlarmEvent,
  row: Row,
  attr: (c: readonly [number, string]) => string,
  at: string,
  limit: AlarmLimit | undefined,
): string {
  const e = (text: string) => escape(text, DEFAULT_ENCODING);
  const code = event.kind === 'physiological' && event.metric ? lookupCode(event.metric) : undefined;
  if (code && code.mdc && event.value !== null) {
    const loinc = code.loinc ? `^${code.loinc}^${e(code.label)}^LN` : '';
    const units = obxUnits(code.code, code.unit);
    // OBX-7, a range open on one side as HL7 writes it: the values that do not alarm on that limit.
    const range = limit ? `${limit.side === 'low' ? '>' : '<'}${limit.value}` : undefined;
    return row(2, 'NM', `${code.mdc}^${code.refid}^MDC${loinc}`, String(event.value), { units, range, time: at });
  }
  const what = event.deviceId ?? event.metric ?? event.rule;
  return row(2, 'ST', attr(FACET.source), e(what));
}

/**
 * Which side of a limit a limit alarm is on: the engine says it as data
 * (Alarm.limit, edge/alarms/rules.ts), and the store records it with each
 * event (alarm_events.limit_side). An event recorded before the store kept
 * limits has none; for those the engine's text says the side
 * (`SpO2 low: 85 % (limit <= 88)`) and the report goes without OBX-7.
 */
export function limitSide(event: Pick<AlarmEvent, 'rule' | 'message' | 'limit'>): 'low' | 'high' | undefined {
  if (event.rule !== 'limit') return undefined;
  if (event.limit) return event.limit.side;
  const word = / (low|high): /.exec(event.message)?.[1];
  return word === 'low' || word === 'high' ? word : undefined;
}

function alarmType(event: AlarmEvent, side: 'low' | 'high' | undefined): readonly [number, string] {
  if (side) return EVENT[side];
  if (event.rule === 'battery') return EVENT.batteryLow;
  return EVENT.other;
}
