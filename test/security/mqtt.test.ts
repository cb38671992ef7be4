// Hostile input on the MQTT port: a table of attacks, each with the answer the
// gateway must give, run with real mqtt.js clients and raw sockets against a
// real gateway; then property-based fuzzing of the validators behind it, and
// of the port itself, asserting that nothing throws past its handler and that
// the daemon still answers the next good message.
import t, { type Test } from 'tap';
import { connect as tcpConnect, type Socket } from 'node:net';
import fc from 'fast-check';
import mqtt, { type MqttClient } from 'mqtt';
import mqttPacket from 'mqtt-packet';
import type { Gateway } from '../../edge/gateway.js';
import { parseDeviceStatus } from '../../shared/deviceStatus.js';
import { errorCodes } from '../../shared/errors.js';
import { parseObservation, validateObservation } from '../../shared/observation.js';
import { isRejection } from '../../shared/timestamp.js';
import { waitFor } from '../helpers/env.js';
import { connectAs, passwordOf, startTestGateway } from '../helpers/gateway.js';

t.setTimeout(300_000);

interface Ward {
  gateway: Gateway;
  url: string;
  port: number;
}

async function ward(t: Test, extra: Record<string, unknown> = {}): Promise<Ward> {
  const { gateway, url, config } = await startTestGateway(t, { extra });
  return { gateway, url, port: config.mqtt.port };
}

const obsTopic = (id: string) => `wardgate/devices/${id}/obs`;
const good = (seq: number) => JSON.stringify({ seq, obs: [{ code: 'spo2', value: 96, unit: '%' }] });

function count(gateway: Gateway, sql: string): number {
  return (gateway.db!.prepare(sql).get() as { n: number }).n;
}

