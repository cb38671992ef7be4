// What the gateway does with one HL7 message: parse, decide (sender policy,
// PCD-01 rows, location; decision.ts), commit the usable rows, dead-letter
// the refused ones, and answer once all of that is durable. Rows, not
// messages, are the unit: a row with a unit or status the gateway cannot use
// is refused alone (named in an ERR segment of the ACK, dead-lettered with
// its reason) while the SpO2, pulse and NIBP beside it are stored and the
// message is answered AA. AE or AR only when nothing in the message is
// usable (docs/HL7.md). Demo and test data (MSH-11 D or T) is never patient
// data: counted, logged, answered AA with an information ERR, not stored.
// Dead letters hold the message with its patient segments blanked (see
// message.ts). Whatever a message makes go wrong in here, it is that message
// that is refused (AE, WG_ERR_INTERNAL), never the connection or the process.
// Work is linear in the size of the message.
import { reject } from '../../shared/errors.js';
import type { ObservationMessage } from '../../shared/reading.js';
import { isRejection } from '../../shared/timestamp.js';
import { contentSeq } from '../ingest/derivedSeq.js';
import type { Ingestor } from '../ingest/ingestor.js';
import type { IngestOutcome } from '../ingest/types.js';
import type { AckCode, AckError } from './ack.js';
import { acknowledge, type Answer } from './answer.js';
import { decide, refusalAck, senderOf } from './decision.js';
import { LocationMap } from './locationMap.js';
import { parseHl7, redactPatientData, value, type Hl7Message } from './message.js';
import { deviceIdOf, type DeviceGroup, type Pcd01Report, type RowRefusal, type SkipReason } from './pcd01.js';
import type { SenderPolicy } from './senderPolicy.js';

export interface OruHandlerDeps {
  readonly ingestor: Ingestor;
  readonly gatewayId: string;
  readonly ward: string;
  /** Who may report which devices and beds. */
  readonly policy: SenderPolicy;
  /** PV1-3 locations to the ward's beds (hl7.locations); absent: the bed component as is. */
  readonly locations?: LocationMap;
  /** Messages with more segments are refused (AR, WG_ERR_TOO_LARGE). */
  readonly maxSegments: number;
  readonly maxFutureSkewMs: number;
  readonly onSkipped?: (reason: SkipReason, n: number) => void;
  /** An OBX row whose code the gateway does not map (OBX-3 identifier). */
  readonly onUnmapped?: (code: string) => void;
  /** A message of demo or test data (MSH-11 D or T, or rows so marked): not stored. */
  readonly onDemo?: (sender: string, rows: number, processingId: string) => void;
  /** A sender's clock against ours: MSH-7 minus the arrival time, ms. */
  readonly onClock?: (sender: string, offsetMs: number) => void;
  /** A message made the handler fail: it was refused with AE; the listener counts and logs it. */
  readonly onFailure?: (err: unknown) => void;
  readonly now?: () => number;
}

/** What the handler had read of a message when it failed, to answer and dead-letter it. */
interface Seen {
  text: string;
  parsed?: Hl7Message;
}

export type { Answer } from './answer.js';

/** ERR segments in one ACK at most; the rest are summed up in one more (every row is in the dead letters). */
const MAX_ERR_SEGMENTS = 32;

export class OruHandler {
  readonly #deps: OruHandlerDeps;
  readonly #now: () => number;
  readonly #locations: LocationMap;
  #acks = 0;

  constructor(deps: OruHandlerDeps) {
    this.#deps = deps;
    this.#now = deps.now ?? Date.now;
    this.#locations = deps.locations ?? new LocationMap([], 'refuse');
  }

  /** `address`: the peer's address, by which (with MSH-3/MSH-4) the sender is known. */
  async handle(bytes: Buffer, peer: string, address = ''): Promise<Answer> {
    const receivedTs = this.#now();
    const seen: Seen = { text: '' };
    try {
      return await this.#handle(bytes, peer, address, receivedTs, seen);
    } catch (err) {
      return this.#failed(err, seen, peer, receivedTs);
    }
  }

