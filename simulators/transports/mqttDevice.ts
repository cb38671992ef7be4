// A device on MQTT, as the device contract asks (README "The device contract"):
// its own credentials, QoS 1 observations with a persistent seq, a status
// topic with a last will of {"online": false}. A network blip drops the TCP
// connection without DISCONNECT (so the will fires) while the device keeps
// measuring; on reconnect it sends the queued readings in one burst.
import mqtt, { type MqttClient } from 'mqtt';
import { topics } from '../../shared/topics.js';
import type { Emission } from '../bed.js';
import type { DeviceLink } from './link.js';
import { mqttMessageOf } from './mqttMessage.js';
import type { SeqStore } from './seqStore.js';

export interface MqttDeviceOptions {
  readonly url: string;
  readonly deviceId: string;
  readonly password: string;
  readonly seq: SeqStore;
}

export class MqttDevice implements DeviceLink {
  readonly deviceId: string;
  readonly counts = { sent: 0, failed: 0 };
  readonly #o: MqttDeviceOptions;
  #client: MqttClient | undefined;
  /** Measured while the network was down: sent on reconnect, oldest first. */
  #queue: Array<{ topic: string; payload: string }> = [];
  #offline = false;
  readonly #inFlight = new Set<Promise<void>>();

  constructor(o: MqttDeviceOptions) {
    this.#o = o;
    this.deviceId = o.deviceId;
  }

  async start(): Promise<void> {
    this.#client = await this.#connect();
  }

  async send(e: Emission, ts: number): Promise<void> {
    const message = mqttMessageOf(this.deviceId, e, this.#o.seq, ts);
    if (message) return this.#publish(message.topic, message.payload);
    switch (e.type) {
      case 'offline':
        this.#offline = true;
        this.#drop();
        if (e.cause === 'unplug') this.#queue = [];
        return;
      case 'online': {
        this.#client = await this.#connect();
        this.#offline = false;
        const backlog = this.#queue;
        this.#queue = [];
        // The reconnect burst: everything measured during the blip, at once.
        for (const m of backlog) void this.#publish(m.topic, m.payload);
        return;
      }
    }
  }

  async stop(): Promise<void> {
    const client = this.#client;
    this.#client = undefined;
    // Waits for outstanding PUBACKs, bounded: a gateway that went away must not hang the simulator.
    await Promise.race([Promise.all(this.#inFlight), new Promise((r) => setTimeout(r, 3000).unref())]);
    await client?.endAsync(true);
  }

  async #connect(): Promise<MqttClient> {
    return mqtt.connectAsync(this.#o.url, {
      username: this.deviceId,
      password: this.#o.password,
      // The broker binds a device's client identifier to its id (edge/mqtt/clientIds.ts).
      clientId: this.deviceId,
      reconnectPeriod: 1000,
      connectTimeout: 10_000,
      will: {
        topic: topics.deviceStatus(this.deviceId),
        payload: Buffer.from(JSON.stringify({ online: false })),
        qos: 1,
        retain: false,
      },
    });
  }

  /** Pulls the plug on the TCP connection: no DISCONNECT, so the broker publishes the last will. */
  #drop(): void {
    const client = this.#client;
    this.#client = undefined;
    if (!client) return;
    client.options.reconnectPeriod = 0;
    client.stream.destroy();
    client.end(true);
  }

  /**
   * Hands the message to the client at once (mqtt.js writes in call order, so
   * the seq order holds) without waiting for its PUBACK: a monitor pipelines,
   * and load mode needs many messages in flight.
   */
  #publish(topic: string, payload: string): Promise<void> {
    if (this.#offline || !this.#client) {
      this.#queue.push({ topic, payload });
      return Promise.resolve();
    }
    const acked = this.#client.publishAsync(topic, payload, { qos: 1 }).then(
      () => void this.counts.sent++,
      () => void this.counts.failed++,
    );
    this.#inFlight.add(acked);
    void acked.finally(() => this.#inFlight.delete(acked));
    return Promise.resolve();
  }
}