async function metric(gateway: Gateway, name: string, labels: string): Promise<number> {
  const text = await gateway.metrics!.registry.metrics();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}} `));
  return line ? Number(line.split(' ')[1]) : 0;
}

/** The daemon is alive and serves devices: a fresh reading from pox-2 is acknowledged and stored. */
async function answersNextGoodMessage(t: Test, w: Ward, seq: number): Promise<void> {
  const before = count(
    w.gateway,
    "SELECT count(*) AS n FROM observations o JOIN devices d ON d.id = o.device WHERE d.device_id = 'pox-2'",
  );
  const device = await connectAs(t, w.url, 'pox-2');
  await device.publishAsync(obsTopic('pox-2'), good(seq), { qos: 1 });
  const after = count(
    w.gateway,
    "SELECT count(*) AS n FROM observations o JOIN devices d ON d.id = o.device WHERE d.device_id = 'pox-2'",
  );
  if (after !== before + 1) throw new Error('the next good message was not stored');
}

/** The CONNACK return code mqtt.js reports for a refused connection (0: accepted). */
async function connackOf(url: string, options: mqtt.IClientOptions): Promise<number> {
  try {
    const client = await mqtt.connectAsync(url, { reconnectPeriod: 0, connectTimeout: 10_000, ...options });
    await client.endAsync(true);
    return 0;
  } catch (err) {
    return (err as { code?: number }).code ?? -1;
  }
}

/** A raw TCP socket (from `localAddress`, a loopback address) and the packets it receives. */
function rawSocket(
  port: number,
  localAddress = '127.0.0.1',
): Promise<{ socket: Socket; packets: mqttPacket.Packet[]; closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const socket = tcpConnect({ port, host: '127.0.0.1', localAddress });
    const packets: mqttPacket.Packet[] = [];
    const parser = mqttPacket.parser();
    parser.on('packet', (p) => packets.push(p));
    parser.on('error', () => {});
    socket.on('data', (d) => parser.parse(d));
    socket.on('error', () => {});
    const closed = new Promise<void>((r) => socket.once('close', () => r()));
    socket.once('connect', () => resolve({ socket, packets, closed }));
    socket.once('error', reject);
  });
}

function connectPacket(fields: Partial<mqttPacket.IConnectPacket>): Buffer {
  return mqttPacket.generate({
    cmd: 'connect',
    protocolId: 'MQTT',
    protocolVersion: 4,
    clean: true,
    keepalive: 30,
    clientId: 'x',
    ...fields,
  });
}

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([
    promise,
    new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`no ${what} within ${ms} ms`)), ms).unref()),
  ]);
}

interface Attack {
  readonly attack: string;
  readonly answer: string;
  run: (t: Test, w: Ward) => Promise<void>;
}

const attacks: Attack[] = [
  {
    attack:
      'QoS 1 readings whose unit names an inherited property (__proto__, valueOf, constructor, toString, hasOwnProperty)',
    answer: 'each acknowledged and dead-lettered as WG_ERR_UNIT, nothing stored, the error published to the device',
    async run(t, w) {
      const device = await connectAs(t, w.url, 'pox-1');
      await device.subscribeAsync('wardgate/devices/pox-1/errors', { qos: 1 });
      const errors: Array<{ code: string }> = [];
      device.on('message', (_topic, payload) => errors.push(JSON.parse(payload.toString()) as { code: string }));
      const units = ['__proto__', 'valueOf', 'constructor', 'toString', 'hasOwnProperty'];
      for (const [i, unit] of units.entries()) {
        await device.publishAsync(
          obsTopic('pox-1'),
          JSON.stringify({ seq: i + 1, obs: [{ code: 'spo2', value: 97, unit }] }),
          { qos: 1 },
        );
      }
      t.equal(count(w.gateway, "SELECT count(*) AS n FROM dead_letters WHERE reason = 'WG_ERR_UNIT'"), units.length);
      t.equal(count(w.gateway, 'SELECT count(*) AS n FROM readings'), 0);
      await waitFor(() => (errors.length === units.length ? true : undefined), 10_000, 'the errors');
      t.ok(errors.every((e) => e.code === 'WG_ERR_UNIT'));
    },
  },
  {
    attack: "a viewer connects with an online device's client identifier",
    answer: 'CONNACK 2 (identifier rejected), counted; the device stays connected and keeps publishing',
    async run(t, w) {
      const device = await connectAs(t, w.url, 'pox-1');
      t.equal(await connackOf(w.url, { clientId: 'pox-1', username: 'station', password: passwordOf('station') }), 2);
      await device.publishAsync(obsTopic('pox-1'), good(1), { qos: 1 });
      t.ok(device.connected, 'not disconnected');
      t.equal(await metric(w.gateway, 'wardgate_mqtt_auth_failures_total', 'kind="client_id"'), 1);
    },
  },
  {
    attack: "a device connects with another device's id, or with none, as client identifier",
    answer: 'CONNACK 2 both times',
    async run(t, w) {
      t.equal(await connackOf(w.url, { clientId: 'pox-2', username: 'pox-1', password: passwordOf('pox-1') }), 2);
      t.equal(
        await connackOf(w.url, { clientId: '', clean: true, username: 'pox-1', password: passwordOf('pox-1') }),
        2,
      );
      t.equal(
        await connackOf(w.url, { clientId: 'station:wall', username: 'nurse-ann', password: passwordOf('nurse-ann') }),
        2,
        "a nurse in the viewer's namespace",
      );
      t.equal(
        await connackOf(w.url, { clientId: 'station:wall', username: 'station', password: passwordOf('station') }),
        0,
        'the viewer in its own namespace',
      );
    },
  },
  {
    attack:
      "a device connects with a viewer's persistent-session client identifier to collect the alarm events queued for it",
    answer: 'CONNACK 2, nothing delivered; the viewer gets its queued events on return',
    async run(t, w) {
      const station = await connectAs(t, w.url, 'station', { clientId: 'station:wall', clean: false });
      await station.subscribeAsync('wardgate/ward/3B/alarms', { qos: 1 });
      await station.endAsync();
      const device = await connectAs(t, w.url, 'pox-1');
      // A spot systolic of 82 breaches the 90 limit with no condition delay.
      await device.publishAsync(
        obsTopic('pox-1'),
        JSON.stringify({ seq: 1, obs: [{ code: 'nibp_sys', value: 82, unit: 'mm[Hg]' }] }),
        { qos: 1 },
      );
      await waitFor(
        () => (count(w.gateway, 'SELECT count(*) AS n FROM alarm_events') > 0 ? true : undefined),
        10_000,
        'an alarm event',
      );
      let delivered = 0;
      const thief = mqtt.connect(w.url, {
        clientId: 'station:wall',
        clean: false,
        username: 'pox-1',
        password: passwordOf('pox-1'),
        reconnectPeriod: 0,
      });
      thief.on('message', () => delivered++);
      const refused = await new Promise<number>((resolve) => {
        thief.once('error', (err) => resolve((err as { code?: number }).code ?? -1));
        thief.once('connect', () => resolve(0));
      });
      thief.end(true);
      t.equal(refused, 2);
      t.equal(delivered, 0);
      const back = await connectAs(t, w.url, 'station', { clientId: 'station:wall', clean: false });
      const events: string[] = [];
      back.on('message', (topic) => events.push(topic));
      await waitFor(() => (events.length > 0 ? true : undefined), 10_000, 'the queued event');
      t.equal(events[0], 'wardgate/ward/3B/alarms');
    },
  },
  {
    attack: 'an oversized packet header before CONNECT',
    answer: 'socket closed, counted, nothing written to the store',
    async run(t, w) {
      const { socket, closed } = await rawSocket(w.port);
      socket.write(Buffer.from([0x30, 0xff, 0xff, 0xff, 0x7f])); // PUBLISH of 256 MiB
      await within(closed, 10_000, 'close');
      t.equal(await metric(w.gateway, 'wardgate_mqtt_auth_failures_total', 'kind="oversize_unauthenticated"'), 1);
      t.equal(count(w.gateway, 'SELECT count(*) AS n FROM dead_letters'), 0);
    },
  },
  {
    attack: 'a PUBLISH before CONNECT, and garbage bytes',
    answer: 'socket closed, nothing stored',
    async run(t, w) {
      const first = await rawSocket(w.port);
      first.socket.write(
        mqttPacket.generate({
          cmd: 'publish',
          topic: obsTopic('pox-1'),
          payload: good(1),
          qos: 1,
          messageId: 1,
          retain: false,
          dup: false,
        }),
      );
      await within(first.closed, 10_000, 'close');
      const second = await rawSocket(w.port);
      second.socket.write(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
      await within(second.closed, 10_000, 'close');
      t.equal(count(w.gateway, 'SELECT count(*) AS n FROM observations'), 0);
      t.equal(count(w.gateway, 'SELECT count(*) AS n FROM dead_letters'), 0);
    },
  },
  {
    attack: 'an MQTT 5 CONNECT',
    answer: 'CONNACK 1 (unacceptable protocol version) and close: the gateway speaks MQTT 3.1 and 3.1.1',
    async run(t, w) {
      const { socket, packets, closed } = await rawSocket(w.port);
      socket.write(
        connectPacket({
          protocolVersion: 5,
          clientId: 'pox-1',
          username: 'pox-1',
          password: Buffer.from(passwordOf('pox-1')),
        }),
      );
      await within(closed, 10_000, 'close');
      t.match(packets[0], { cmd: 'connack', returnCode: 1 });
    },
  },
  {
    attack: 'sixty CONNECTs with random user names from one address',
    answer: 'each refused (CONNACK 4, or 3 while checks queue); a device on another address logs in and publishes',
    async run(t, w) {
      const codes = await Promise.all(
        Array.from({ length: 60 }, async (_, i) => {
          const { socket, packets, closed } = await rawSocket(w.port, '127.0.0.2');
          socket.write(connectPacket({ clientId: `guess-${i}`, username: `guess-${i}`, password: Buffer.from('x') }));
          await within(closed, 30_000, 'close');
          return (packets[0] as mqttPacket.IConnackPacket | undefined)?.returnCode;
        }),
      );
      t.ok(
        codes.every((c) => c === 4 || c === 3),
        `refused: ${[...new Set(codes)].join(', ')}`,
      );
      const device = await within(connectAs(t, w.url, 'pox-1'), 10_000, 'a device login');
      await device.publishAsync(obsTopic('pox-1'), good(1), { qos: 1 });
      t.equal(
        await connackOf(w.url, { clientId: 'guess-x', username: 'guess-x', password: 'x' }),
        4,
        'loopback itself was not locked by the other address',
      );
    },
  },
  {
    attack: 'a connection that closes while its password check waits',
    answer: 'no answer sent to it, and the daemon goes on',
    async run(t, w) {
      const sockets = await Promise.all(Array.from({ length: 20 }, () => rawSocket(w.port, '127.0.0.3')));
      for (const { socket } of sockets) {
        socket.write(connectPacket({ clientId: 'pox-1', username: 'pox-1', password: Buffer.from('wrong') }));
        socket.destroy();
      }
      await Promise.all(sockets.map((s) => s.closed));
      t.ok(sockets.every((s) => s.packets.length === 0));
    },
  },
];

for (const { attack, answer, run } of attacks) {
  t.test(`${attack} -> ${answer}`, async (t) => {
    const w = await ward(t);
    await run(t, w);
    await answersNextGoodMessage(t, w, 1000);
  });
}

// ---- property-based fuzzing ------------------------------------------------

const policy = { now: Date.parse('2026-11-27T09:00:00.000Z'), maxFutureMs: 300_000 };
const knownCodes = new Set(Object.keys(errorCodes));

/** Strings a hostile sender would try: inherited names, markers, odd numbers as text, long and non-ASCII text. */
const hostileString = fc.oneof(
  fc.constantFrom(
    '__proto__',
    'constructor',
    'toString',
    'valueOf',
    'hasOwnProperty',
    'prototype',
    '__defineGetter__',
    'spo2',
    '%',
    'Cel',
    '---',
    '',
    'NaN',
    '1e309',
    '-0',
  ),
  fc.string(),
  fc.string({ unit: 'binary', maxLength: 300 }),
);
const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  hostileString,
  fc.double(),
  fc.integer(),
  fc.constantFrom(null, true, false, [], {}, Number.MAX_SAFE_INTEGER + 2, -1),
  fc.jsonValue({ maxDepth: 3 }),
);

/** A valid message with one field replaced, removed or joined by a field named like an inherited property. */
const mutatedMessage = fc
  .record({
    seq: fc.integer({ min: 0, max: 1e9 }),
    entries: fc.array(
      fc.record({
        code: fc.constantFrom('spo2', 'pr', 'temp', 150456, 'MDC_PULS_OXIM_SAT_O2'),
        value: fc.double({ min: 0, max: 300, noNaN: true }),
        unit: fc.constantFrom('%', '/min', 'Cel', '[degF]'),
      }),
      { minLength: 1, maxLength: 4 },
    ),
    field: fc.constantFrom('seq', 'ts', 'obs', 'code', 'value', 'unit', 'unreliable', '__proto__', 'constructor'),
    value: hostileValue,
    drop: fc.boolean(),
  })
  .map(({ seq, entries, field, value, drop }) => {
    const message: Record<string, unknown> = { seq, obs: entries.map((e) => ({ ...e })) };
    const target = ['code', 'value', 'unit', 'unreliable'].includes(field)
      ? (message.obs as Array<Record<string, unknown>>)[0]
      : message;
    if (field === '__proto__' || field === 'constructor') {
      // JSON.parse makes an own property of these: write the text as a device would.
      return JSON.stringify(message).replace(/^\{/, `{"${field}": ${JSON.stringify(value) ?? 'null'},`);
    }
    if (drop) delete target[field];
    else target[field] = value;
    return JSON.stringify(message);
  });

const payload = fc.oneof(mutatedMessage, fc.json({ maxDepth: 4 }), fc.string({ unit: 'binary', maxLength: 200 }));

function isAnswer(result: { ok: boolean; error?: { code: string } }): boolean {
  return result.ok || knownCodes.has(result.error!.code);
}

t.test(
  'fuzzing: the observation and status validators answer every payload with a result or a coded rejection, never a throw',
  async (t) => {
    fc.assert(
      fc.property(payload, (text) => isAnswer(parseObservation(text, policy))),
      { numRuns: 3000 },
    );
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), (body) => isAnswer(validateObservation(body, policy))),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(fc.oneof(payload, fc.json()), (text) => {
        const status = parseDeviceStatus(Buffer.from(text), policy);
        return !isRejection(status) || knownCodes.has(status.code);
      }),
      { numRuns: 2000 },
    );
    t.pass('no validator threw');
  },
);

t.test(
  'fuzzing through the port: every hostile message is acknowledged (stored or dead-lettered), then the next good message is stored',
  async (t) => {
    const w = await ward(t);
    const device: MqttClient = await connectAs(t, w.url, 'pox-1');
    const messages = fc.sample(payload, { numRuns: 300, seed: 12 });
    for (const [i, text] of messages.entries()) {
      const topic = i % 5 === 4 ? 'wardgate/devices/pox-1/status' : obsTopic('pox-1');
      await within(device.publishAsync(topic, text, { qos: 1 }), 20_000, `PUBACK for message ${i}`);
    }
    t.ok(device.connected, 'the device was never disconnected');
    t.equal(
      await metric(w.gateway, 'wardgate_handler_errors_total', 'source="mqtt",stage="validate"'),
      0,
      'no validator threw',
    );
    await answersNextGoodMessage(t, w, 1);
  },
);
