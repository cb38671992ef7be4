// One ADT message in, one ACK out: parse, check the sender, read the event,
// place PV1-3 on this ward or elsewhere, apply it once (adtRecorder.ts), and
// answer only after that commit. AA when applied, already applied (a resend),
// or deliberately without effect (an event the ward does not use, another
// ward's patient, demo data); AE when the content is wrong (no usable patient
// identifier, a control id reused for other content); AR when the sender, the
// message type or the store refuses it now (the sender keeps and resends it).
// Nothing of the patient is logged; refusals name fields, never values.
import { HL7_BED_ID } from '../config/schema.js';
import type { AckCode, AckError } from '../hl7/ack.js';
import { acknowledge, type Answer } from '../hl7/answer.js';
import { refusalAck } from '../hl7/decision.js';
import { LocationMap } from '../hl7/locationMap.js';
import { parseHl7, value, type Hl7Message } from '../hl7/message.js';
import type { MessageHandler } from '../hl7/connection.js';
import { isRejection } from '../../shared/timestamp.js';
import type { AdtOutcome, AdtRecorder, Placement } from '../patients/adtRecorder.js';
import type { AdtConfig, AdtLocationConfig } from './adtConfig.js';
import { readAdt, type PatientLocation } from './adtMessage.js';

export interface AdtHandlerDeps {
  readonly config: AdtConfig;
  /** This ward's PV1-3 locations (hl7.adt.locations, else hl7.locations). */
  readonly locations: readonly AdtLocationConfig[];
  readonly recorder: AdtRecorder;
  /** Our MSH-3 / MSH-4 in the ACK. */
  readonly application: string;
  readonly facility: string;
  /** After a commit that changed who lies in these beds (the screens, the alarm engine). */
  readonly onChanged: (beds: readonly string[]) => void;
  /** Every answer, for the link's status and counts. */
  readonly onAnswer?: (outcome: AdtAnswerKind, event: string) => void;
  /** The store failed (AR sent): the listener logs it, without the message. */
  readonly onFailure?: (err: unknown) => void;
  readonly now?: () => number;
}

export type AdtAnswerKind = 'applied' | 'no-effect' | 'duplicate' | 'stale' | 'ignored' | 'demo' | 'AE' | 'AR';

export class AdtHandler implements MessageHandler {
  readonly #deps: AdtHandlerDeps;
  readonly #locations: LocationMap;
  readonly #now: () => number;
  #acks = 0;

