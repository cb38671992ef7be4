// A lean MQTT 3.1.1 publisher for benchmarks: pre-encoded packets written to a
// socket, PUBACKs parsed with mqtt-packet. It costs far less CPU than a broker,
// so the broker, not the load generator, is what gets measured.
import { connect, type Socket } from 'node:net';
import mqttPacket from 'mqtt-packet';

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
  return { messages, seconds, perSecond: messages / seconds, latencyMs: { p50: at(0.5), p99: at(0.99), max: latencies[latencies.length - 1] } };
}

function open(options: LoadOptions, i: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(options.port, '127.0.0.1');
    socket.setNoDelay(true);
    const parser = mqttPacket.parser();
    socket.on('data', (d) => parser.parse(d));
    socket.once('error', reject);
    parser.once('packet', (packet) => {
      if (packet.cmd !== 'connack' || (packet as mqttPacket.IConnackPacket).returnCode !== 0) reject(new Error(`connection ${i} refused`));
      socket.removeAllListeners('data');
      resolve(socket);
    });
    const creds = options.credentials?.(i);
    socket.write(
      mqttPacket.generate({
        cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 60, clientId: `bench-${i}-${process.pid}`,
        ...(creds && { username: creds.username, password: Buffer.from(creds.password) }),
      }),
    );
  });
}

function drive(socket: Socket, i: number, options: LoadOptions, latencies: number[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const sentAt = new Map<number, number>();
    const parser = mqttPacket.parser();
    let next = 1;
    let acked = 0;
    const send = () => {
      // Message ids 1..65535 recycle; a window is far smaller than that.
      const chunks: Buffer[] = [];
      while (sentAt.size < options.window && next <= options.messages) {
        const messageId = ((next - 1) % 65535) + 1;
        const { topic, payload } = options.message(i, next);
        chunks.push(mqttPacket.generate({ cmd: 'publish', topic, payload, qos: 1, messageId, retain: false, dup: false }));
        sentAt.set(messageId, performance.now());
        next++;
      }
      if (chunks.length) socket.write(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks));
    };
    parser.on('packet', (packet) => {
      if (packet.cmd !== 'puback') return;
      const id = (packet as mqttPacket.IPubackPacket).messageId!;
      const t0 = sentAt.get(id);
      if (t0 === undefined) return;
      sentAt.delete(id);
      latencies.push(performance.now() - t0);
      if (++acked === options.messages) return resolve();
      send();
    });
    socket.on('data', (d) => parser.parse(d));
    socket.once('close', () => (acked < options.messages ? reject(new Error(`connection ${i} closed after ${acked} acks`)) : undefined));
    send();
  });
}
