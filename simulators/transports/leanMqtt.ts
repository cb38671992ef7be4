// A lean MQTT 3.1.1 device connection for load: CONNECT and QoS 1 PUBLISH
// encoded by hand, CONNACK and PUBACK picked out of the byte stream, no
// timers, no stores. A thousand simulated beds cost this process a few
// percent of a core (mqtt.js costs several times that per device), so that on
// a 2-core machine the gateway, not the simulator, is what gets measured.
// Used by `wardgate simulate --lean` and by the benches in bench/.
import { connect, type Socket } from 'node:net';
import { assertLoopback } from './link.js';

// CONNACK return codes, [MQTT-3.2.2-3] table 3.1.
export const CONNACK_ACCEPTED = 0;
export const CONNACK_SERVER_UNAVAILABLE = 3;

export interface LeanConnectOptions {
  readonly host?: string;
  readonly port: number;
  readonly clientId: string;
  readonly username?: string;
  readonly password?: string;
  /** Seconds; 0 (default) turns keep-alive off [MQTT-3.1.2-23]. */
  readonly keepalive?: number;
  readonly will?: { readonly topic: string; readonly payload: Buffer };
  /** Give up on a CONNACK after this long (default 10 s). */
  readonly timeoutMs?: number;
}

/** The CONNACK's return code, or 'closed' / 'timeout' when none came. */
export type ConnectAnswer = number | 'closed' | 'timeout';

export class LeanMqttConnection {
  readonly #socket: Socket;
  readonly #acks = new Map<number, () => void>();
  #nextId = 1;
  #rest: Buffer = Buffer.alloc(0);
  #closed = false;
  /** Called once when the connection ends, with the PUBACKs that never came. */
  onClose: (unacked: number) => void = () => {};

  private constructor(socket: Socket) {
    this.#socket = socket;
  }