  constructor(deps: AdtHandlerDeps) {
    this.#deps = deps;
    this.#now = deps.now ?? Date.now;
    // 'refuse' here means "not this ward's": for ADT that is a transfer elsewhere, not an error.
    this.#locations = new LocationMap(
      deps.locations.map((l) => ({ ...l })),
      'refuse',
    );
  }

  async handle(bytes: Buffer, _peer: string, address = ''): Promise<Answer> {
    try {
      return this.#handle(bytes, address);
    } catch (err) {
      // A defect a message found: that message is refused (resending it would fail again), never the link.
      this.#deps.onFailure?.(err);
      return this.#answer(undefined, 'AE', 'AE', {
        code: 'WG_ERR_INTERNAL',
        message: `the message could not be processed (${err instanceof Error ? err.name : typeof err})`,
        hl7Code: 207,
      });
    }
  }

  #handle(bytes: Buffer, address: string): Answer {
    const receivedTs = this.#now();
    const text = bytes.toString('utf8');
    const parsed = parseHl7(text);
    if (isRejection(parsed))
      return this.#answer(text, 'AR', 'AR', { code: parsed.code, message: parsed.message, hl7Code: 100 });
    const msh = parsed.segments[0];
    const sender = this.#sender(parsed, address);
    if (typeof sender !== 'string') return this.#answer(parsed, 'AR', 'AR', sender);
    const reading = readAdt(parsed, this.#deps.config.identifier, receivedTs);
    switch (reading.kind) {
      case 'refused':
        return this.#answer(parsed, refusalAck([reading.error.code]), undefined, reading.error);
      case 'demo':
        return this.#answer(parsed, 'AA', 'demo', undefined, [
          {
            code: 'WG_ERR_HL7_DEMO',
            hl7Code: 0,
            severity: 'I',
            where: { segment: 'MSH', position: 1, field: 11 },
            message: `processing id '${reading.processingId}' (MSH-11): ${reading.processingId === 'T' ? 'training' : 'debugging'} data, not applied to the ward's admissions`,
          },
        ]);
      case 'ignored':
        return this.#answer(parsed, 'AA', 'ignored', undefined, [
          {
            code: 'WG_ERR_HL7_UNSUPPORTED',
            hl7Code: 201,
            severity: 'I',
            where: { segment: 'MSH', position: 1, field: 9 },
            message: `event '${reading.event}' changes nothing on this ward (it acts on A01, A02, A03, A04, A08, A11, A12, A13, A40)`,
          },
        ]);
    }
    const { adt } = reading;
    const placement = this.#place(adt.location);
    if ('refusal' in placement) {
      const pv1 = parsed.segments.find((s) => s.id === 'PV1');
      return this.#answer(parsed, 'AR', 'AR', {
        code: 'WG_ERR_HL7_FORMAT',
        message: placement.refusal,
        hl7Code: 102,
        ...(pv1 && { where: { segment: 'PV1', position: pv1.position, field: 3 } }),
      });
    }
    let outcome: AdtOutcome;
    try {
      outcome = this.#deps.recorder.apply(sender, adt, placement);
    } catch (err) {
      this.#deps.onFailure?.(err);
      // Nothing committed, nothing acknowledged: the ADT system resends, and it is applied then.
      return this.#answer(parsed, 'AR', 'AR', {
        code: 'WG_ERR_STORE',
        message: 'the event could not be committed; send it again',
        hl7Code: 207,
      });
    }
    if (outcome.kind === 'conflict') {
      return this.#answer(parsed, 'AE', 'AE', {
        code: 'WG_ERR_SEQ_CONFLICT',
        hl7Code: 205,
        where: { segment: 'MSH', position: msh.position, field: 10 },
        message: 'this MSH-10 (message control id) was applied before with other content; the message is not applied',
      });
    }
    if (outcome.kind === 'applied' && outcome.changed) this.#deps.onChanged(outcome.beds);
    return this.#answer(
      parsed,
      'AA',
      outcome.kind === 'applied' ? (outcome.changed ? 'applied' : 'no-effect') : outcome.kind,
    );
  }

  async overlong(head: Buffer, size: number, limit: number): Promise<Answer> {
    const text = head.toString('utf8');
    const parsed = parseHl7(text);
    return this.#answer(isRejection(parsed) ? text : parsed, 'AR', 'AR', {
      code: 'WG_ERR_TOO_LARGE',
      message: `message of ${size} bytes exceeds hl7.adt.maxMessageBytes (${limit})`,
      hl7Code: 207,
    });
  }

  /** The sender as listed in hl7.adt.senders (`application` or `application/facility`), or why it may not send. */
  #sender(msg: Hl7Message, address: string): string | AckError {
    const msh = msg.segments[0];
    const application = value(msg, msh, 3);
    const facility = value(msg, msh, 4);
    const match = this.#deps.config.senders.find(
      (s) =>
        s.application === application &&
        (s.facility === undefined || s.facility === facility) &&
        (s.addresses === undefined || s.addresses.includes(address)),
    );
    if (match) return facility ? `${application}/${facility}` : application;
    return {
      code: 'WG_ERR_HL7_SENDER',
      message: `sending application '${application}' (MSH-3) with facility '${facility}' (MSH-4) from ${address} is not in hl7.adt.senders`,
      hl7Code: 207,
      where: { segment: 'MSH', position: 1, field: 3 },
    };
  }

  /** PV1-3 on this ward (a bed, or the ward without one), elsewhere, or absent. */
  #place(location: PatientLocation | undefined): Placement | { refusal: string } {
    if (!location) return { kind: 'none' };
    const resolved = this.#locations.resolve({ ...location, facility: '' });
    if ('refusal' in resolved) return { kind: 'elsewhere' };
    if (resolved.bed === '') return { kind: 'ward' };
    if (!HL7_BED_ID.test(resolved.bed))
      return {
        refusal:
          'PV1-3 bed is not a bed id (1-32 letters, digits, dot, dash or underscore); map it with wardBed in hl7.adt.locations',
      };
    return { kind: 'bed', bed: resolved.bed };
  }

  /** `msg`: the message, or its text when it did not parse (see acknowledge). */
  #answer(
    msg: Hl7Message | string | undefined,
    code: AckCode,
    kind: AdtAnswerKind | undefined,
    error?: AckError,
    errors?: readonly AckError[],
  ): Answer {
    const trigger = typeof msg === 'object' ? value(msg, msg.segments[0], 9, 2) : '';
    try {
      this.#deps.onAnswer?.(kind ?? (code === 'AA' ? 'applied' : code), trigger);
    } catch {
      // Counting must not stop the answer.
    }
    const us = {
      gatewayId: this.#deps.application,
      ward: this.#deps.facility,
      ackControlId: `WGA${this.#now().toString(36)}${(this.#acks++ % 1296).toString(36)}`,
      now: this.#now(),
      trigger: /^[A-Z0-9]{3}$/.test(trigger) ? trigger : 'A01',
    };
    return acknowledge(msg, code, us, error, errors);
  }
}
