// The MQTT device of load mode (`wardgate simulate --lean`): the same messages
// as MqttDevice (own credentials, QoS 1 observations with a persistent seq,
// status, a last will of {"online": false}, blips that drop the TCP connection)
// over a lean connection (leanMqtt.ts), so that one process can play a floor
// of 1,000 beds without being what limits the run.
import { topics } from '../../shared/topics.js';
import type { Emission } from '../bed.js';
import { CONNACK_ACCEPTED, LeanMqttConnection } from './leanMqtt.js';
import type { DeviceLink } from './link.js';
import { mqttMessageOf } from './mqttMessage.js';
import type { SeqStore } from './seqStore.js';

export interface LeanMqttDeviceOptions {
  readonly host: string;
  readonly port: number;
  readonly deviceId: string;
  readonly password: string;
  readonly seq: SeqStore;
}

export class LeanMqttDevice implements DeviceLink {
  readonly deviceId: string;
  readonly counts = { sent: 0, failed: 0 };
  readonly #o: LeanMqttDeviceOptions;
  #conn: LeanMqttConnection | undefined;
  #queue: Array<{ topic: string; payload: string }> = [];
  #offline = false;

  constructor(o: LeanMqttDeviceOptions) {
    this.#o = o;
    this.deviceId = o.deviceId;
  }

  async start(): Promise<void> {
    this.#conn = await this.#connect();
  }

  async send(e: Emission, ts: number): Promise<void> {
    const message = mqttMessageOf(this.deviceId, e, this.#o.seq, ts);
    if (message) return this.#publish(message.topic, message.payload);
    switch (e.type) {
      case 'offline':
        this.#offline = true;
        this.#conn?.destroy(); // no DISCONNECT: the will fires
        this.#conn = undefined;
        if (e.cause === 'unplug') this.#queue = [];
        return;
      case 'online': {
        this.#conn = await this.#connect();
        this.#offline = false;
        const backlog = this.#queue;
        this.#queue = [];
        for (const m of backlog) this.#publish(m.topic, m.payload);
        return;
      }
    }
  }

  async stop(): Promise<void> {
    const conn = this.#conn;
    this.#conn = undefined;
    if (!conn) return;
    // Outstanding PUBACKs, bounded: a gateway that went away must not hang the simulator.
    for (let waited = 0; conn.inFlight > 0 && !conn.closed && waited < 3000; waited += 20)
      await new Promise((r) => setTimeout(r, 20));
    conn.end();
  }

  /** Connects as the device; on "server unavailable" or no answer, tries again about a second later, as devices do (60 tries at most). */
  async #connect(): Promise<LeanMqttConnection> {
    const will = { topic: topics.deviceStatus(this.deviceId), payload: Buffer.from(JSON.stringify({ online: false })) };
    let last: number | string = 'none';
    for (let attempt = 0; attempt < 60; attempt++) {
      const { answer, connection } = await LeanMqttConnection.open({
        host: this.#o.host,
        port: this.#o.port,
        clientId: this.deviceId,
        username: this.deviceId,
        password: this.#o.password,
        will,
      });
      if (answer === CONNACK_ACCEPTED && connection) {
        connection.onClose = (unacked) => (this.counts.failed += unacked);
        return connection;
      }
      last = answer;
      if (answer === 4 || answer === 5 || answer === 2) break; // refused for good: wrong credentials or identifier
      await new Promise((r) => setTimeout(r, 500 + Math.random() * 1000));
    }
    throw new Error(`${this.deviceId}: not connected (last answer ${last})`);
  }

  #publish(topic: string, payload: string): void {
    const conn = this.#conn;
    if (this.#offline || !conn || conn.closed) {
      this.#queue.push({ topic, payload });
      return;
    }
    conn.publish(topic, Buffer.from(payload), () => void this.counts.sent++);
  }
}
