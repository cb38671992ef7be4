import t from 'tap';

t.setTimeout(120_000);
import type { MqttClient } from 'mqtt';
import { connectAs, startTestGateway } from '../../helpers/gateway.js';
import { waitFor } from '../../helpers/env.js';
import type { Gateway } from '../../../edge/gateway.js';

const obsTopic = (id: string) => `wardgate/devices/${id}/obs`;
const msg = (
  seq: number,
  obs: unknown[] = [
    { code: 'spo2', value: 97, unit: '%' },
    { code: 'pr', value: 72, unit: '/min' },
  ],
  extra = {},
) => JSON.stringify({ seq, obs, ...extra });

function rows<T>(gateway: Gateway, sql: string, ...params: unknown[]): T[] {
  return gateway.db!.prepare(sql).all(...params) as T[];
}

async function metric(gateway: Gateway, name: string, labels = ''): Promise<number> {
  const text = await gateway.metrics!.registry.metrics();
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels ? `{${labels}}` : ''} `));
  return line ? Number(line.split(' ')[1]) : 0;
}

/** Collects the messages a client receives on a topic. */
function collect(client: MqttClient, topic: string): Array<Record<string, unknown>> {
  const got: Array<Record<string, unknown>> = [];
  client.on('message', (tp, payload) => {
    if (tp === topic) got.push(JSON.parse(payload.toString()) as Record<string, unknown>);
  });
  return got;
}

t.test('a QoS 1 observation is durable, normalized and coded when its PUBACK arrives', async (t) => {
  const { gateway, url } = await startTestGateway(t);
  const device = await connectAs(t, url, 'pox-1');
  await device.publishAsync(
    obsTopic('pox-1'),
    msg(
      1,
      [
        { code: 'temp', value: 98.6, unit: '[degF]' },
        { code: 'MDC_PULS_OXIM_SAT_O2', value: 97, unit: '%' },
      ],
      { ts: '2026-11-27T09:00:00.000Z' },
    ),
    { qos: 1 },
  );
  // No waiting: the PUBACK itself is the promise that the rows exist.
  const stored = rows<{ code: string; value: number; ts: number; bed: string; flags: number }>(
    gateway,
    'SELECT code, value, ts, bed, flags FROM readings ORDER BY observation',
  );
  t.same(stored, [
    { code: 'temp', value: 37, ts: Date.parse('2026-11-27T09:00:00.000Z'), bed: '1', flags: 0 },
    { code: 'spo2', value: 97, ts: Date.parse('2026-11-27T09:00:00.000Z'), bed: '1', flags: 0 },
  ]);
  t.equal(await metric(gateway, 'wardgate_ingest_readings_total', 'source="mqtt"'), 2);
  t.equal(await metric(gateway, 'wardgate_buffer_readings'), 2);
});

t.test(
  'a repeated (device, seq) is stored once; the same seq with other content is a dead-lettered conflict',
  async (t) => {
    const { gateway, url } = await startTestGateway(t);
    const device = await connectAs(t, url, 'pox-1');
    await device.subscribeAsync('wardgate/devices/pox-1/errors', { qos: 1 });
    const errors = collect(device, 'wardgate/devices/pox-1/errors');
    for (let i = 0; i < 3; i++) await device.publishAsync(obsTopic('pox-1'), msg(5), { qos: 1 });
    await device.publishAsync(obsTopic('pox-1'), msg(5, [{ code: 'spo2', value: 91, unit: '%' }]), { qos: 1 });
    t.equal(rows(gateway, 'SELECT 1 FROM readings').length, 2, 'one message of two readings');
    t.equal(await metric(gateway, 'wardgate_ingest_messages_total', 'source="mqtt",outcome="duplicate"'), 2);
    const [conflict] = rows<{ reason: string; field: string }>(gateway, 'SELECT reason, field FROM dead_letters');
    t.same(conflict, { reason: 'WG_ERR_SEQ_CONFLICT', field: 'seq' });
    await waitFor(() => (errors.length ? errors : undefined));
    t.match(errors[0], { code: 'WG_ERR_SEQ_CONFLICT', seq: 5 });
  },
);

t.test(
  'bad input: dead letter with the reason and raw bytes, a counter, and an error on the device topic',
  async (t) => {
    const { gateway, url } = await startTestGateway(t);
    const device = await connectAs(t, url, 'pox-2');
    await device.subscribeAsync('wardgate/devices/pox-2/errors', { qos: 1 });
    const errors = collect(device, 'wardgate/devices/pox-2/errors');
    const cases: Array<[string, string | Buffer, string, string | undefined]> = [
      ['bad JSON', '{"seq": 1, "obs": [', 'WG_ERR_JSON', undefined],
      ['binary garbage', Buffer.from([0xff, 0xfe, 0x00, 0x01]), 'WG_ERR_JSON', undefined],
      ['schema error', JSON.stringify({ seq: 'one', obs: [] }), 'WG_ERR_SCHEMA', 'seq'],
      ['unknown code', msg(2, [{ code: 'glucose', value: 5, unit: 'mmol/L' }]), 'WG_ERR_UNKNOWN_CODE', 'obs[0].code'],
      ['wrong unit', msg(3, [{ code: 'spo2', value: 12, unit: 'kPa' }]), 'WG_ERR_UNIT', 'obs[0].unit'],
      ['epoch seconds', msg(4, undefined, { ts: 1_795_000_000 }), 'WG_ERR_TIMESTAMP', 'ts'],
      ['oversized', JSON.stringify({ seq: 6, obs: [], pad: 'x'.repeat(20_000) }), 'WG_ERR_TOO_LARGE', undefined],
    ];
    for (const [, payload] of cases) await device.publishAsync(obsTopic('pox-2'), payload, { qos: 1 });
    await device.publishAsync(obsTopic('pox-2'), msg(10), { qos: 1 });

    const letters = rows<{
      reason: string;
      field: string | null;
      raw: Buffer;
      raw_size: number;
      device_id: string;
      topic: string;
    }>(gateway, 'SELECT reason, field, raw, raw_size, device_id, topic FROM dead_letters ORDER BY id');
    t.equal(letters.length, cases.length);
    cases.forEach(([name, payload, code, field], i) => {
      t.equal(letters[i].reason, code, `${name}: reason`);
      t.equal(letters[i].field, field ?? null, `${name}: field`);
      t.equal(letters[i].device_id, 'pox-2');
      t.equal(letters[i].topic, obsTopic('pox-2'));
      t.equal(letters[i].raw_size, Buffer.byteLength(payload), `${name}: size of the raw message`);
      t.ok(
        letters[i].raw.length <= 4096 && Buffer.from(payload).subarray(0, 4096).equals(letters[i].raw),
        `${name}: raw bytes kept (bounded)`,
      );
    });
    for (const code of new Set(cases.map((c) => c[2]))) {
      t.equal(
        await metric(gateway, 'wardgate_ingest_rejects_total', `reason="${code}"`),
        cases.filter((c) => c[2] === code).length,
        `counter ${code}`,
      );
    }
    await waitFor(() => (errors.length === cases.length ? errors : undefined), 5000, 'error messages');
    t.same(
      errors.map((e) => e.code),
      cases.map((c) => c[2]),
    );
    t.match(errors[4], { field: 'obs[0].unit', seq: 3, message: /kPa.*does not fit spo2/ });
    t.equal(rows(gateway, 'SELECT 1 FROM readings').length, 2, 'the device keeps being served after bad input');
  },
);

t.test('implausible values are stored flagged as artifacts', async (t) => {
  const { gateway, url } = await startTestGateway(t);
  const device = await connectAs(t, url, 'pox-1');
  await device.publishAsync(
    obsTopic('pox-1'),
    msg(1, [
      { code: 'spo2', value: 140, unit: '%' },
      { code: 'pr', value: 80, unit: '/min' },
    ]),
    { qos: 1 },
  );
  t.same(rows(gateway, 'SELECT code, value, flags FROM readings ORDER BY observation'), [
    { code: 'spo2', value: 140, flags: 1 },
    { code: 'pr', value: 80, flags: 0 },
  ]);
  t.equal(await metric(gateway, 'wardgate_ingest_artifacts_total'), 1);
});

t.test('device status updates the device table; a last will marks it offline', async (t) => {
  const { gateway, url } = await startTestGateway(t);
  const device = await connectAs(t, url, 'pox-1', {
    will: { topic: 'wardgate/devices/pox-1/status', payload: Buffer.from('{"online": false}'), qos: 1, retain: false },
  });
  await device.publishAsync(
    'wardgate/devices/pox-1/status',
    JSON.stringify({ online: true, battery: 64, sensor: 'ok' }),
    { qos: 1 },
  );
  const row = () =>
    gateway
      .db!.prepare("SELECT online, battery, sensor, last_seen FROM devices WHERE device_id = 'pox-1'")
      .get() as Record<string, unknown>;
  t.match(row(), { online: 1, battery: 64, sensor: 'ok' });
  t.ok(Number(row().last_seen) > Date.now() - 10_000, 'last seen now');
  device.stream.destroy(); // an unclean loss of the connection publishes the will
  await waitFor(() => (row().online === 0 ? true : undefined), 5000, 'the will');
  t.equal(rows(gateway, 'SELECT 1 FROM readings').length, 0, 'status is not a reading');
  t.ok(rows(gateway, 'SELECT 1 FROM device_status').length >= 2, 'status history kept');
});

t.test('authentication: wrong password and unknown users are refused', async (t) => {
  const { gateway, url } = await startTestGateway(t);
  await t.rejects(connectAs(t, url, 'pox-1', { password: 'wrong-password' }), /Bad username or password/);
  await t.rejects(connectAs(t, url, 'intruder'), /Bad username or password/);
  await t.rejects(
    connectAs(t, url, 'pox-1', { username: undefined, password: undefined }),
    /Bad username or password/,
    'anonymous refused by default',
  );
  t.equal(await metric(gateway, 'wardgate_mqtt_auth_failures_total', 'kind="connect"'), 3);
});

t.test("device A may not publish under device B's topics; nothing is stored and A is disconnected", async (t) => {
  const { gateway, url } = await startTestGateway(t);
  const a = await connectAs(t, url, 'pox-1');
  const closed = new Promise<void>((resolve) => a.once('close', () => resolve()));
  const acked = a.publishAsync(obsTopic('pox-2'), msg(1), { qos: 1 }).then(
    () => 'acked',
    () => 'failed',
  );
  await closed;
  t.equal(await Promise.race([acked, new Promise((r) => setTimeout(() => r('no puback'), 300))]), 'no puback');
  t.equal(rows(gateway, 'SELECT 1 FROM readings').length, 0);
  t.equal(await metric(gateway, 'wardgate_mqtt_auth_failures_total', 'kind="publish"'), 1);
  const b = await connectAs(t, url, 'pox-2');
  const bClosed = new Promise((resolve) => b.once('close', () => resolve('closed')));
  b.publish('wardgate/devices/pox-2/errors', '{"code":"forged"}', { qos: 1 });
  t.equal(await bClosed, 'closed', 'a device may not forge gateway errors on its own error topic');
});

t.test('subscriptions follow roles: viewers see their ward, admins all, devices their own topics', async (t) => {
  const { url } = await startTestGateway(t);
  // mqtt.js rejects a subscription whose SUBACK says 0x80 (failure).
  const granted = async (name: string, filter: string) =>
    (await connectAs(t, url, name)).subscribeAsync(filter).then(
      (g) => g[0].qos,
      () => 128,
    );
  const cases: Array<[string, string, boolean]> = [
    ['station', 'wardgate/ward/3B/#', true],
    ['station', 'wardgate/ward/3B/beds/+/vitals', true],
    ['station', 'wardgate/ward/+/alarms', false],
    ['station', 'wardgate/ward/4A/alarms', false],
    ['station', 'wardgate/#', false],
    ['station', '#', false],
    ['station', 'wardgate/devices/pox-1/obs', false],
    ['nurse-ann', 'wardgate/ward/3B/alarms', true],
    ['biomed', 'wardgate/#', true],
    ['biomed', '$SYS/#', false],
    ['pox-1', 'wardgate/devices/pox-1/errors', true],
    ['pox-1', 'wardgate/devices/pox-2/errors', false],
    ['pox-1', 'wardgate/devices/+/errors', false],
  ];
  for (const [name, filter, allowed] of cases)
    t.equal((await granted(name, filter)) !== 128, allowed, `${name} ${filter}: ${allowed ? 'granted' : 'refused'}`);
});

t.test('nurses may publish alarm acknowledgements; viewers may not', async (t) => {
  const { url } = await startTestGateway(t);
  const nurse = await connectAs(t, url, 'nurse-ann');
  await nurse.publishAsync('wardgate/ward/3B/alarms/ack', JSON.stringify({ alarmId: 'a1' }), { qos: 1 });
  t.ok(nurse.connected, 'nurse ack accepted');
  const viewer = await connectAs(t, url, 'station');
  const closed = new Promise((resolve) => viewer.once('close', () => resolve('closed')));
  viewer.publish('wardgate/ward/3B/alarms/ack', '{}', { qos: 1 });
  t.equal(await closed, 'closed');
});

t.test('a packet far beyond the limit closes the connection before it is buffered, and is dead-lettered', async (t) => {
  const { gateway, url } = await startTestGateway(t);
  const device = await connectAs(t, url, 'pox-1');
  const closed = new Promise((resolve) => device.once('close', () => resolve('closed')));
  device.publish(obsTopic('pox-1'), Buffer.alloc(2_000_000, 0x20), { qos: 1 });
  t.equal(await closed, 'closed');
  const letter = await waitFor(
    () =>
      gateway.db!.prepare('SELECT reason, device_id, raw_size FROM dead_letters').get() as
        Record<string, unknown> | undefined,
  );
  t.match(letter, { reason: 'WG_ERR_TOO_LARGE', device_id: 'pox-1' });
  const again = await connectAs(t, url, 'pox-1');
  await again.publishAsync(obsTopic('pox-1'), msg(1), { qos: 1 });
  t.equal(rows(gateway, 'SELECT 1 FROM readings').length, 2, 'the device is served again after reconnecting');
});

t.test('lab mode: anonymous clients, undeclared devices refused unless accepted', async (t) => {
  const strict = await startTestGateway(t, { extra: { mqtt: { allowAnonymous: true } } });
  const anon = await connectAs(t, strict.url, '', { username: undefined, password: undefined });
  await anon.publishAsync(obsTopic('sim-9'), msg(1), { qos: 1 });
  t.match(strict.gateway.db!.prepare('SELECT reason FROM dead_letters').get(), { reason: 'WG_ERR_UNKNOWN_DEVICE' });

  const lab = await startTestGateway(t, {
    extra: { mqtt: { allowAnonymous: true }, ingest: { acceptUnknownDevices: true } },
  });
  const anon2 = await connectAs(t, lab.url, '', { username: undefined, password: undefined });
  await anon2.publishAsync(obsTopic('sim-9'), msg(1), { qos: 1 });
  t.equal(rows(lab.gateway, 'SELECT 1 FROM readings').length, 2);
  t.match(lab.gateway.db!.prepare("SELECT declared FROM devices WHERE device_id = 'sim-9'").get(), { declared: 0 });
});

t.test('/healthz and /metrics on the HTTP port', async (t) => {
  const { config } = await startTestGateway(t);
  const base = `http://127.0.0.1:${config.http.port}`;
  const health = await fetch(`${base}/healthz`);
  t.equal(health.status, 200);
  t.match(await health.json(), { status: 'ok' });
  const metrics = await fetch(`${base}/metrics`);
  t.match(await metrics.text(), /wardgate_buffer_readings 0/);
  t.equal((await fetch(`${base}/nope`)).status, 404);
});
