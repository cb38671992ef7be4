// An oximeter on an RS-232 cable, played through a socat pseudo-terminal pair:
// the gateway opens `gatewayPath`, this writes the device's once-a-second
// output (Masimo ASCII 1 or Nonin lines, DOMAIN.md section 6; or, for an
// Xpod, the three packets of a second of Nonin data format #7) into the other end.
// Unplugging kills socat, so the gateway's path vanishes as a USB adapter's
// node does; plugging back recreates it at the same path.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, constants, existsSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { ObservationEntry } from '../../shared/reading.js';
import type { Emission } from '../bed.js';
import { malformedSerialLine } from '../malformed.js';
import { masimoLine, noninHeader, noninLine, noninRecord } from '../serialLines.js';
import type { DeviceLink } from './link.js';

/** Masimo EXC bit "sensor off". */
const EXC_SENSOR_OFF = 0x020;
const PLUG_TIMEOUT_MS = 10_000;

export interface SerialDeviceOptions {
  readonly deviceId: string;
  readonly format: 'masimo' | 'nonin' | 'xpod';
  /** Directory for the two pty links. */
  readonly dir: string;
}

/** Where the gateway should open this device's port (for the gateway's `serial:` config). */
export const gatewayPtyPath = (dir: string, deviceId: string) => join(dir, `${deviceId}.tty`);

export class SerialDevice implements DeviceLink {
  readonly deviceId: string;
  readonly gatewayPath: string;
  readonly counts = { sent: 0, failed: 0 };
  readonly #o: SerialDeviceOptions;
  readonly #devicePath: string;
  #socat: ChildProcess | undefined;
  #fd: number | undefined;
  #sensorOff = false;

  constructor(o: SerialDeviceOptions) {
    this.#o = o;
    this.deviceId = o.deviceId;
    this.gatewayPath = gatewayPtyPath(o.dir, o.deviceId);
    this.#devicePath = join(o.dir, `${o.deviceId}.dev`);
  }

  async start(): Promise<void> {
    await this.#plug();
  }

  async send(e: Emission, ts: number): Promise<void> {
    switch (e.type) {
      case 'obs':
        return this.#write(this.#line(e.obs, ts));
      case 'status':
        if (e.status.sensor !== undefined) this.#sensorOff = e.status.sensor !== 'ok';
        return;
      case 'malformed':
        return this.#write(malformedSerialLine(e.variant));
      case 'offline':
        return this.#unplug();
      case 'online':
        return this.#plug();
    }
  }

  async stop(): Promise<void> {
    await this.#unplug();
  }

  #line(obs: readonly ObservationEntry[], ts: number): string | Buffer {
    const value = (code: string) => obs.find((o) => o.code === code)?.value ?? null;
    if (this.#o.format === 'nonin') return noninLine(value('spo2'), value('pr'));
    if (this.#o.format === 'xpod') {
      // Sensor off the finger: the Xpod says "sensor disconnected" and has no data (docs/SERIAL.md).
      const packet = this.#sensorOff
        ? noninRecord(7, null, null, { disconnected: true })
        : noninRecord(7, value('spo2'), value('pr'));
      return Buffer.concat([packet, packet, packet]);
    }
    return masimoLine({
      ts,
      spo2: value('spo2'),
      pr: value('pr'),
      exc: this.#sensorOff ? EXC_SENSOR_OFF : 0,
      utc: false,
    });
  }

  #write(text: string | Buffer): void {
    if (this.#fd === undefined) return;
    try {
      writeSync(this.#fd, typeof text === 'string' ? Buffer.from(text, 'latin1') : text);
      this.counts.sent++;
    } catch {
      // EAGAIN (nobody reading, the pty buffer is full) or EIO: bytes lost on the wire, as on a real UART.
      this.counts.failed++;
    }
  }

  async #plug(): Promise<void> {
    if (this.#socat) return;
    mkdirSync(this.#o.dir, { recursive: true, mode: 0o700 });
    const socat = spawn(
      'socat',
      [`pty,raw,echo=0,link=${this.gatewayPath}`, `pty,raw,echo=0,link=${this.#devicePath}`],
      { stdio: 'ignore' },
    );
    this.#socat = socat;
    const deadline = Date.now() + PLUG_TIMEOUT_MS;
    while (!(existsSync(this.gatewayPath) && existsSync(this.#devicePath))) {
      if (socat.exitCode !== null) throw new Error(`socat exited with ${socat.exitCode} (is socat installed?)`);
      if (Date.now() > deadline) throw new Error('socat did not create the pty pair');
      await new Promise((r) => setTimeout(r, 20));
    }
    // Non-blocking: a gateway that is not reading must not stall the whole simulator.
    this.#fd = openSync(this.#devicePath, constants.O_WRONLY | constants.O_NOCTTY | constants.O_NONBLOCK);
    if (this.#o.format === 'nonin') for (const line of noninHeader(Date.now())) this.#write(line);
  }

  async #unplug(): Promise<void> {
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
    const socat = this.#socat;
    this.#socat = undefined;
    if (!socat || socat.exitCode !== null || socat.signalCode !== null) return;
    const exited = new Promise((r) => socat.once('exit', r));
    socat.kill('SIGTERM');
    const timer = setTimeout(() => socat.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(timer);
  }
}
