// What the gateway does with one HL7 message: parse, check the sender, map
// PCD-01 OBX rows to observation messages per device, and commit them all
// before answering AA. A message is used whole or not at all: every group is
// validated before any is submitted, so an AE never leaves half a message
// stored. Refused messages are dead-lettered with their patient segments
// blanked (see message.ts). Whatever a message makes go wrong in here, it
// is that message that is refused (AE, WG_ERR_INTERNAL), never the
// connection or the process. Work is linear in the size of the message.
import type { Rejection } from '../../shared/errors.js';
import { reject } from '../../shared/errors.js';
import { validateObservation } from '../../shared/observation.js';
import type { ObservationMessage } from '../../shared/reading.js';
import { isRejection } from '../../shared/timestamp.js';
import { contentSeq } from '../ingest/derivedSeq.js';
import type { Ingestor } from '../ingest/ingestor.js';
import type { IngestOutcome } from '../ingest/types.js';
import { buildAck, type AckCode, type AckError } from './ack.js';
import { parseHl7, redactPatientData, value, type Hl7Message } from './message.js';
import { deviceIdOf, mapPcd01, type DeviceGroup, type Pcd01Report, type SkipReason } from './pcd01.js';
import type { SenderPolicy } from './senderPolicy.js';

export interface OruHandlerDeps {
  readonly ingestor: Ingestor;
  readonly gatewayId: string;
  readonly ward: string;
  /** Who may report which devices and beds. */
  readonly policy: SenderPolicy;
  /** Messages with more segments are refused (AR, WG_ERR_TOO_LARGE). */
  readonly maxSegments: number;
  readonly maxFutureSkewMs: number;
  readonly onSkipped?: (reason: SkipReason, n: number) => void;
  /** A message made the handler fail: it was refused with AE; the listener counts and logs it. */
  readonly onFailure?: (err: unknown) => void;
  readonly now?: () => number;
}

/** What the handler had read of a message when it failed, to answer and dead-letter it. */
interface Seen {
  text: string;
  parsed?: Hl7Message;
}

export interface Answer {
  readonly code: AckCode;
  /** The ACK message text, to be framed. */
  readonly ack: string;
  readonly rejection?: Rejection;
}

/** Where an observation field refused by the validator lives in an OBX row. */
const OBX_FIELD: ReadonlyMap<string, number> = new Map([['code', 3], ['value', 5], ['unit', 6], ['ts', 14]]);
/** Conditions the sender cannot fix by editing the message content: AR. */
const REJECT_CODES = new Set(['WG_ERR_HL7_FORMAT', 'WG_ERR_HL7_UNSUPPORTED', 'WG_ERR_HL7_SENDER', 'WG_ERR_STORE', 'WG_ERR_TOO_LARGE']);

export class OruHandler {
  readonly #deps: OruHandlerDeps;
  readonly #now: () => number;
  #acks = 0;

