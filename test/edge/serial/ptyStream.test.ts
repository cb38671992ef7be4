// Serial ingest through real pseudo-terminal pairs (socat): a writer process
// plays each format at device speed and in bursts; the cable is unplugged and
// plugged back; the gateway reopens the port and resumes without duplicates.
import t from 'tap';
import { join } from 'node:path';
import { loadConfig } from '../../../edge/config/load.js';
import { Gateway } from '../../../edge/gateway.js';
import { createLogger } from '../../../edge/log.js';
import { ReadingFlag } from '../../../shared/reading.js';
import { masimoLine, noninHeader, noninLine } from '../../../simulators/serialLines.js';
import { tempDir, waitFor } from '../../helpers/env.js';
import { writeTestConfig } from '../../helpers/gateway.js';
import { PtyCable, play } from '../../helpers/pty.js';

t.setTimeout(150_000);

const FAST_REOPEN = { reopenMinMs: 100, reopenMaxMs: 400 };

async function gatewayWith(t: Parameters<typeof tempDir>[0], serial: Array<Record<string, unknown>>) {
  const { file } = await writeTestConfig(t, { devices: [], extra: { serial } });
  const config = loadConfig({ file, env: {} });
  const gateway = new Gateway(config, { log: createLogger('silent') });
  await gateway.start();
  t.teardown(() => gateway.stop());
  return { gateway, file };
}

const rows = <T>(g: Gateway, sql: string, ...p: unknown[]) => g.db!.prepare(sql).all(...p) as T[];
const count = (g: Gateway, deviceId: string) =>
  (
    g
      .db!.prepare('SELECT count(*) AS n FROM readings r JOIN devices d ON d.id = r.device WHERE d.device_id = ?')
      .get(deviceId) as { n: number }
  ).n;
const device = (g: Gateway, deviceId: string) =>
  g
    .db!.prepare('SELECT source, bed, online, sensor, declared FROM devices WHERE device_id = ?')
    .get(deviceId) as Record<string, unknown>;

