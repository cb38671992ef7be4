// A running simulated ward: the devices' links built from the plans
// (MQTT, serial pty pairs, HL7), started, played, and stopped in reverse.
import { join } from 'node:path';
import type { BedPlan } from './labels.js';
import { runWard, type RunSummary } from './runner.js';
import { Hl7Device } from './transports/hl7Device.js';
import { assertLoopback, type DeviceLink } from './transports/link.js';
import { LeanMqttDevice } from './transports/leanMqttDevice.js';
import { MqttDevice } from './transports/mqttDevice.js';
import { SeqStore } from './transports/seqStore.js';
import { SerialDevice } from './transports/serialDevice.js';
import type { Ward } from './ward.js';

export interface Endpoints {
  readonly mqttUrl: string;
  readonly hl7: { readonly host: string; readonly port: number };
  /** Device id -> password (MQTT devices). */
  readonly credentials: Readonly<Record<string, string>>;
  /** Seq reservations live here, one file per device. */
  readonly stateDir: string;
  /** Pty links of serial devices. */
  readonly ptyDir: string;
  /** MQTT devices on lean raw-socket connections instead of mqtt.js (load mode: a floor from one process). */
  readonly lean?: boolean;
}

export function createLinks(plans: readonly BedPlan[], e: Endpoints): Map<string, DeviceLink> {
  assertLoopback(new URL(e.mqttUrl).hostname, '--mqtt');
  const links = new Map<string, DeviceLink>();
  for (const plan of plans) {
    for (const d of plan.devices) {
      if (d.transport === 'mqtt') {
        // A device id such as 'constructor' must find no password, not Object.prototype's.
        const password = Object.hasOwn(e.credentials, d.id) ? e.credentials[d.id] : undefined;
        if (password === undefined) throw new Error(`no credentials for device ${d.id}`);
        const seq = new SeqStore(join(e.stateDir, 'seq'), d.id);
        if (e.lean) {
          const url = new URL(e.mqttUrl);
          links.set(
            d.id,
            new LeanMqttDevice({ host: url.hostname, port: Number(url.port || 1883), deviceId: d.id, password, seq }),
          );
        } else links.set(d.id, new MqttDevice({ url: e.mqttUrl, deviceId: d.id, password, seq }));
      } else if (d.transport === 'hl7') {
        links.set(d.id, new Hl7Device({ deviceId: d.id, host: e.hl7.host, port: e.hl7.port, bed: plan.bed }));
      } else {
        links.set(d.id, new SerialDevice({ deviceId: d.id, format: d.transport, dir: e.ptyDir }));
      }
    }
  }
  return links;
}

export class Session {
  readonly links: Map<string, DeviceLink>;
  readonly #started: DeviceLink[] = [];

  constructor(links: Map<string, DeviceLink>) {
    this.links = links;
  }

  /**
   * Serial devices first (their ptys must exist before a gateway opens them),
   * then the network devices (which need the gateway listening); the demo
   * starts the gateway between the two.
   */
  async start(which: 'serial' | 'network' | 'all' = 'all'): Promise<void> {
    const serial = (l: DeviceLink) => l instanceof SerialDevice;
    const wanted = [...this.links.values()].filter((l) => which === 'all' || (which === 'serial') === serial(l));
    for (const link of wanted.sort((a, b) => Number(serial(b)) - Number(serial(a)))) {
      if (this.#started.includes(link)) continue;
      await link.start();
      this.#started.push(link);
    }
  }

  run(ward: Ward, speed: number, startTs: number, signal?: AbortSignal): Promise<RunSummary> {
    return runWard({ ward, links: this.links, speed, startTs, ...(signal && { signal }) });
  }

  async stop(): Promise<void> {
    for (const link of this.#started.reverse()) await link.stop().catch(() => undefined);
    this.#started.length = 0;
  }
}
