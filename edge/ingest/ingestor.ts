// The front door of the ingest pipeline for every source: validates and
// normalizes a raw message, turns it into an item for the commit queue, and
// reports the outcome once it is durable.
import { hash } from 'node:crypto';
import { parseDeviceStatus } from '../../shared/deviceStatus.js';
import { reject, type Rejection } from '../../shared/errors.js';
import { parseObservation, validateObservation, type ValidObservation } from '../../shared/observation.js';
import type { DeviceStatus } from '../../shared/deviceStatus.js';
import type { ObservationMessage } from '../../shared/reading.js';
import { isRejection } from '../../shared/timestamp.js';
import type { CommitCallback, CommitQueue } from './commitQueue.js';
import type { IngestSource, ObservationItem, PatientRef } from './types.js';

export interface IngestPolicy {
  readonly maxFutureSkewMs: number;
  readonly acceptUnknownDevices: boolean;
  readonly maxMessageBytes: number;
}

export interface DeviceDirectory {
  isDeclared(deviceId: string): boolean;
}

export interface RawMessage {
  readonly source: IngestSource;
  readonly deviceId: string;
  readonly payload: Buffer;
  /** Where it came from, for the dead-letter table (an MQTT topic, a serial port, an HL7 sender). */
  readonly topic?: string;
  readonly receivedTs?: number;
}

/**
 * A message a driver has already decoded (a serial line, a group of HL7 OBX
 * rows), with a seq derived by the driver (see derivedSeq.ts). It goes through
 * the same validation and normalization as a JSON message from MQTT.
 */
export interface DecodedMessage {
  readonly source: IngestSource;
  readonly deviceId: string;
  readonly message: ObservationMessage;
  /** What identifies the content: its digest tells a retransmission (same digest) from a conflict. */
  readonly content: Buffer;
  /** The bytes as received, kept in the dead-letter table if the message is refused. */
  readonly raw: Buffer;
  readonly topic?: string;
  readonly receivedTs?: number;
  readonly bed?: string;
  readonly patient?: PatientRef;
  /** Register a device that is not declared (HL7 equipment on first contact) instead of refusing it. */
  readonly register?: boolean;
  /** message.seq was derived from the content (ingest/derivedSeq.ts contentSeq). */
  readonly derivedSeq?: boolean;
  /** Reading flags the sender gave (HL7 OBX-8 abnormal flags, OBX-11 preliminary), by metric short name. */
  readonly flags?: ReadonlyMap<string, number>;
}

/** Told of an exception caught while validating one message (the message was dead-lettered instead). */
export type HandlerErrorListener = (source: IngestSource, err: unknown) => void;

export class Ingestor {
  readonly #queue: CommitQueue;
  readonly #devices: DeviceDirectory;
  readonly #policy: IngestPolicy;
  readonly #now: () => number;
  readonly #onHandlerError: HandlerErrorListener;

  constructor(
    queue: CommitQueue,
    devices: DeviceDirectory,
    policy: IngestPolicy,
    now: () => number = Date.now,
    onHandlerError: HandlerErrorListener = () => {},
  ) {
    this.#queue = queue;
    this.#devices = devices;
    this.#policy = policy;
    this.#now = now;
    this.#onHandlerError = onHandlerError;
  }

  observation(msg: RawMessage, done: CommitCallback): void {
    const receivedTs = msg.receivedTs ?? this.#now();
    const parsed = this.#guarded(msg, () => {
      const refused = this.#gate(msg);
      return refused
        ? fail(refused)
        : parseObservation(msg.payload, { now: receivedTs, maxFutureMs: this.#policy.maxFutureSkewMs });
    });
    if (!parsed.ok) return this.deadLetter(msg, parsed.error, done);
    this.#submitObservation(msg.source, msg.deviceId, receivedTs, parsed, digest(msg.payload), {}, done);
  }