async function metric(g: Gateway, name: string, labels: string): Promise<number> {
  const text = await g.metrics!.registry.metrics();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}} `));
  return line ? Number(line.split(' ')[1]) : 0;
}

/** Opening a port discards what the tty holds (the binding flushes it): a line is played only once the port is open. */
const portOpen = (g: Gateway, path: string) =>
  waitFor(
    async () => ((await metric(g, 'wardgate_serial_port_up', `port="${path}"`)) === 1 ? true : undefined),
    10_000,
    'the port to open',
  );

t.test('masimo-ascii at device speed and in bursts: readings, device time, EXC flags, junk skipped', async (t) => {
  const dir = tempDir(t);
  const cable = new PtyCable(t, dir);
  await cable.plug();
  const { gateway } = await gatewayWith(t, [
    { path: cable.gateway, driver: 'masimo-ascii', deviceId: 'pox-7', bed: '7', deviceClock: 'utc', ...FAST_REOPEN },
  ]);
  await waitFor(() => (device(gateway, 'pox-7') && (gateway as unknown as object) ? true : undefined));
  await portOpen(gateway, cable.gateway);
  const t0 = Date.UTC(2026, 10, 27, 9, 0, 0);
  const line = (i: number, spo2: number | null, pr: number | null, exc = 0x800) =>
    masimoLine({ ts: t0 + i * 1000, spo2, pr, exc, utc: true });
  // Three lines a second apart, as the device sends them.
  t.same(await play(t, cable.device, [line(0, 97, 72), line(1, 96, 73), line(2, 95, 74)], { intervalMs: 1000 }), {
    written: 3,
  });
  await waitFor(() => (count(gateway, 'pox-7') === 6 ? true : undefined), 10_000, 'six readings');
  const first = rows<{ code: string; value: number; ts: number; bed: string; flags: number }>(
    gateway,
    'SELECT code, value, ts, bed, flags FROM readings ORDER BY observation, code LIMIT 2',
  );
  t.same(
    first,
    [
      { code: 'pr', value: 72, ts: t0, bed: '7', flags: 0 },
      { code: 'spo2', value: 97, ts: t0, bed: '7', flags: 0 },
    ],
    'values, the device time and the bed',
  );

  // A burst after a hiccup, with junk, a garbled line and flagged values mixed in.
  const burst: Array<string | Buffer> = [
    Buffer.from([0x00, 0xff, 0x13, 0x80]),
    line(3, 94, 75, 0x800 | 0x400), // low signal IQ: unreliable
    'SPO2=09', // cut mid-line by noise ...
    Buffer.from([0x00]),
    line(4, null, null, 0x020), // ... then sensor off, no values
    'garbled line without fields\r\n',
    line(5, 140, 80), // SpO2 140 %: an artifact
    'x'.repeat(5000) + '\r\n', // over-long
    line(6, 98, 70),
  ];
  t.same(await play(t, cable.device, burst, { intervalMs: 0, burst: burst.length }), { written: burst.length });
  await waitFor(() => (count(gateway, 'pox-7') === 12 ? true : undefined), 10_000, 'readings of the burst');
  const flagged = rows<{ code: string; value: number; flags: number }>(
    gateway,
    'SELECT code, value, flags FROM readings WHERE flags != 0 ORDER BY observation, code',
  );
  t.same(flagged, [
    { code: 'pr', value: 75, flags: ReadingFlag.unreliable },
    { code: 'spo2', value: 94, flags: ReadingFlag.unreliable },
    { code: 'spo2', value: 140, flags: ReadingFlag.artifact },
  ]);
  await waitFor(() => (device(gateway, 'pox-7').sensor === 'ok' ? true : undefined), 5000, 'sensor back to ok');
  const sensors = rows<{ sensor: string }>(
    gateway,
    'SELECT sensor FROM device_status WHERE sensor IS NOT NULL ORDER BY id',
  ).map((r) => r.sensor);
  t.same(sensors, ['ok', 'off', 'ok'], 'sensor state recorded on each change only');
  const letters = rows<{ reason: string; source: string; topic: string }>(
    gateway,
    'SELECT reason, source, topic FROM dead_letters',
  );
  t.same(
    letters,
    [{ reason: 'WG_ERR_SERIAL_LINE', source: 'serial', topic: cable.gateway }],
    'the garbled line is dead-lettered',
  );
  const labels = (result: string) => `port="${cable.gateway}",result="${result}"`;
  t.equal(await metric(gateway, 'wardgate_serial_lines_total', labels('reading')), 7);
  t.equal(await metric(gateway, 'wardgate_serial_lines_total', labels('garbage')), 1);
  t.equal(await metric(gateway, 'wardgate_serial_lines_total', labels('overlong')), 1);
  t.ok(
    (await metric(gateway, 'wardgate_serial_junk_bytes_total', `port="${cable.gateway}"`)) >= 5 + 7,
    'junk bytes and the line they damaged counted',
  );
  t.equal(await metric(gateway, 'wardgate_serial_port_up', `port="${cable.gateway}"`), 1);
  t.match(device(gateway, 'pox-7'), { source: 'serial', bed: '7', online: 1, declared: 1 });
});

t.test(
  'unplug and replug: the port is reopened, status shows the loss, a replayed line is not stored twice',
  async (t) => {
    const dir = tempDir(t);
    const cable = new PtyCable(t, dir);
    await cable.plug();
    const { gateway } = await gatewayWith(t, [
      { path: cable.gateway, driver: 'masimo-ascii', deviceId: 'pox-3', deviceClock: 'utc', ...FAST_REOPEN },
    ]);
    const events: string[] = [];
    for (const name of ['device.connected', 'device.disconnected', 'device.silent', 'device.resumed'] as const) {
      gateway.bus.on(name, (e) => events.push(`${name}${'reason' in e ? `:${e.reason}` : ''}`));
    }
    await portOpen(gateway, cable.gateway);
    const t0 = Date.UTC(2026, 10, 27, 10, 0, 0);
    const lines = Array.from({ length: 40 }, (_, i) =>
      masimoLine({ ts: t0 + i * 1000, spo2: 90 + (i % 10), pr: 60 + i, exc: 0x800, utc: true }),
    );

    t.same(await play(t, cable.device, lines.slice(0, 20), { intervalMs: 20, burst: 2 }), { written: 20 });
    await waitFor(() => (count(gateway, 'pox-3') === 40 ? true : undefined), 10_000, '20 lines stored');
    // Half a line, then the cable is pulled.
    await play(t, cable.device, [lines[20].slice(0, 30)], { intervalMs: 0 });
    await new Promise((r) => setTimeout(r, 200));
    await cable.unplug();
    await waitFor(
      () => (device(gateway, 'pox-3').online === 0 ? true : undefined),
      10_000,
      'the device to show offline',
    );
    t.equal(await metric(gateway, 'wardgate_serial_port_up', `port="${cable.gateway}"`), 0);
    // Retries while unplugged are counted, not logged each time.
    await new Promise((r) => setTimeout(r, 1200));
    t.ok(
      (await metric(gateway, 'wardgate_serial_port_retries_total', `port="${cable.gateway}"`)) >= 2,
      'retried with backoff',
    );
    t.equal(events.filter((e) => e === 'device.disconnected').length, 1, 'one disconnect event however many retries');

    await cable.plug();
    await waitFor(
      () => (gateway.metrics && events.filter((e) => e === 'device.connected').length === 2 ? true : undefined),
      10_000,
      'the port to reopen',
    );
    // The device replays its last five lines (as a buffered adapter may), then carries on.
    t.same(await play(t, cable.device, [lines[20].slice(30), ...lines.slice(15, 40)], { intervalMs: 10, burst: 5 }), {
      written: 26,
    });
    await waitFor(() => (count(gateway, 'pox-3') === 80 ? true : undefined), 10_000, 'all 40 lines stored');
    await new Promise((r) => setTimeout(r, 300));
    t.equal(count(gateway, 'pox-3'), 80, 'each of the 40 lines stored once');
    const seqs = rows<{ seq: number }>(gateway, 'SELECT seq FROM observations').map((r) => r.seq);
    t.equal(new Set(seqs).size, 40);
    t.equal(
      await metric(gateway, 'wardgate_ingest_messages_total', 'source="serial",outcome="duplicate"'),
      5,
      'the replayed lines were recognised as repeats',
    );
    t.equal(
      rows(gateway, 'SELECT 1 FROM dead_letters').length,
      1,
      'the tail of the cut line is garbage, never joined to another line',
    );
    t.equal(
      await metric(gateway, 'wardgate_serial_lines_total', `port="${cable.gateway}",result="partial"`),
      1,
      'the cut line was counted',
    );
    t.match(device(gateway, 'pox-3'), { online: 1 });
    t.same(events.slice(0, 5), [
      'device.connected',
      'device.resumed',
      'device.disconnected',
      'device.silent:disconnected',
      'device.connected',
    ]);
    t.equal(events[5], 'device.resumed');
  },
);

t.test(
  'nonin-ascii: power-up header skipped, absent values, event marker; seqs resume above the stored ones after a restart',
  async (t) => {
    const dir = tempDir(t);
    const cable = new PtyCable(t, dir);
    await cable.plug();
    const serial = [
      {
        path: cable.gateway,
        driver: 'nonin-ascii',
        deviceId: 'nonin-1',
        bed: '4',
        silentAfterMs: 1500,
        ...FAST_REOPEN,
      },
    ];
    const { file } = await writeTestConfig(t, { devices: [], extra: { serial } });
    const start = async () => {
      const g = new Gateway(loadConfig({ file, env: {} }), { log: createLogger('silent') });
      await g.start();
      return g;
    };
    let gateway = await start();
    await portOpen(gateway, cable.gateway);
    const nurseEvents: number[] = [];
    const silent: string[] = [];
    gateway.bus.on('device.event', (e) => nurseEvents.push(e.ts));
    gateway.bus.on('device.silent', (e) => silent.push(e.reason));
    const session = [
      ...noninHeader(Date.now()),
      noninLine(97, 72),
      noninLine(null, null),
      noninLine(96, 71, true),
      noninLine(95, 70),
      noninLine(95, 70),
      noninLine(95, 70),
    ];
    t.same(await play(t, cable.device, session, { intervalMs: 0, burst: session.length }), { written: session.length });
    await waitFor(() => (count(gateway, 'nonin-1') === 10 ? true : undefined), 10_000, 'readings');
    t.equal(nurseEvents.length, 1, 'the * marker is a nurse event');
    t.equal(await metric(gateway, 'wardgate_serial_lines_total', `port="${cable.gateway}",result="header"`), 3);
    t.equal(rows(gateway, 'SELECT 1 FROM dead_letters').length, 0);
    t.equal(
      rows(gateway, 'SELECT 1 FROM observations').length,
      5,
      'identical lines in one burst are distinct readings (arrival order), the absent line stores nothing',
    );
    // Silence: the port stays open, nothing arrives.
    await waitFor(() => (silent.includes('no-data') ? true : undefined), 10_000, 'device-silent');
    // The offline status is committed just after the event: wait for it rather than race it.
    await waitFor(
      () => (device(gateway, 'nonin-1').online === 0 ? true : undefined),
      5_000,
      'the device shown offline',
    );
    t.match(device(gateway, 'nonin-1'), { online: 0 });

    await gateway.stop();
    gateway = await start();
    t.teardown(() => gateway.stop());
    await portOpen(gateway, cable.gateway);
    t.same(await play(t, cable.device, [noninLine(94, 69), noninLine(94, 69)], { intervalMs: 0, burst: 2 }), {
      written: 2,
    });
    await waitFor(() => (count(gateway, 'nonin-1') === 14 ? true : undefined), 10_000, 'readings after the restart');
    t.equal(
      rows(gateway, "SELECT 1 FROM dead_letters WHERE reason = 'WG_ERR_SEQ_CONFLICT'").length,
      0,
      'no seq reused after the restart',
    );
    t.match(device(gateway, 'nonin-1'), { online: 1, source: 'serial', bed: '4' });
  },
);

t.test(
  'jsonl: the MQTT JSON per line, with or without seq; bad lines dead-lettered with the validator reason',
  async (t) => {
    const dir = tempDir(t);
    const cable = new PtyCable(t, dir);
    await cable.plug();
    const { gateway } = await gatewayWith(t, [
      { path: cable.gateway, driver: 'jsonl', deviceId: 'mon-2', baudRate: 115200, ...FAST_REOPEN },
    ]);
    await portOpen(gateway, cable.gateway);
    const ts = new Date(Date.now() - 5000).toISOString();
    const lines = [
      `${JSON.stringify({ seq: 1, obs: [{ code: 'hr', value: 80, unit: '/min' }] })}\n`,
      `${JSON.stringify({ seq: 1, obs: [{ code: 'hr', value: 80, unit: '/min' }] })}\n`, // a repeat
      `${JSON.stringify({ ts, obs: [{ code: 'temp', value: 98.6, unit: '[degF]' }] })}\n`, // no seq: derived from ts
      `${JSON.stringify({ ts, obs: [{ code: 'temp', value: 98.6, unit: '[degF]' }] })}\n`, // the same again: a repeat
      `${JSON.stringify({ seq: 2, obs: [{ code: 'spo2', value: 12, unit: 'kPa' }] })}\n`,
      '{"seq": 3, "obs": [\n',
      `${JSON.stringify({ seq: 4, obs: [{ code: 'rr', value: 16, unit: '/min', ts }] })}\n`,
    ];
    t.same(await play(t, cable.device, lines, { intervalMs: 0, burst: lines.length }), { written: lines.length });
    await waitFor(
      () =>
        count(gateway, 'mon-2') === 3 && rows(gateway, 'SELECT 1 FROM dead_letters').length === 2 ? true : undefined,
      10_000,
      'stored and dead-lettered',
    );
    t.same(rows(gateway, 'SELECT code, value FROM readings ORDER BY observation'), [
      { code: 'hr', value: 80 },
      { code: 'temp', value: 37 },
      { code: 'rr', value: 16 },
    ]);
    t.same(rows(gateway, 'SELECT reason, field FROM dead_letters ORDER BY id'), [
      { reason: 'WG_ERR_UNIT', field: 'obs[0].unit' },
      { reason: 'WG_ERR_JSON', field: null },
    ]);
    t.equal(await metric(gateway, 'wardgate_ingest_messages_total', 'source="serial",outcome="duplicate"'), 2);
  },
);

t.test('a port that is not there at start is retried until it appears; the rest of the gateway runs', async (t) => {
  const dir = tempDir(t);
  const cable = new PtyCable(t, dir, 'late');
  const { gateway } = await gatewayWith(t, [
    { path: cable.gateway, driver: 'nonin-ascii', deviceId: 'late-1', ...FAST_REOPEN },
  ]);
  await waitFor(() => (device(gateway, 'late-1').online === 0 ? true : undefined), 10_000, 'offline while missing');
  await cable.plug();
  await portOpen(gateway, cable.gateway);
  t.same(await play(t, cable.device, [noninLine(99, 60)], { intervalMs: 0 }), { written: 1 });
  await waitFor(() => (count(gateway, 'late-1') === 2 ? true : undefined), 10_000, 'readings once plugged in');
  t.match(device(gateway, 'late-1'), { online: 1 });
  t.ok(join(dir, 'x'));
});
