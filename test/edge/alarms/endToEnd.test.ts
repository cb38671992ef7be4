// Alarms through the real parts: a device publishes to the embedded broker, a
// ward display and a nurse see the alarm on MQTT, the nurse acknowledges, the
// API and the database agree, and an open alarm survives a restart.
import t from 'tap';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { MqttClient } from 'mqtt';
import { loadConfig } from '../../../edge/config/load.js';
import { Gateway } from '../../../edge/gateway.js';
import { createLogger } from '../../../edge/log.js';
import { verifySignature } from '../../../shared/sync/signature.js';
import { waitFor } from '../../helpers/env.js';
import { connectAs, passwordOf, startTestGateway, writeTestConfig } from '../../helpers/gateway.js';

t.setTimeout(120_000);

type Json = Record<string, unknown>;

function collect(client: MqttClient): Array<{ topic: string; body: Json; at: number }> {
  const got: Array<{ topic: string; body: Json; at: number }> = [];
  client.on('message', (topic, payload) =>
    got.push({ topic, body: JSON.parse(payload.toString()) as Json, at: performance.now() }),
  );
  return got;
}

const basic = (name: string) => `Basic ${Buffer.from(`${name}:${passwordOf(name)}`).toString('base64')}`;

t.test('a critical value reaches the ward as an alarm within milliseconds; a nurse acknowledges it', async (t) => {
  const { gateway, url, config } = await startTestGateway(t);
  const api = `http://127.0.0.1:${config.http.port}`;
  const station = await connectAs(t, url, 'station');
  await station.subscribeAsync(
    ['wardgate/ward/3B/alarms', 'wardgate/ward/3B/beds/+/alarms', 'wardgate/ward/3B/beds/+/vitals'],
    { qos: 1 },
  );
  const seen = collect(station);
  const device = await connectAs(t, url, 'pox-1');

  // A spot blood pressure of 82 breaches the 90 limit with no condition delay.
  const sent = performance.now();
  await device.publishAsync(
    'wardgate/devices/pox-1/obs',
    JSON.stringify({
      seq: 1,
      obs: [
        { code: 'nibp_sys', value: 82, unit: 'mm[Hg]' },
        { code: 'nibp_dia', value: 50, unit: 'mm[Hg]' },
      ],
    }),
    { qos: 1 },
  );
  const raised = await waitFor(() =>
    seen.find((m) => m.topic === 'wardgate/ward/3B/alarms' && m.body.phase === 'raised'),
  ).catch((e) => {
    console.error(JSON.stringify(seen));
    throw e;
  });
  const latencyMs = raised.at - sent;
  t.ok(latencyMs < 250, `publish to alarm event: ${latencyMs.toFixed(1)} ms`);
  t.match(raised.body, {
    bed: '1',
    deviceId: 'pox-1',
    rule: 'limit',
    metric: 'nibp_sys',
    priority: 'medium',
    state: 'active',
    message: 'NIBP systolic low: 82 mm[Hg] (limit <= 90)',
  });
  const retained = await waitFor(() =>
    seen.find(
      (m) =>
        m.topic === 'wardgate/ward/3B/beds/1/alarms' && Array.isArray(m.body) && (m.body as unknown[]).length === 1,
    ),
  );
  t.match((retained.body as unknown as Json[])[0], { id: raised.body.alarmId, state: 'active' });
  const vitals = await waitFor(() => seen.find((m) => m.topic === 'wardgate/ward/3B/beds/1/vitals'));
  t.match(vitals.body, { bed: '1', vitals: { nibp_sys: { value: 82 }, nibp_dia: { value: 50 } }, news2: { score: 3 } });

  // A viewer may not acknowledge: the API says 403 and MQTT closes the connection.
  const forbidden = await fetch(`${api}/api/alarms/${raised.body.alarmId}/ack`, {
    method: 'POST',
    headers: { authorization: basic('station'), 'content-type': 'application/json' },
  });
  t.equal(forbidden.status, 403);
  t.match(await forbidden.json(), { code: 'WG_ERR_FORBIDDEN' });
  t.equal((await fetch(`${api}/api/alarms`)).status, 401, 'no credentials, no data');

  const nurse = await connectAs(t, url, 'nurse-ann');
  await nurse.publishAsync('wardgate/ward/3B/alarms/ack', JSON.stringify({ alarmId: raised.body.alarmId }), { qos: 1 });
  const acked = await waitFor(() =>
    seen.find((m) => m.topic === 'wardgate/ward/3B/alarms' && m.body.phase === 'acknowledged'),
  );
  t.match(acked.body, { by: 'nurse-ann', state: 'acknowledged' });

  const open = (await (await fetch(`${api}/api/alarms`, { headers: { authorization: basic('station') } })).json()) as {
    alarms: Json[];
  };
  t.match(open.alarms, [{ id: raised.body.alarmId, state: 'acknowledged', acknowledgedBy: 'nurse-ann' }]);
  const audit = gateway.db!.prepare("SELECT actor, action, target FROM audit WHERE action = 'acknowledge'").all();
  t.same(audit, [{ actor: 'nurse-ann', action: 'acknowledge', target: `alarm:${raised.body.alarmId}` }]);

  // The value recovers: the alarm clears; every phase is in the outbox table.
  await device.publishAsync(
    'wardgate/devices/pox-1/obs',
    JSON.stringify({ seq: 2, obs: [{ code: 'nibp_sys', value: 118, unit: 'mm[Hg]' }] }),
    { qos: 1 },
  );
  await waitFor(() => seen.find((m) => m.topic === 'wardgate/ward/3B/alarms' && m.body.phase === 'cleared'));
  t.same(
    gateway
      .db!.prepare('SELECT phase FROM alarm_events ORDER BY id')
      .all()
      .map((r) => (r as Json).phase),
    ['raised', 'acknowledged', 'cleared'],
  );
});

