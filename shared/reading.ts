// The reading model shared by edge and cloud. A reading is one value of one
// metric at one time from one device: one entry of an observation's `obs`.
import type { CanonicalUnit } from './codes.js';

/** Bit flags stored with every reading. */
export const ReadingFlag = {
  /** Outside the plausibility gate: stored, drives no physiological alarm. */
  artifact: 1,
  /** The device said the signal was poor (e.g. Masimo low signal IQ). */
  unreliable: 2,
  // HL7 OBX-8 abnormal flags (table 0078), kept with the reading as the sender gave them.
  /** L (or LL, <): below the normal range. */
  low: 4,
  /** H (or HH, >): above the normal range. */
  high: 8,
  /** LL / HH (and AA): beyond the panic limits. */
  critical: 16,
  /** A, AA or another abnormal flag that gives no direction. */
  abnormal: 32,
  /** < or >: off the instrument's scale; the value is a bound, not a measurement. */
  offScale: 64,
  /** HL7 OBX-11 P or S (table 0085): a preliminary or partial result (also marked unreliable). */
  preliminary: 128,
} as const;

export interface Reading {
  /** Short metric name from the code registry. */
  readonly code: string;
  /** Value in the metric's canonical unit. */
  readonly value: number;
  readonly unit: CanonicalUnit;
  /** Observation time, epoch milliseconds. */
  readonly ts: number;
  readonly flags: number;
}

/** A device's observation message as it travels over MQTT, serial `jsonl` and the simulators. */
export interface ObservationMessage {
  seq: number;
  /** RFC 3339 text or epoch milliseconds; absent means the gateway's receive time. */
  ts?: string | number;
  obs: ObservationEntry[];
}

export interface ObservationEntry {
  /** Short name (`spo2`) or MDC reference id / numeric code. */
  code: string | number;
  /** Null, or a vendor "no value" marker, means absent. */
  value: number | null;
  /** UCUM unit. */
  unit?: string;
  /** Overrides the message time for this entry. */
  ts?: string | number;
  /** The device marks this value as of poor signal quality. */
  unreliable?: boolean;
}

/** A device status message (`wardgate/devices/{id}/status`). */
export interface DeviceStatusMessage {
  online?: boolean;
  /** Battery charge, percent. */
  battery?: number;
  sensor?: SensorState;
  ts?: string | number;
}

export const sensorStates = ['ok', 'off', 'absent', 'fault'] as const;
export type SensorState = (typeof sensorStates)[number];

/** What the gateway publishes on `wardgate/devices/{id}/errors` for a rejected message. */
export interface DeviceErrorMessage {
  code: string;
  field?: string;
  message: string;
  seq?: number;
  receivedTs: string;
}
