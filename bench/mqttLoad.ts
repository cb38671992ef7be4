// A lean MQTT 3.1.1 publisher for benchmarks: PUBLISH packets encoded by hand
// and written to a socket in batches, PUBACKs picked out of the byte stream. It
// must cost far less CPU than a broker, so that on a machine of two cores the
// broker, not the load generator, is what gets measured.
import { connect, type Socket } from 'node:net';
import mqttPacket from 'mqtt-packet';
// PUBLISH and PUBACK by hand: mqtt-packet's general encoder and parser would cost more CPU than the broker under test spends.
import { encodePublish, scanPackets } from '../simulators/transports/leanMqtt.js';

export interface LoadOptions {
  port: number;
  connections: number;
  /** QoS 1 messages in flight per connection. */
  window: number;
  /** Messages per connection. */
  messages: number;
  /** Credentials for connection i. */
  credentials?: (i: number) => { username: string; password: string };
  /** Topic and payload of message `seq` on connection i. */
  message: (i: number, seq: number) => { topic: string; payload: Buffer };
}

export interface LoadResult {
  messages: number;
  seconds: number;
  perSecond: number;
  latencyMs: { p50: number; p99: number; max: number };
}

export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const sockets = await Promise.all(Array.from({ length: options.connections }, (_, i) => open(options, i)));
  const latencies: number[] = [];
  const started = performance.now();
  await Promise.all(sockets.map((socket, i) => drive(socket, i, options, latencies)));
  const seconds = (performance.now() - started) / 1000;
  for (const socket of sockets) socket.end(mqttPacket.generate({ cmd: 'disconnect' }));
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))];
  const messages = options.connections * options.messages;
  return {
    messages,
    seconds,
    perSecond: messages / seconds,
    latencyMs: { p50: at(0.5), p99: at(0.99), max: latencies[latencies.length - 1] },
  };
}

function open(options: LoadOptions, i: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(options.port, '127.0.0.1');
    socket.setNoDelay(true);
    const parser = mqttPacket.parser();
    socket.on('data', (d) => parser.parse(d));
    socket.once('error', reject);
    parser.once('packet', (packet: mqttPacket.Packet) => {
      if (packet.cmd !== 'connack' || packet.returnCode !== 0) reject(new Error(`connection ${i} refused`));
      socket.removeAllListeners('data');
      resolve(socket);
    });
    const creds = options.credentials?.(i);
    socket.write(
      mqttPacket.generate({
        cmd: 'connect',
        protocolId: 'MQTT',
        protocolVersion: 4,
        clean: true,
        keepalive: 60,
        clientId: creds?.username ?? `bench-${i}-${process.pid}`,
        ...(creds && { username: creds.username, password: Buffer.from(creds.password) }),
      }),
    );
  });
}

function drive(socket: Socket, i: number, options: LoadOptions, latencies: number[]): Promise<void> {
  return new Promise((resolve, reject) => {
    // Send times by message id (1..65535 recycle; a window is far smaller than that); NaN: not in flight.
    const sentAt = new Float64Array(65_536).fill(Number.NaN);
    let inFlight = 0;
    let next = 1;
    let acked = 0;
    let rest: Buffer = Buffer.alloc(0);
    const send = () => {
      const chunks: Buffer[] = [];
      while (inFlight < options.window && next <= options.messages) {
        const messageId = ((next - 1) % 65535) + 1;
        const { topic, payload } = options.message(i, next);
        chunks.push(encodePublish(topic, payload, messageId));
        sentAt[messageId] = performance.now();
        inFlight++;
        next++;
      }
      if (chunks.length) socket.write(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks));
    };
    const onPuback = (id: number) => {
      const t0 = sentAt[id];
      if (Number.isNaN(t0)) return;
      sentAt[id] = Number.NaN;
      inFlight--;
      latencies.push(performance.now() - t0);
      if (++acked === options.messages) resolve();
    };
    socket.on('data', (d: Buffer) => {
      const data = rest.length ? Buffer.concat([rest, d]) : d;
      rest = scanPackets(data, (type, body, length) => {
        if (type === 4 && length >= 2) onPuback(data.readUInt16BE(body));
      });
      if (acked < options.messages) send();
    });
    socket.once('close', () =>
      acked < options.messages ? reject(new Error(`connection ${i} closed after ${acked} acks`)) : undefined,
    );
    send();
  });
}