t.test('admissions and NEWS2 entries through the API; the audit trail names who', async (t) => {
  const { config } = await startTestGateway(t);
  const api = `http://127.0.0.1:${config.http.port}`;
  const call = (method: string, path: string, who: string, body?: unknown) =>
    fetch(`${api}${path}`, {
      method,
      headers: { authorization: basic(who), 'content-type': 'application/json' },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });

  t.equal(
    (await call('POST', '/api/admissions', 'nurse-ann', { bed: '1', identifier: 'MRN-1' })).status,
    403,
    'nurses do not admit',
  );
  const admitted = await call('POST', '/api/admissions', 'biomed', {
    bed: '1',
    identifier: 'MRN-1',
    displayName: 'A. Patient',
  });
  t.equal(admitted.status, 201);
  const again = await call('POST', '/api/admissions', 'biomed', { bed: '1', identifier: 'MRN-2' });
  t.equal(again.status, 409);
  t.match(await again.json(), { code: 'WG_ERR_CONFLICT', field: 'bed' });
  t.equal(
    (await call('POST', '/api/admissions', 'biomed', { bed: '2', identifier: 'MRN-1' })).status,
    409,
    'one patient, one bed',
  );
  t.match(await (await call('POST', '/api/admissions', 'biomed', { bed: '' })).json(), {
    code: 'WG_ERR_SCHEMA',
    field: 'bed',
  });

  const settings = await call('PUT', '/api/beds/1/settings', 'nurse-ann', {
    spo2Scale: 2,
    onOxygen: true,
    consciousness: 'A',
  });
  t.equal(settings.status, 200);
  t.match(await settings.json(), { spo2Scale: 2, onOxygen: true, consciousness: { value: 'A' } });
  t.match(await (await call('PUT', '/api/beds/1/settings', 'nurse-ann', { consciousness: 'sleepy' })).json(), {
    code: 'WG_ERR_SCHEMA',
    field: 'consciousness',
  });

  const beds = (await (await call('GET', '/api/beds', 'station')).json()) as { beds: Json[] };
  t.match(beds.beds, [
    { bed: '1', patient: { displayName: 'A. Patient', spo2Scale: 2 } },
    { bed: '2', patient: null },
  ]);
  t.notOk(JSON.stringify(beds).includes('MRN-1'), 'the identifier is not handed out by the API');

  t.equal((await call('POST', '/api/beds/1/discharge', 'biomed')).status, 200);
  t.equal((await call('POST', '/api/beds/1/discharge', 'biomed')).status, 404);
  const audit = (await (await call('GET', '/api/audit', 'biomed')).json()) as { entries: Json[] };
  t.same(
    audit.entries.map((e) => `${e.actor} ${e.action}`),
    ['biomed discharge', 'nurse-ann patient-settings', 'biomed admit'],
  );
  t.equal((await call('GET', '/api/audit', 'nurse-ann')).status, 403);
  t.equal((await call('DELETE', '/api/audit', 'biomed')).status, 405);
  t.equal((await call('GET', '/api/%E0%A4%A', 'biomed')).status, 404, 'a malformed path is a 404, not a crash');
});