  constructor(deps: OruHandlerDeps) {
    this.#deps = deps;
    this.#now = deps.now ?? Date.now;
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
    if (isRejection(parsed)) return this.#refuse(undefined, text, peer, receivedTs, { code: parsed.code, message: parsed.message, hl7Code: 100 });
    seen.parsed = parsed;
    if (parsed.segments.length > this.#deps.maxSegments) {
      const message = `message of ${parsed.segments.length} segments exceeds hl7.maxSegmentsPerMessage (${this.#deps.maxSegments})`;
      return this.#refuse(parsed, text, peer, receivedTs, { code: 'WG_ERR_TOO_LARGE', message, hl7Code: 207 });
    }
    const msh = parsed.segments[0];
    const rule = this.#deps.policy.identify({ address, application: value(parsed, msh, 3), facility: value(parsed, msh, 4) });
    if ('code' in rule) return this.#refuse(parsed, text, peer, receivedTs, rule);
    const report = mapPcd01(parsed);
    if ('rejection' in report) return this.#refuse(parsed, text, peer, receivedTs, { ...report.rejection, hl7Code: report.hl7Code, ...(report.where && { where: report.where }) });
    const pv1 = parsed.segments.find((s) => s.id === 'PV1');
    const badBed = this.#deps.policy.bed(rule, report.location?.bed ?? '');
    if (badBed) return this.#refuse(parsed, text, peer, receivedTs, { ...badBed, hl7Code: 207, ...(pv1 && { where: { segment: 'PV1', position: pv1.position, field: 3 } }) });
    for (const group of report.groups) {
      const why = this.#deps.policy.device(rule, group.deviceId);
      if (why) return this.#refuse(parsed, text, peer, receivedTs, { code: 'WG_ERR_HL7_SENDER', message: why, hl7Code: 207, where: { segment: 'OBX', position: group.origins[0].segment, field: 18 } });
    }
    for (const [reason, n] of Object.entries(report.skipped)) if (n) this.#deps.onSkipped?.(reason as SkipReason, n);

    const messages = report.groups.map((g) => this.#message(g, report, receivedTs));
    for (let i = 0; i < messages.length; i++) {
      const checked = validateObservation(messages[i], { now: receivedTs, maxFutureMs: this.#deps.maxFutureSkewMs });
      if (!checked.ok) return this.#refuse(parsed, text, peer, receivedTs, this.#locate(checked.error, report.groups[i]));
    }
    // Redacted once for the whole message: every group shares the bytes (once per group was quadratic).
    const raw = Buffer.from(redactPatientData(text));
    let outcomes: IngestOutcome[];
    try {
      outcomes = await Promise.all(messages.map((m, i) => this.#submit(m, report, report.groups[i], raw, peer, receivedTs)));
    } catch (err) {
      // Nothing was acknowledged: the sender retries, and what did commit is then a repeat.
      return this.#answer(parsed, 'AR', { code: 'WG_ERR_STORE', message: `the readings could not be committed (${(err as Error).message}); retry`, hl7Code: 207 });
    }
    const refused = outcomes.find((o): o is Extract<IngestOutcome, { outcome: 'rejected' }> => o.outcome === 'rejected');
    if (refused) {
      const hl7Code = refused.rejection.code === 'WG_ERR_SEQ_CONFLICT' ? 205 : 207;
      return this.#answer(parsed, 'AE', { code: refused.rejection.code, message: refused.rejection.message, hl7Code });
    }
    return this.#answer(parsed, 'AA');
  }

  /** A frame beyond hl7.maxMessageBytes: answered from its head (MSH) with AR, dead-lettered with the head only. */
  async overlong(head: Buffer, size: number, limit: number, peer: string): Promise<Answer> {
    const receivedTs = this.#now();
    const seen: Seen = { text: head.toString('utf8') };
    try {
      const parsed = parseHl7(seen.text);
      if (!isRejection(parsed)) seen.parsed = parsed;
      const error: AckError = { code: 'WG_ERR_TOO_LARGE', message: `message of ${size} bytes exceeds hl7.maxMessageBytes (${limit})`, hl7Code: 207 };
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
    const error: AckError = { code: 'WG_ERR_INTERNAL', message: `the message could not be processed (${name}); it was refused and logged`, hl7Code: 207 };
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
  #message(group: DeviceGroup, report: Pcd01Report, receivedTs: number): ObservationMessage {
    const first = group.obs.find((o) => typeof o.ts === 'number')?.ts as number | undefined;
    const seq = contentSeq(first ?? receivedTs, this.#content(group, report));
    return { seq, ...(first !== undefined && { ts: first }), obs: group.obs };
  }

  #content(group: DeviceGroup, report: Pcd01Report): string {
    return JSON.stringify([group.deviceId, report.location?.bed ?? '', report.patient ?? null, group.obs]);
  }

  #submit(message: ObservationMessage, report: Pcd01Report, group: DeviceGroup, raw: Buffer, peer: string, receivedTs: number): Promise<IngestOutcome> {
    const bed = report.location?.bed || undefined;
    return new Promise((resolve, reject) =>
      this.#deps.ingestor.decoded(
        {
          source: 'hl7',
          deviceId: group.deviceId,
          message,
          content: Buffer.from(this.#content(group, report)),
          raw,
          topic: `mllp ${peer}`,
          receivedTs,
          register: true,
          derivedSeq: true,
          ...(bed !== undefined && { bed }),
          ...(report.patient && { patient: report.patient }),
        },
        (err, result) => (err ? reject(err) : resolve(result!)),
      ),
    );
  }

  /** Maps a validator rejection (`obs[2].unit`) to the OBX row and field it came from. */
  #locate(rejection: Rejection, group: DeviceGroup): AckError {
    const m = /^obs\[(\d+)\]\.(\w+)$/.exec(rejection.field ?? '');
    const origin = m ? group.origins[Number(m[1])] : undefined;
    const field = m ? OBX_FIELD.get(m[2]) : undefined;
    const hl7Code = rejection.code === 'WG_ERR_UNIT' ? 103 : 102;
    if (!origin || field === undefined) return { code: rejection.code, message: rejection.message, hl7Code };
    return { code: rejection.code, message: rejection.message.replace(/^/, `OBX-${field}: `), hl7Code, where: { segment: 'OBX', position: origin.segment, field } };
  }

  async #refuse(msg: Hl7Message | undefined, text: string, peer: string, receivedTs: number, error: AckError): Promise<Answer> {
    const sender = msg ? deviceIdOf(value(msg, msg.segments[0], 3)) : undefined;
    const rejection = reject(error.code, error.message, error.where ? `${error.where.segment}(${error.where.position})-${error.where.field}` : undefined);
    const payload = Buffer.from(redactPatientData(text));
    await new Promise<void>((resolve, fail) => {
      try {
        this.#deps.ingestor.deadLetter({ source: 'hl7', deviceId: sender ?? 'hl7-sender', payload, topic: `mllp ${peer}`, receivedTs }, rejection, () => resolve());
      } catch (err) {
        fail(err);
      }
    });
    return this.#answer(msg, REJECT_CODES.has(error.code) ? 'AR' : 'AE', error);
  }

  #answer(msg: Hl7Message | undefined, code: AckCode, error?: AckError): Answer {
    const msh = msg?.segments[0];
    const ack = buildAck({
      code,
      controlId: msg ? value(msg, msh, 10) : '',
      ...(msg && {
        sendingApplication: value(msg, msh, 3),
        sendingFacility: value(msg, msh, 4),
        version: value(msg, msh, 12),
        processingId: value(msg, msh, 11),
      }),
      ...(error && { error }),
      gatewayId: this.#deps.gatewayId,
      ward: this.#deps.ward,
      ackControlId: `WG${this.#now().toString(36)}${(this.#acks++ % 1296).toString(36)}`,
      now: this.#now(),
    });
    return { code, ack, ...(error && { rejection: reject(error.code, error.message) }) };
  }
}
