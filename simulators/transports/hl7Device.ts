// A monitor reporting over HL7 v2 / MLLP (IHE PCD-01 ORU^R01, DOMAIN.md
// section 5): one message per cycle, each waiting for its ACK, as monitors
// do; a refused message (AE/AR) is counted, a lost connection retried.
import { connect, type Socket } from 'node:net';
import { metric } from '../../shared/codes.js';
import type { ObservationEntry } from '../../shared/reading.js';
import type { Emission } from '../bed.js';
import { malformedHl7 } from '../malformed.js';
import { pcd01Message, type Pcd01Metric } from '../pcd01.js';
import { assertLoopback, type DeviceLink } from './link.js';

const VT = 0x0b;
const FS = 0x1c;
const CR = 0x0d;
const ACK_TIMEOUT_MS = 5000;

/** MDC units (11073-10101 partition 4) of the canonical UCUM units the simulator sends. */
const MDC_UNITS: Readonly<Record<string, readonly [number, string]>> = {
  '/min': [264864, 'MDC_DIM_BEAT_PER_MIN'],
  '%': [262688, 'MDC_DIM_PERCENT'],
  'mm[Hg]': [266016, 'MDC_DIM_MMHG'],
  Cel: [268192, 'MDC_DIM_DEGC'],
};

export function pcd01Metrics(obs: readonly ObservationEntry[], ts: number): Pcd01Metric[] {
  return obs.map((o) => {
    const m = metric(String(o.code));
    // Respiration is per breath, not per beat: its own MDC unit.
    const unit = m.code === 'rr' ? ([264928, 'MDC_DIM_RESP_PER_MIN'] as const) : MDC_UNITS[m.unit];
    return { mdc: m.mdc, refid: m.refid, value: o.value ?? '', unit, ts };
  });
}

export interface Hl7DeviceOptions {
  readonly deviceId: string;
  readonly host: string;
  readonly port: number;
  readonly bed: string;
}

export class Hl7Device implements DeviceLink {
  readonly deviceId: string;
  readonly counts = { sent: 0, failed: 0 };
  readonly #o: Hl7DeviceOptions;
  #socket: Socket | undefined;
  #buffer = Buffer.alloc(0);
  #waiting: ((ack: string) => void) | undefined;
  #control = 0;

  constructor(o: Hl7DeviceOptions) {
    assertLoopback(o.host, 'hl7');
    this.#o = o;
    this.deviceId = o.deviceId;
  }

  async start(): Promise<void> {
    await this.#connect();
  }

  async send(e: Emission, ts: number): Promise<void> {
    if (e.type === 'obs') return this.#exchange(this.#message(e.obs, ts));
    if (e.type === 'malformed') return this.#exchange(malformedHl7(e.variant));
    if (e.type === 'offline') this.#socket?.destroy();
    // A monitor's status (battery, sensor) does not travel in PCD-01 ORU^R01.
  }

  async stop(): Promise<void> {
    this.#socket?.end();
    this.#socket?.destroy();
    this.#socket = undefined;
  }

  #message(obs: readonly ObservationEntry[], ts: number): string {
    const controlId = `${this.deviceId}-${ts}-${++this.#control}`;
    return pcd01Message({
      controlId,
      ts,
      sendingApplication: this.deviceId,
      equipment: this.deviceId,
      location: { unit: 'WARD', room: '', bed: this.#o.bed },
      metrics: pcd01Metrics(obs, ts),
    });
  }

  async #exchange(text: string): Promise<void> {
    try {
      if (!this.#socket || this.#socket.destroyed) await this.#connect();
      const ack = new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no ACK')), ACK_TIMEOUT_MS);
        this.#waiting = (a) => {
          clearTimeout(timer);
          resolve(a);
        };
      });
      this.#socket!.write(Buffer.concat([Buffer.from([VT]), Buffer.from(text, 'utf8'), Buffer.from([FS, CR])]));
      const answer = await ack;
      if (/\rMSA\|AA\|/.test(`\r${answer}`)) this.counts.sent++;
      else this.counts.failed++;
    } catch {
      this.counts.failed++;
      this.#socket?.destroy();
    } finally {
      this.#waiting = undefined;
    }
  }

  async #connect(): Promise<void> {
    const socket = connect({ host: this.#o.host, port: this.#o.port });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    socket.on('error', () => socket.destroy());
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    this.#socket = socket;
    this.#buffer = Buffer.alloc(0);
  }

  #onData(chunk: Buffer): void {
    this.#buffer = Buffer.concat([this.#buffer, chunk]);
    for (;;) {
      const start = this.#buffer.indexOf(VT);
      const end = this.#buffer.indexOf(FS, start + 1);
      if (start < 0 || end < 0) return;
      const frame = this.#buffer.subarray(start + 1, end).toString('utf8');
      this.#buffer = this.#buffer.subarray(end + 1);
      this.#waiting?.(frame);
    }
  }
}
