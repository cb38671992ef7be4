// What every transport offers the runner: one simulated device on one wire.
import type { Emission } from '../bed.js';

export interface DeviceLink {
  readonly deviceId: string;
  start(): Promise<void>;
  /** Delivers one emission; `ts` is the wall-clock time it stands for (epoch ms). */
  send(e: Emission, ts: number): Promise<void>;
  stop(): Promise<void>;
  /** Messages sent and refused by the transport's receiver (PUBACK, HL7 AE/AR), for the run summary. */
  readonly counts: { sent: number; failed: number };
}

/** Loopback only: a simulator never targets anything but this machine. */
export function assertLoopback(host: string, what: string): void {
  if (!/^(127\.\d+\.\d+\.\d+|localhost|::1|\[::1\])$/.test(host))
    throw new Error(`${what}: simulators connect to loopback only, not ${host}`);
}