  /** Opens a connection and waits for its CONNACK; the connection is returned only when accepted. */
  static open(options: LeanConnectOptions): Promise<{ answer: ConnectAnswer; connection?: LeanMqttConnection }> {
    const host = options.host ?? '127.0.0.1';
    assertLoopback(host, 'lean MQTT');
    return new Promise((resolve) => {
      const socket = connect(options.port, host);
      socket.setNoDelay(true);
      const conn = new LeanMqttConnection(socket);
      let answered = false;
      const answer = (a: ConnectAnswer) => {
        if (answered) return;
        answered = true;
        clearTimeout(timer);
        if (a === CONNACK_ACCEPTED) return resolve({ answer: a, connection: conn });
        socket.destroy();
        resolve({ answer: a });
      };
      const timer = setTimeout(() => answer('timeout'), options.timeoutMs ?? 10_000);
      socket.on('data', (d: Buffer) => conn.#read(d, answer));
      socket.on('error', () => undefined); // 'close' follows
      socket.on('close', () => {
        conn.#closed = true;
        answer('closed');
        const unacked = conn.#acks.size;
        conn.#acks.clear();
        conn.onClose(unacked);
      });
      socket.write(encodeConnect(options));
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Messages sent and not yet acknowledged. */
  get inFlight(): number {
    return this.#acks.size;
  }

  /** QoS 1 PUBLISH; `onAck` runs on its PUBACK. False when the connection is gone or 65,535 are in flight. */
  publish(topic: string, payload: Buffer, onAck: () => void = () => {}): boolean {
    if (this.#closed || this.#acks.size >= 65_535) return false;
    let id = this.#nextId;
    while (this.#acks.has(id)) id = (id % 65_535) + 1;
    this.#nextId = (id % 65_535) + 1;
    this.#acks.set(id, onAck);
    this.#socket.write(encodePublish(topic, payload, id));
    return true;
  }

  /** DISCONNECT, then close: the broker drops the will [MQTT-3.14.4-3]. */
  end(): void {
    if (this.#closed) return;
    this.#socket.end(Buffer.from([0xe0, 0x00]));
  }

  /** Closes without DISCONNECT (the will fires), as a pulled cable would. */
  destroy(): void {
    this.#socket.destroy();
  }

  #read(d: Buffer, connack: (a: ConnectAnswer) => void): void {
    const data = this.#rest.length ? Buffer.concat([this.#rest, d]) : d;
    this.#rest = scanPackets(data, (type, body, length) => {
      if (type === 2 && length >= 2) connack(data[body + 1]);
      else if (type === 4 && length >= 2) {
        const id = data.readUInt16BE(body);
        const onAck = this.#acks.get(id);
        if (onAck) {
          this.#acks.delete(id);
          onAck();
        }
      }
    });
  }
}

function remainingLength(n: number): number[] {
  const bytes: number[] = [];
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    bytes.push(byte);
  } while (n > 0);
  return bytes;
}

function field(value: string | Buffer): Buffer {
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  const out = Buffer.allocUnsafe(2 + bytes.length);
  out.writeUInt16BE(bytes.length, 0);
  bytes.copy(out, 2);
  return out;
}

/** CONNECT, MQTT 3.1.1, clean session ([MQTT-3.1]). */
function encodeConnect(o: LeanConnectOptions): Buffer {
  let flags = 0x02;
  const payload = [field(o.clientId)];
  if (o.will) {
    flags |= 0x04 | (1 << 3); // will, QoS 1
    payload.push(field(o.will.topic), field(o.will.payload));
  }
  if (o.username !== undefined) {
    flags |= 0x80;
    payload.push(field(o.username));
  }
  if (o.password !== undefined) {
    flags |= 0x40;
    payload.push(field(o.password));
  }
  const keepalive = o.keepalive ?? 0;
  const header = Buffer.from([0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, flags, keepalive >> 8, keepalive & 0xff]);
  const rest = Buffer.concat([header, ...payload]);
  return Buffer.concat([Buffer.from([0x10, ...remainingLength(rest.length)]), rest]);
}

/** PUBLISH, QoS 1 ([MQTT-3.3]), written in place: load generators send many, and allocation shows in their CPU. */
export function encodePublish(topic: string, payload: Buffer, messageId: number): Buffer {
  const topicLength = Buffer.byteLength(topic);
  const remaining = 2 + topicLength + 2 + payload.length;
  const lengthBytes = remaining < 128 ? 1 : remaining < 16_384 ? 2 : 3;
  const packet = Buffer.allocUnsafe(1 + lengthBytes + remaining);
  packet[0] = 0x32;
  let at = 1;
  for (let n = remaining; ;) {
    const byte = n % 128;
    n = Math.floor(n / 128);
    packet[at++] = n > 0 ? byte | 0x80 : byte;
    if (n === 0) break;
  }
  packet.writeUInt16BE(topicLength, at);
  at += 2 + packet.write(topic, at + 2);
  packet.writeUInt16BE(messageId, at);
  payload.copy(packet, at + 2);
  return packet;
}

/**
 * Calls back with the type, body offset and body length of every whole packet
 * in `data` ([MQTT-2.2]); returns the bytes of an incomplete last packet.
 */
export function scanPackets(data: Buffer, onPacket: (type: number, body: number, length: number) => void): Buffer {
  let at = 0;
  while (at + 2 <= data.length) {
    let length = 0;
    let i = 1;
    for (; i <= 4 && at + i < data.length; i++) {
      length += (data[at + i] & 0x7f) * 128 ** (i - 1);
      if ((data[at + i] & 0x80) === 0) break;
    }
    if (at + i >= data.length) break; // the length itself is incomplete
    const body = at + i + 1;
    if (body + length > data.length) break;
    onPacket(data[at] >> 4, body, length);
    at = body + length;
  }
  return at === data.length ? Buffer.alloc(0) : Buffer.from(data.subarray(at));
}
