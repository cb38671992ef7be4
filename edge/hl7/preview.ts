// What the gateway would do with captured HL7 traffic, without a database or
// a socket: the same parse, sender policy, PCD-01 mapping, row checks and
// location map as the listener (decision.ts), then the readings each row
// would become. `wardgate check hl7` prints it; the corpus tests assert it.
// Patient identifiers are never part of the preview (only whether PID-3
// names a patient), so its output can be pasted into a ticket.
import { validateObservation } from '../../shared/observation.js';
import { isRejection } from '../../shared/timestamp.js';
import { decide, refusalAck, senderOf, type DecisionContext } from './decision.js';
import { readFlags } from './flags.js';
import { parseHl7 } from './message.js';
import type { SkipReason } from './pcd01.js';

export interface PreviewReading {
  /** The OBX row's position in the message. */
  readonly row: number;
  readonly device: string;
  readonly code: string;
  readonly value: number;
  readonly unit: string;
  readonly ts: string;
  /** Reading flags by name (artifact, unreliable, low, high, critical, abnormal, offScale, preliminary). */
  readonly flags: string[];
}

export interface PreviewRefusal {
  /** Where, as ERR-2 names it: `OBX(12)-6`, `MSH(1)-7`. */
  readonly where: string;
  readonly code: string;
  readonly message: string;
}

export interface MessagePreview {
  /** 1-based position of the message in its file. */
  readonly index: number;
  readonly controlId: string;
  readonly ack: 'AA' | 'AE' | 'AR';
  /** The message as a whole is refused (nothing stored): why. */
  readonly refused?: PreviewRefusal;
  /** MSH-11 D or T: nothing is patient data. */
  readonly demo?: string;
  readonly bed?: string;
  readonly patient?: 'named' | 'placeholder';
  readonly stored: PreviewReading[];
  readonly rowsRefused: PreviewRefusal[];
  readonly skipped: Partial<Record<SkipReason, number>>;
  readonly unmapped: string[];
  /** MSH-7 minus the time given as arrival (the file has none: the time of the check), seconds. */
  readonly clockOffsetSeconds?: number;
}

export function previewMessage(
  text: string,
  index: number,
  address: string,
  now: number,
  ctx: DecisionContext,
): MessagePreview {
  const parsed = parseHl7(text);
  const empty = { stored: [], rowsRefused: [], skipped: {}, unmapped: [] };
  if (isRejection(parsed)) {
    return {
      index,
      controlId: '',
      ack: 'AR',
      refused: { where: parsed.field ?? '', code: parsed.code, message: parsed.message },
      ...empty,
    };
  }
  const controlId = parsed.segments[0].fields[10] ?? '';
  const decision = decide(parsed, senderOf(parsed, address), now, ctx);
  if (decision.kind === 'refused') {
    const { error } = decision;
    const where = error.where ? `${error.where.segment}(${error.where.position})-${error.where.field}` : '';
    return {
      index,
      controlId,
      ack: refusalAck([error.code]),
      refused: { where, code: error.code, message: error.message },
      ...empty,
    };
  }
  const { report, bed } = decision;
  const stored: PreviewReading[] = [];
  for (const group of report.groups) {
    const checked = validateObservation({ seq: 0, obs: group.obs }, { now, maxFutureMs: ctx.maxFutureSkewMs });
    if (!checked.ok) continue;
    for (const r of checked.readings) {
      const i = group.obs.findIndex((o) => o.code === r.code);
      const flags = r.flags | (group.flags.get(r.code) ?? 0);
      stored.push({
        row: group.origins[i]?.segment ?? 0,
        device: group.deviceId,
        code: r.code,
        value: r.value,
        unit: r.unit,
        ts: new Date(r.ts).toISOString(),
        flags: readFlags(flags),
      });
    }
  }
  stored.sort((a, b) => a.row - b.row);
  const rowsRefused = report.refused.map((r) => ({
    where: `${r.where.segment}(${r.where.position})-${r.where.field}`,
    code: r.code,
    message: r.message,
  }));
  const usable = report.groups.length > 0;
  const ack = report.demo || usable || rowsRefused.length === 0 ? 'AA' : refusalAck(report.refused.map((r) => r.code));
  const skipped = Object.fromEntries(Object.entries(report.skipped).filter(([, n]) => n > 0)) as Partial<
    Record<SkipReason, number>
  >;
  return {
    index,
    controlId,
    ack,
    ...(report.demo && {
      demo: `MSH-11 '${report.processingId}': ${report.processingId === 'T' ? 'training' : 'debugging'} data, counted and not stored`,
    }),
    ...(bed !== '' && { bed }),
    ...(report.patient
      ? { patient: 'named' as const }
      : report.patientIgnored
        ? { patient: 'placeholder' as const }
        : {}),
    stored: report.demo ? [] : stored,
    rowsRefused,
    skipped,
    unmapped: report.unmapped,
    ...(report.messageTime !== undefined && { clockOffsetSeconds: Math.round((report.messageTime - now) / 1000) }),
  };
}

/**
 * The messages of a capture file: MLLP frames (0x0B ... 0x1C 0x0D) when it
 * holds any, else plain text where each MSH line starts a message and CR,
 * LF or CR LF end segments.
 */
export function splitCapture(bytes: Buffer): string[] {
  const text = bytes.toString('utf8');
  if (text.includes('\x0b')) {
    return text
      .split('\x0b')
      .slice(1)
      .map((frame) => frame.split('\x1c')[0])
      .filter((m) => m.trim() !== '');
  }
  const messages: string[][] = [];
  for (const line of text.split(/\r\n|\r|\n/)) {
    if (line.trim() === '') continue;
    if (line.startsWith('MSH') || messages.length === 0) messages.push([]);
    messages[messages.length - 1].push(line);
  }
  return messages.map((segments) => `${segments.join('\r')}\r`);
}
