// What the gateway does with one HL7 message: parse, check the sender, map
// PCD-01 OBX rows to observation messages per device, and commit them all
// before answering AA. A message is used whole or not at all: every group is
// validated before any is submitted, so an AE never leaves half a message
// stored. Refused messages are dead-lettered with their patient segments
// blanked (see message.ts).
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

export interface OruHandlerDeps {
  readonly ingestor: Ingestor;
  readonly gatewayId: string;
  readonly ward: string;
  /** MSH-3 namespace ids allowed; empty: any. */
  readonly allowedApplications: readonly string[];
  readonly maxFutureSkewMs: number;
  readonly onSkipped?: (reason: SkipReason, n: number) => void;
  readonly now?: () => number;
}

export interface Answer {
  readonly code: AckCode;
  /** The ACK message text, to be framed. */
  readonly ack: string;
  readonly rejection?: Rejection;
}

/** Where an observation field refused by the validator lives in an OBX row. */
const OBX_FIELD: Record<string, number> = { code: 3, value: 5, unit: 6, ts: 14 };
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

  async handle(bytes: Buffer, peer: string): Promise<Answer> {
    const receivedTs = this.#now();
    const text = bytes.toString('utf8');
    const parsed = parseHl7(text);
    if (isRejection(parsed)) return this.#refuse(undefined, text, peer, receivedTs, { code: parsed.code, message: parsed.message, hl7Code: 100 });
    const sender = value(parsed, parsed.segments[0], 3);
    const { allowedApplications } = this.#deps;
    if (allowedApplications.length && !allowedApplications.includes(sender)) {
      const message = `sending application '${sender}' (MSH-3) is not in hl7.allowedApplications`;
      return this.#refuse(parsed, text, peer, receivedTs, { code: 'WG_ERR_HL7_SENDER', message, hl7Code: 207, where: { segment: 'MSH', position: 1, field: 3 } });
    }
    const report = mapPcd01(parsed);
    if ('rejection' in report) return this.#refuse(parsed, text, peer, receivedTs, { ...report.rejection, hl7Code: report.hl7Code, ...(report.where && { where: report.where }) });
    for (const [reason, n] of Object.entries(report.skipped)) if (n) this.#deps.onSkipped?.(reason as SkipReason, n);

    const messages = report.groups.map((g) => this.#message(g, report, receivedTs));
    for (let i = 0; i < messages.length; i++) {
      const checked = validateObservation(messages[i], { now: receivedTs, maxFutureMs: this.#deps.maxFutureSkewMs });
      if (!checked.ok) return this.#refuse(parsed, text, peer, receivedTs, this.#locate(checked.error, report.groups[i]));
    }
    let outcomes: IngestOutcome[];
    try {
      outcomes = await Promise.all(messages.map((m, i) => this.#submit(m, report, report.groups[i], text, peer, receivedTs)));
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
    const text = head.toString('utf8');
    const parsed = parseHl7(text);
    const error: AckError = { code: 'WG_ERR_TOO_LARGE', message: `message of ${size} bytes exceeds hl7.maxMessageBytes (${limit})`, hl7Code: 207 };
    return this.#refuse(isRejection(parsed) ? undefined : parsed, text, peer, this.#now(), error);
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

  #submit(message: ObservationMessage, report: Pcd01Report, group: DeviceGroup, text: string, peer: string, receivedTs: number): Promise<IngestOutcome> {
    const bed = report.location?.bed || undefined;
    return new Promise((resolve, reject) =>
      this.#deps.ingestor.decoded(
        {
          source: 'hl7',
          deviceId: group.deviceId,
          message,
          content: Buffer.from(this.#content(group, report)),
          raw: Buffer.from(redactPatientData(text)),
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
    const field = m ? OBX_FIELD[m[2]] : undefined;
    const hl7Code = rejection.code === 'WG_ERR_UNIT' ? 103 : 102;
    if (!origin || field === undefined) return { code: rejection.code, message: rejection.message, hl7Code };
    return { code: rejection.code, message: rejection.message.replace(/^/, `OBX-${field}: `), hl7Code, where: { segment: 'OBX', position: origin.segment, field } };
  }

  async #refuse(msg: Hl7Message | undefined, text: string, peer: string, receivedTs: number, error: AckError): Promise<Answer> {
    const sender = msg ? deviceIdOf(value(msg, msg.segments[0], 3)) : undefined;
    const rejection = reject(error.code, error.message, error.where ? `${error.where.segment}(${error.where.position})-${error.where.field}` : undefined);
    await new Promise<void>((resolve) =>
      this.#deps.ingestor.deadLetter(
        { source: 'hl7', deviceId: sender ?? 'hl7-sender', payload: Buffer.from(redactPatientData(text)), topic: `mllp ${peer}`, receivedTs },
        rejection,
        () => resolve(),
      ),
    );
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