  async #handle(bytes: Buffer, peer: string, address: string, receivedTs: number, seen: Seen): Promise<Answer> {
    const text = bytes.toString('utf8');
    seen.text = text;
    const parsed = parseHl7(text);
    if (isRejection(parsed))
      return this.#refuse(undefined, text, peer, receivedTs, {
        code: parsed.code,
        message: parsed.message,
        hl7Code: 100,
      });
    seen.parsed = parsed;
    const decision = decide(parsed, senderOf(parsed, address), receivedTs, {
      policy: this.#deps.policy,
      locations: this.#locations,
      maxSegments: this.#deps.maxSegments,
      maxFutureSkewMs: this.#deps.maxFutureSkewMs,
    });
    if (decision.kind === 'refused') return this.#refuse(parsed, text, peer, receivedTs, decision.error);
    const { report, rule, bed } = decision;
    if (report.messageTime !== undefined) this.#deps.onClock?.(rule.label, report.messageTime - receivedTs);
    for (const [reason, n] of Object.entries(report.skipped)) if (n) this.#deps.onSkipped?.(reason as SkipReason, n);
    for (const code of report.unmapped) this.#deps.onUnmapped?.(code);

    if (report.demo) {
      const rows = report.groups.reduce((n, g) => n + g.obs.length, 0);
      this.#deps.onDemo?.(rule.label, rows, report.processingId);
      const info: AckError = {
        code: 'WG_ERR_HL7_DEMO',
        message: `processing id '${report.processingId}' (MSH-11): ${rows} row(s) of ${report.processingId === 'T' ? 'training' : 'debugging'} data, counted and not stored as patient data`,
        hl7Code: 0,
        severity: 'I',
        where: { segment: 'MSH', position: 1, field: 11 },
      };
      return this.#answer(parsed, 'AA', undefined, [info]);
    }
    if (report.skipped.demo) this.#deps.onDemo?.(rule.label, report.skipped.demo, report.processingId);

    const lines = text.split(/\r\n|\r|\n/).filter((l) => l !== '');
    const messages = report.groups.map((g) => this.#message(g, report, bed, receivedTs));
    // Redacted once for the whole message: every group shares the bytes (once per group was quadratic).
    const raw = Buffer.from(redactPatientData(text));
    let outcomes: IngestOutcome[];
    try {
      [outcomes] = await Promise.all([
        Promise.all(messages.map((m, i) => this.#submit(m, report, bed, report.groups[i], raw, peer, receivedTs))),
        Promise.all(report.refused.map((row) => this.#deadLetterRow(row, lines, peer, receivedTs))),
      ]);
    } catch (err) {
      // Nothing was acknowledged: the sender retries, and what did commit is then a repeat.
      return this.#answer(parsed, 'AR', {
        code: 'WG_ERR_STORE',
        message: `the readings could not be committed (${(err as Error).message}); retry`,
        hl7Code: 207,
      });
    }
    const rowErrors: AckError[] = report.refused.map((row) => ({
      code: row.code,
      message: row.message,
      hl7Code: row.hl7Code,
      where: row.where,
    }));
    let usable = 0;
    outcomes.forEach((o, i) => {
      if (o.outcome !== 'rejected') usable++;
      else {
        const hl7Code = o.rejection.code === 'WG_ERR_SEQ_CONFLICT' ? 205 : 207;
        for (const origin of report.groups[i].origins)
          rowErrors.push({
            code: o.rejection.code,
            message: o.rejection.message,
            hl7Code,
            where: { segment: 'OBX', position: origin.segment, field: 3 },
          });
      }
    });
    if (rowErrors.length === 0) return this.#answer(parsed, 'AA');
    if (usable > 0)
      return this.#answer(parsed, 'AA', undefined, capped(rowErrors.map((e) => ({ ...e, severity: 'W' as const }))));
    const code: AckCode = refusalAck(rowErrors.map((e) => e.code));
    const [first, ...rest] = capped(rowErrors);
    return this.#answer(
      parsed,
      code,
      { ...first, message: `no row of the message could be used: ${first.message}` },
      rest,
    );
  }

  /** A frame beyond hl7.maxMessageBytes: answered from its head (MSH) with AR, dead-lettered with the head only. */
  async overlong(head: Buffer, size: number, limit: number, peer: string): Promise<Answer> {
    const receivedTs = this.#now();
    const seen: Seen = { text: head.toString('utf8') };
    try {
      const parsed = parseHl7(seen.text);
      if (!isRejection(parsed)) seen.parsed = parsed;
      const error: AckError = {
        code: 'WG_ERR_TOO_LARGE',
        message: `message of ${size} bytes exceeds hl7.maxMessageBytes (${limit})`,
        hl7Code: 207,
      };
      return await this.#refuse(seen.parsed, seen.text, peer, receivedTs, error);
    } catch (err) {
      return this.#failed(err, seen, peer, receivedTs);
    }
  }

  /**
   * The handler failed on this message (a defect a hostile or odd message
   * found): it is refused with AE, as resending it would fail again, and
   * dead-lettered. The answer is built from less and less of the message,
   * so that even a failure in reading MSH still answers.
   */
  async #failed(err: unknown, seen: Seen, peer: string, receivedTs: number): Promise<Answer> {
    try {
      this.#deps.onFailure?.(err);
    } catch {
      // Counting must not stop the answer.
    }
    const name = err instanceof Error ? err.name : typeof err;
    const error: AckError = {
      code: 'WG_ERR_INTERNAL',
      message: `the message could not be processed (${name}); it was refused and logged`,
      hl7Code: 207,
    };
    try {
      return await this.#refuse(seen.parsed, seen.text, peer, receivedTs, error);
    } catch {
      try {
        return await this.#refuse(undefined, seen.text, peer, receivedTs, error);
      } catch {
        return this.#answer(undefined, 'AE', error);
      }
    }
  }

  /**
   * One device's entries as an observation message. Its seq comes from the
   * observation time and the content (device, bed, patient, entries), not
   * from MSH-10: a retransmission, even under a new control id, is a repeat.
   */
  #message(group: DeviceGroup, report: Pcd01Report, bed: string, receivedTs: number): ObservationMessage {
    const first = group.obs.find((o) => typeof o.ts === 'number')?.ts as number | undefined;
    const seq = contentSeq(first ?? receivedTs, this.#content(group, report, bed));
    return { seq, ...(first !== undefined && { ts: first }), obs: group.obs };
  }

  #content(group: DeviceGroup, report: Pcd01Report, bed: string): string {
    return JSON.stringify([group.deviceId, bed, report.patient ?? null, group.obs]);
  }

  #submit(
    message: ObservationMessage,
    report: Pcd01Report,
    bed: string,
    group: DeviceGroup,
    raw: Buffer,
    peer: string,
    receivedTs: number,
  ): Promise<IngestOutcome> {
    return new Promise((resolve, reject) =>
      this.#deps.ingestor.decoded(
        {
          source: 'hl7',
          deviceId: group.deviceId,
          message,
          content: Buffer.from(this.#content(group, report, bed)),
          raw,
          topic: `mllp ${peer}`,
          receivedTs,
          register: true,
          derivedSeq: true,
          ...(group.flags.size > 0 && { flags: group.flags }),
          ...(bed !== '' && { bed }),
          ...(report.patient && { patient: report.patient }),
        },
        (err, result) => (err ? reject(err) : resolve(result!)),
      ),
    );
  }

  /** A refused row, dead-lettered alone: MSH and the row itself (no patient segment), with its reason and location. */
  #deadLetterRow(row: RowRefusal, lines: readonly string[], peer: string, receivedTs: number): Promise<void> {
    const payload = Buffer.from(redactPatientData(`${lines[0] ?? ''}\r${lines[row.segment - 1] ?? ''}\r`));
    const rejection = reject(row.code, row.message, `${row.where.segment}(${row.where.position})-${row.where.field}`);
    return new Promise<void>((resolve, fail) => {
      try {
        this.#deps.ingestor.deadLetter(
          { source: 'hl7', deviceId: row.deviceId ?? 'hl7-sender', payload, topic: `mllp ${peer}`, receivedTs },
          rejection,
          () => resolve(),
        );
      } catch (err) {
        fail(err);
      }
    });
  }

  async #refuse(
    msg: Hl7Message | undefined,
    text: string,
    peer: string,
    receivedTs: number,
    error: AckError,
  ): Promise<Answer> {
    const sender = msg ? deviceIdOf(value(msg, msg.segments[0], 3)) : undefined;
    const rejection = reject(
      error.code,
      error.message,
      error.where ? `${error.where.segment}(${error.where.position})-${error.where.field}` : undefined,
    );
    const payload = Buffer.from(redactPatientData(text));
    await new Promise<void>((resolve, fail) => {
      try {
        this.#deps.ingestor.deadLetter(
          { source: 'hl7', deviceId: sender ?? 'hl7-sender', payload, topic: `mllp ${peer}`, receivedTs },
          rejection,
          () => resolve(),
        );
      } catch (err) {
        fail(err);
      }
    });
    return this.#answer(msg ?? text, refusalAck([error.code]), error);
  }

  /** `msg`: the message, or its text when it did not parse (see acknowledge). */
  #answer(msg: Hl7Message | string | undefined, code: AckCode, error?: AckError, errors?: readonly AckError[]): Answer {
    const us = {
      gatewayId: this.#deps.gatewayId,
      ward: this.#deps.ward,
      ackControlId: `WG${this.#now().toString(36)}${(this.#acks++ % 1296).toString(36)}`,
      now: this.#now(),
    };
    return acknowledge(msg, code, us, error, errors);
  }
}

/** At most MAX_ERR_SEGMENTS errors, the last one saying how many more there were. */
function capped(errors: AckError[]): AckError[] {
  if (errors.length <= MAX_ERR_SEGMENTS) return errors;
  const more = errors.length - (MAX_ERR_SEGMENTS - 1);
  return [
    ...errors.slice(0, MAX_ERR_SEGMENTS - 1),
    {
      code: errors[0].code,
      message: `${more} more row(s) refused; each is in the dead letters`,
      hl7Code: 207,
      severity: errors[0].severity ?? 'E',
    },
  ];
}
