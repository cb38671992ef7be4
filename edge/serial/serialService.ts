// The serial ingest service: one SerialDevice per configured port. Starting
// never waits for a port: a device that is not plugged in yet is retried in
// the background and shows as offline, while the rest of the ward runs.
import type { EventBus } from '../bus.js';
import type { SerialPortConfig } from '../config/schema.js';
import type { Ingestor } from '../ingest/ingestor.js';
import type { Logger } from '../log.js';
import type { GatewayMetrics } from '../metrics.js';
import type { Service } from '../service.js';
import type { ErrorCode } from '../../shared/errors.js';
import { SerialDevice } from './serialDevice.js';

export interface SerialServiceDeps {
  readonly ports: readonly SerialPortConfig[];
  readonly ingestor: Ingestor;
  readonly bus: EventBus;
  readonly metrics: GatewayMetrics;
  readonly log: Logger;
  /** The highest seq stored for a device, read at start. */
  readonly lastSeq: (deviceId: string) => number | undefined;
  readonly maxFutureSkewMs: number;
}

export class SerialService implements Service {
  readonly name = 'serial';
  readonly #deps: SerialServiceDeps;
  #devices: SerialDevice[] = [];

  constructor(deps: SerialServiceDeps) {
    this.#deps = deps;
  }

  /** Each port's state, by path: open, unavailable, or undefined before the first try ends. */
  get ports(): Record<string, string | undefined> {
    return Object.fromEntries(this.#devices.map((d, i) => [this.#deps.ports[i].path, d.portState]));
  }

  async start(): Promise<void> {
    const { ports, lastSeq, ...shared } = this.#deps;
    const lastRejected = new Map<string, ErrorCode>();
    const log = shared.log.child({ module: 'serial' });
    this.#devices = ports.map(
      (port) =>
        new SerialDevice({
          ...shared,
          port,
          lastSeq: lastSeq(port.deviceId),
          hooks: {
            onRejected: (p, code) => {
              if (lastRejected.get(p.path) === code) return;
              lastRejected.set(p.path, code);
              log.warn(
                { port: p.path, deviceId: p.deviceId, code },
                'serial line rejected (dead-lettered); further rejections of this kind are only counted',
              );
            },
          },
        }),
    );
    for (const device of this.#devices) device.start();
  }

  async stop(): Promise<void> {
    const devices = this.#devices;
    this.#devices = [];
    await Promise.all(devices.map((d) => d.stop()));
  }
}