t.test('open alarms survive a restart', async (t) => {
  const { file } = await writeTestConfig(t);
  const config = loadConfig({ file, env: {} });
  const start = async () => {
    const gateway = new Gateway(config, { log: createLogger('silent') });
    await gateway.start();
    return gateway;
  };
  const first = await start();
  const device = await connectAs(t, `mqtt://127.0.0.1:${config.mqtt.port}`, 'pox-2');
  await device.publishAsync(
    'wardgate/devices/pox-2/obs',
    JSON.stringify({ seq: 1, obs: [{ code: 'temp', value: 34.5, unit: 'Cel' }] }),
    { qos: 1 },
  );
  const [alarm] = first.alarms!.engine.openAlarms();
  t.match(alarm, { bed: '2', metric: 'temp', state: 'active' });
  await device.endAsync(true);
  await first.stop();

  const second = await start();
  t.teardown(() => second.stop());
  t.match(second.alarms!.engine.openAlarms(), [{ id: alarm.id, state: 'active' }]);
  t.match(JSON.parse(JSON.stringify(second.alarms!.engine.acknowledge(alarm.id, 'nurse-ann'))), {
    state: 'acknowledged',
  });
});

t.test('the webhook receives signed events and is retried until it answers', async (t) => {
  const secret = 'webhook-secret-for-tests';
  const received: Array<{ body: Json; ok: boolean }> = [];
  let failuresLeft = 2;
  const server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const check = verifySignature(
        secret,
        req.headers['x-wardgate-timestamp'] as string,
        req.headers['x-wardgate-signature'] as string,
        body,
        Date.now(),
      );
      received.push({ body: JSON.parse(body.toString()) as Json, ok: check.ok });
      res.statusCode = failuresLeft-- > 0 ? 503 : 204;
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise((resolve) => server.close(resolve)));
  const hookUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/page`;
  const { url } = await startTestGateway(t, {
    extra: { alarms: { webhook: { url: hookUrl, secretEnv: 'WARDGATE_TEST_WEBHOOK', minPriority: 'medium' } } },
    env: { WARDGATE_TEST_WEBHOOK: secret },
  });
  const device = await connectAs(t, url, 'pox-1');
  await device.publishAsync(
    'wardgate/devices/pox-1/obs',
    JSON.stringify({ seq: 1, obs: [{ code: 'nibp_sys', value: 230, unit: 'mm[Hg]' }] }),
    { qos: 1 },
  );
  const delivered = await waitFor(() => (received.length >= 3 ? received : undefined), 20_000, 'the webhook retries');
  t.ok(
    delivered.every((r) => r.ok),
    'every attempt carries a valid signature',
  );
  t.match(delivered[2].body, {
    ward: '3B',
    gateway: 'gw-test',
    event: { phase: 'raised', metric: 'nibp_sys', priority: 'medium' },
  });
});

t.test("a nurse's NEWS2 entry reaches the bed's retained vitals without waiting for the next reading", async (t) => {
  const { url, config } = await startTestGateway(t);
  const api = `http://127.0.0.1:${config.http.port}`;
  const station = await connectAs(t, url, 'station');
  await station.subscribeAsync('wardgate/ward/3B/beds/1/vitals', { qos: 1 });
  const seen = collect(station);
  const device = await connectAs(t, url, 'pox-1');
  await device.publishAsync(
    'wardgate/devices/pox-1/obs',
    JSON.stringify({
      seq: 1,
      obs: [
        { code: 'spo2', value: 97, unit: '%' },
        { code: 'pr', value: 72, unit: '/min' },
      ],
    }),
    { qos: 1 },
  );
  const before = await waitFor(() => seen.find((m) => (m.body.news2 as Json | undefined)?.score !== undefined));
  const json = (name: string) => ({ authorization: basic(name), 'content-type': 'application/json' });
  t.equal(
    (
      await fetch(`${api}/api/admissions`, {
        method: 'POST',
        headers: json('biomed'),
        body: JSON.stringify({ bed: '1', identifier: 'MRN-77' }),
      })
    ).status,
    201,
  );
  const put = await fetch(`${api}/api/beds/1/settings`, {
    method: 'PUT',
    headers: json('nurse-ann'),
    body: JSON.stringify({ onOxygen: true }),
  });
  t.equal(put.status, 200);
  // NEWS2: supplemental oxygen scores 2.
  const after = await waitFor(() =>
    seen.find((m) => (m.body.news2 as Json | undefined)?.score === ((before.body.news2 as Json).score as number) + 2),
  );
  t.match(after.body, { bed: '1', vitals: { spo2: { value: 97 } } });
});
