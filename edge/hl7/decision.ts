// What the gateway decides about one parsed HL7 message, before anything is
// stored: who sent it (sender policy), what it reports (PCD-01 rows, each kept,
// flagged or refused on its own), for which bed (location map). The listener
// acts on the decision (oruHandler.ts); `wardgate check hl7` prints it.
import type { AckError } from './ack.js';
import type { LocationMap } from './locationMap.js';
import { value, type Hl7Message } from './message.js';
import { deviceIdOf, mapPcd01, type Pcd01Report } from './pcd01.js';
import type { SenderIdentity, SenderPolicy, SenderRule } from './senderPolicy.js';

export interface DecisionContext {
  readonly policy: SenderPolicy;
  readonly locations: LocationMap;
  readonly maxSegments: number;
  readonly maxFutureSkewMs: number;
}

export type Decision =
  /** Nothing in the message can be used (answered AR or AE, dead-lettered whole). */
  | { readonly kind: 'refused'; readonly error: AckError }
  /** Rows to store, flag or refuse one by one, for `bed` ('' for none). */
  | { readonly kind: 'report'; readonly report: Pcd01Report; readonly rule: SenderRule; readonly bed: string };

/** Conditions the sender cannot fix by editing the message content: AR (HL7 v2.6 2.9.2: rejected; it may retry later). */
export const REJECT_CODES: ReadonlySet<string> = new Set([
  'WG_ERR_HL7_FORMAT',
  'WG_ERR_HL7_UNSUPPORTED',
  'WG_ERR_HL7_SENDER',
  'WG_ERR_HL7_LOCATION',
  'WG_ERR_HL7_TIMEZONE',
  'WG_ERR_STORE',
  'WG_ERR_TOO_LARGE',
]);

/** The acknowledgment for a message of which nothing is usable, by the reasons its parts were refused. */
export function refusalAck(codes: readonly string[]): 'AE' | 'AR' {
  return codes.length > 0 && codes.every((c) => REJECT_CODES.has(c)) ? 'AR' : 'AE';
}

export function decide(parsed: Hl7Message, who: SenderIdentity, receivedTs: number, ctx: DecisionContext): Decision {
  if (parsed.segments.length > ctx.maxSegments) {
    return refused({
      code: 'WG_ERR_TOO_LARGE',
      message: `message of ${parsed.segments.length} segments exceeds hl7.maxSegmentsPerMessage (${ctx.maxSegments})`,
      hl7Code: 207,
    });
  }
  const rule = ctx.policy.identify(who);
  if ('code' in rule) return refused(rule);
  const report = mapPcd01(parsed, {
    ...(rule.timeZone && { zone: { timeZone: rule.timeZone } }),
    // No MSH-3 and no OBX-18 / PRT: the device is named by the sender's address and MSH-4 (some monitors put
    // their serial number there), never one constant shared by every such sender.
    fallbackDevice: ['hl7', deviceIdOf(who.address) ?? 'unknown-address', deviceIdOf(who.facility)]
      .filter(Boolean)
      .join('-')
      .slice(0, 64),
    policy: { now: receivedTs, maxFutureMs: ctx.maxFutureSkewMs },
  });
  if ('rejection' in report)
    return refused({ ...report.rejection, hl7Code: report.hl7Code, ...(report.where && { where: report.where }) });
  const pv1 = parsed.segments.find((s) => s.id === 'PV1');
  const pv1Where = pv1 && { where: { segment: 'PV1', position: pv1.position, field: 3 } };
  const resolved = ctx.locations.resolve(report.location);
  if ('refusal' in resolved)
    return refused({ code: 'WG_ERR_HL7_LOCATION', message: resolved.refusal, hl7Code: 207, ...pv1Where });
  const badBed = ctx.policy.bed(rule, resolved.bed);
  if (badBed) return refused({ ...badBed, hl7Code: 207, ...pv1Where });
  for (const group of report.groups) {
    const why = ctx.policy.device(rule, group.deviceId);
    if (why)
      return refused({
        code: 'WG_ERR_HL7_SENDER',
        message: why,
        hl7Code: 207,
        where: { segment: 'OBX', position: group.origins[0].segment, field: 18 },
      });
  }
  return { kind: 'report', report, rule, bed: resolved.bed };
}

/** The sender as the policy knows it: its address and MSH-3 / MSH-4 namespace ids. */
export function senderOf(parsed: Hl7Message, address: string): SenderIdentity {
  const msh = parsed.segments[0];
  return { address, application: value(parsed, msh, 3), facility: value(parsed, msh, 4) };
}

function refused(error: AckError): Decision {
  return { kind: 'refused', error };
}