  #submitObservation(
    source: IngestSource,
    deviceId: string,
    receivedTs: number,
    parsed: ValidObservation,
    contentDigest: Buffer,
    extra: Pick<ObservationItem, 'bed' | 'patient' | 'probeSeq'>,
    done: CommitCallback,
  ): void {
    this.#queue.submit(
      {
        kind: 'obs',
        source,
        receivedTs,
        deviceId,
        seq: parsed.seq,
        ts: parsed.ts,
        digest: contentDigest,
        readings: parsed.readings,
        ...extra,
      },
      done,
    );
  }

  status(msg: RawMessage, done: CommitCallback): void {
    const receivedTs = msg.receivedTs ?? this.#now();
    const parsed = this.#guarded(msg, () => {
      const refused = this.#gate(msg);
      if (refused) return fail(refused);
      const status = parseDeviceStatus(msg.payload, { now: receivedTs, maxFutureMs: this.#policy.maxFutureSkewMs });
      return isRejection(status) ? fail(status) : { ok: true as const, status };
    });
    if (!parsed.ok) return this.deadLetter(msg, parsed.error, done);
    const { status } = parsed;
    this.#queue.submit({ kind: 'status', source: msg.source, receivedTs, deviceId: msg.deviceId, status }, done);
  }

  decoded(msg: DecodedMessage, done: CommitCallback): void {
    const receivedTs = msg.receivedTs ?? this.#now();
    const raw: RawMessage = {
      source: msg.source,
      deviceId: msg.deviceId,
      payload: msg.raw,
      receivedTs,
      ...(msg.topic !== undefined && { topic: msg.topic }),
    };
    const parsed = this.#guarded(raw, () =>
      !msg.register && !this.#policy.acceptUnknownDevices && !this.#devices.isDeclared(msg.deviceId)
        ? fail(unknownDevice(msg.deviceId))
        : validateObservation(msg.message, { now: receivedTs, maxFutureMs: this.#policy.maxFutureSkewMs }),
    );
    if (!parsed.ok) return this.deadLetter(raw, parsed.error, done);
    if (parsed.readings.length === 0) return done(null, { outcome: 'empty' });
    const given = msg.flags;
    if (given?.size)
      parsed.readings.forEach((r, i) => (parsed.readings[i] = { ...r, flags: r.flags | (given.get(r.code) ?? 0) }));
    const extra = {
      ...(msg.bed !== undefined && { bed: msg.bed }),
      ...(msg.patient !== undefined && { patient: msg.patient }),
      ...(msg.derivedSeq && { probeSeq: true }),
    };
    this.#submitObservation(msg.source, msg.deviceId, receivedTs, parsed, digest(msg.content), extra, done);
  }

  /** A status a driver read from the device's own output (e.g. Masimo EXC: sensor off). */
  deviceStatus(
    source: IngestSource,
    deviceId: string,
    status: Omit<DeviceStatus, 'ts'> & { ts?: number },
    done: CommitCallback,
  ): void {
    const receivedTs = this.#now();
    this.#queue.submit(
      { kind: 'status', source, receivedTs, deviceId, status: { ...status, ts: status.ts ?? receivedTs } },
      done,
    );
  }

  /** A device connected or went away (transport-level presence, not a message from it). */
  presence(source: IngestSource, deviceId: string, online: boolean, done: CommitCallback): void {
    const receivedTs = this.#now();
    this.#queue.submit({ kind: 'status', source, receivedTs, deviceId, status: { ts: receivedTs, online } }, done);
  }

  deadLetter(msg: RawMessage, rejection: Rejection, done: CommitCallback): void {
    this.#queue.submit(
      {
        kind: 'dead',
        source: msg.source,
        receivedTs: msg.receivedTs ?? this.#now(),
        deviceId: msg.deviceId,
        ...(msg.topic !== undefined && { topic: msg.topic }),
        rejection,
        raw: msg.payload,
      },
      done,
    );
  }

  /**
   * Runs a validator so that an exception in it refuses this one message (a
   * dead letter with WG_ERR_INTERNAL) instead of reaching the transport's
   * handler: one crafted message must never stop ingest for the others.
   */
  #guarded<T>(msg: RawMessage, validate: () => T): T | Refused {
    try {
      return validate();
    } catch (err) {
      this.#onHandlerError(msg.source, err);
      return fail(
        reject(
          'WG_ERR_INTERNAL',
          'the gateway failed while validating this message; it is kept for review and will not be processed',
        ),
      );
    }
  }

  #gate(msg: RawMessage): Rejection | undefined {
    if (msg.payload.length > this.#policy.maxMessageBytes) {
      return reject(
        'WG_ERR_TOO_LARGE',
        `message of ${msg.payload.length} bytes exceeds the limit of ${this.#policy.maxMessageBytes}`,
      );
    }
    if (!this.#policy.acceptUnknownDevices && !this.#devices.isDeclared(msg.deviceId)) {
      return unknownDevice(msg.deviceId);
    }
    return undefined;
  }
}

type Refused = { readonly ok: false; readonly error: Rejection };

function fail(error: Rejection): Refused {
  return { ok: false, error };
}

function unknownDevice(deviceId: string): Rejection {
  return reject('WG_ERR_UNKNOWN_DEVICE', `device '${deviceId}' is not declared in the gateway configuration`);
}

/** 8 bytes of SHA-256: enough to tell a retransmission from different content under the same seq. */
function digest(payload: Buffer): Buffer {
  return hash('sha256', payload, 'buffer').subarray(0, 8);
}
