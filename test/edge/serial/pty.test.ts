// Documented device states and binary formats end to end, through real
// pseudo-terminal pairs (socat) into a running gateway: a Masimo that reports
// no cable connected raises the sensor technical alarm and stores nothing
// until it monitors again; a Nonin module in data format #7, its packets cut
// at random places and mixed with junk, is stored once a second with its
// status bits, and a disconnected sensor raises the alarm.
import t from 'tap';
import { join } from 'node:path';
import { loadConfig } from '../../../edge/config/load.js';
import { Gateway } from '../../../edge/gateway.js';
import { createLogger } from '../../../edge/log.js';
import type { Alarm, AlarmEvent } from '../../../edge/alarms/types.js';
import { ReadingFlag } from '../../../shared/reading.js';
import { masimoLine, noninRecord } from '../../../simulators/serialLines.js';
import type { Emission } from '../../../simulators/bed.js';
import { SerialDevice as SimulatedOximeter } from '../../../simulators/transports/serialDevice.js';
import { tempDir, waitFor } from '../../helpers/env.js';
import { writeTestConfig } from '../../helpers/gateway.js';
import { PtyCable, play } from '../../helpers/pty.js';

t.setTimeout(150_000);

async function gatewayWith(t: Parameters<typeof tempDir>[0], serial: Array<Record<string, unknown>>) {
  const { file } = await writeTestConfig(t, {
    devices: [],
    extra: { serial, alarms: { technical: { sensorDelayMs: 300 } } },
  });
  const gateway = new Gateway(loadConfig({ file, env: {} }), { log: createLogger('silent') });
  const events: Array<readonly [AlarmEvent, Alarm]> = [];
  gateway.bus.on('alarm.events', (batch) => events.push(...batch));
  await gateway.start();
  t.teardown(() => gateway.stop());
  return { gateway, events };
}

const readings = (g: Gateway, deviceId: string) =>
  g
    .db!.prepare(
      'SELECT r.code, r.value, r.flags FROM readings r JOIN devices d ON d.id = r.device WHERE d.device_id = ? ORDER BY r.observation, r.code',
    )
    .all(deviceId) as Array<{ code: string; value: number; flags: number }>;
const sensorAlarm = (events: ReadonlyArray<readonly [AlarmEvent, Alarm]>, deviceId: string) =>
  events
    .filter(([e, a]) => a.key === `device:${deviceId}:sensor` && (e.phase === 'raised' || e.phase === 'cleared'))
    .map(([e, a]) => `${e.phase}: ${a.message}`);

t.test(
  'masimo-ascii: no cable connected (EXC 0x1000) is a technical alarm, and its values are not stored',
  async (t) => {
    const dir = tempDir(t);
    const cable = new PtyCable(t, dir);
    await cable.plug();
    const { gateway, events } = await gatewayWith(t, [
      {
        path: cable.gateway,
        driver: 'masimo-ascii',
        deviceId: 'pox-9',
        bed: '9',
        deviceClock: 'utc',
        reopenMinMs: 100,
        reopenMaxMs: 400,
      },
    ]);
    const t0 = Math.floor(Date.now() / 1000) * 1000 - 60_000;
    const line = (i: number, spo2: number | null, pr: number | null, exc: number) =>
      masimoLine({ ts: t0 + i * 1000, spo2, pr, exc, utc: true });
    // The Radical prints numbers it does not measure: with no cable they are not the patient's.
    t.same(
      await play(
        t,
        cable.device,
        [line(0, 97, 72, 0x800), line(1, 97, 72, 0x1000), line(2, 97, 72, 0x1000), line(3, 97, 72, 0x1000)],
        { intervalMs: 250 },
      ),
      { written: 4 },
    );
    await waitFor(() => (sensorAlarm(events, 'pox-9').length === 1 ? true : undefined), 10_000, 'the sensor alarm');
    t.same(sensorAlarm(events, 'pox-9'), ['raised: Device pox-9: no sensor or cable']);
    t.same(
      readings(gateway, 'pox-9'),
      [
        { code: 'pr', value: 72, flags: 0 },
        { code: 'spo2', value: 97, flags: 0 },
      ],
      'only the line before the cable came out is stored',
    );

    // Cable back, low signal IQ: monitoring again, values stored flagged, the alarm clears.
    t.same(await play(t, cable.device, [line(4, 95, 70, 0x800 | 0x400)], { intervalMs: 0 }), { written: 1 });
    await waitFor(() => (sensorAlarm(events, 'pox-9').length === 2 ? true : undefined), 10_000, 'the alarm to clear');
    t.equal(sensorAlarm(events, 'pox-9')[1], 'cleared: Device pox-9: no sensor or cable');
    await waitFor(() => (readings(gateway, 'pox-9').length === 4 ? true : undefined), 10_000, 'the flagged values');
    t.same(readings(gateway, 'pox-9').slice(2), [
      { code: 'pr', value: 70, flags: ReadingFlag.unreliable },
      { code: 'spo2', value: 95, flags: ReadingFlag.unreliable },
    ]);
  },
);

t.test(
  'nonin-binary-7: packets split anywhere and mixed with junk are read a reading a second, with their status',
  async (t) => {
    const dir = tempDir(t);
    const cable = new PtyCable(t, dir);
    await cable.plug();
    const { gateway, events } = await gatewayWith(t, [
      {
        path: cable.gateway,
        driver: 'nonin-binary-7',
        deviceId: 'pox-x',
        bed: '4',
        reopenMinMs: 100,
        reopenMaxMs: 400,
      },
    ]);
    const second = (spo2: number | null, hr: number | null, status = {}) => {
      const packet = noninRecord(7, spo2, hr, status, 0x2040);
      return Buffer.concat([packet, packet, packet]);
    };
    const stream = Buffer.concat([
      Buffer.from('NONIN\r\n\x00\xff', 'latin1'), // a banner and noise before the first packet
      second(97, 72),
      second(96, 150, { artifact: true }),
      Buffer.from([0x80, 0x01, 0x02]), // the start of a frame that never ends: skipped as junk
      second(95, 71),
      second(95, 71),
      second(null, null, { disconnected: true }),
      second(null, null, { disconnected: true }),
      second(null, null, { disconnected: true }),
    ]);
    // Cut at odd places, as a USB adapter hands bytes over.
    const chunks: Buffer[] = [];
    for (let at = 0, size = 1; at < stream.length; at += size, size = (size * 7 + 3) % 61 || 1)
      chunks.push(stream.subarray(at, at + size));
    t.same(await play(t, cable.device, chunks, { intervalMs: 5, burst: 4 }), { written: chunks.length });
    await waitFor(() => (sensorAlarm(events, 'pox-x').length === 1 ? true : undefined), 15_000, 'the sensor alarm');
    t.same(
      sensorAlarm(events, 'pox-x'),
      ['raised: Device pox-x: no sensor or cable'],
      'sensor disconnected (SNSD) is a technical alarm',
    );
    const stored = readings(gateway, 'pox-x');
    const pairs = stored.map((r) => `${r.code}=${r.value}${r.flags & ReadingFlag.unreliable ? '!' : ''}`);
    t.same(
      pairs.slice(0, 4),
      ['pr=72', 'spo2=97', 'pr=150!', 'spo2=96!'],
      'values, a 9-bit pulse rate, and the artifact flag',
    );
    t.ok(
      pairs.length >= 6 && pairs.slice(4).every((p) => p === 'pr=71' || p === 'spo2=95'),
      `after the torn frame, the next seconds are read (${pairs.join(' ')})`,
    );
    t.notOk(
      stored.some((r) => r.value === 127 || r.value === 511),
      'missing-data values are never stored',
    );
    const junk = await gateway.metrics!.registry.getSingleMetric('wardgate_serial_junk_bytes_total')!.get();
    t.ok(
      junk.values.some((v) => v.value >= 10),
      'junk counted',
    );
  },
);

t.test(
  "the simulator's Xpod (data format #7) is read by nonin-binary-7: values, then sensor off as a technical alarm",
  async (t) => {
    const dir = tempDir(t);
    const xpod = new SimulatedOximeter({ deviceId: 'pox-5', format: 'xpod', dir: join(dir, 'tty') });
    t.teardown(() => xpod.stop());
    await xpod.start();
    const { gateway, events } = await gatewayWith(t, [
      {
        path: xpod.gatewayPath,
        driver: 'nonin-binary-7',
        deviceId: 'pox-5',
        bed: '5',
        reopenMinMs: 100,
        reopenMaxMs: 400,
      },
    ]);
    const at = { t: 0, bed: '5', deviceId: 'pox-5' };
    const second: Emission = {
      ...at,
      type: 'obs',
      obs: [
        { code: 'spo2', value: 96, unit: '%' },
        { code: 'pr', value: 64, unit: '/min' },
      ],
    };
    // The port may open a moment after the gateway starts: send until the first second is stored.
    await waitFor(
      async () => {
        await xpod.send(second, Date.now());
        return readings(gateway, 'pox-5').length > 0 ? true : undefined;
      },
      10_000,
      'the first second stored',
    );
    t.same(readings(gateway, 'pox-5').slice(0, 2), [
      { code: 'pr', value: 64, flags: 0 },
      { code: 'spo2', value: 96, flags: 0 },
    ]);
    await xpod.send({ ...at, type: 'status', status: { sensor: 'off' } }, Date.now());
    await waitFor(
      async () => {
        await xpod.send(second, Date.now());
        return sensorAlarm(events, 'pox-5').length ? true : undefined;
      },
      10_000,
      'the sensor alarm',
    );
    t.same(sensorAlarm(events, 'pox-5'), ['raised: Device pox-5: no sensor or cable']);
    // Every second before the sensor came off is in by now (the alarm waits 300 ms); the ones after add nothing.
    const before = readings(gateway, 'pox-5');
    for (let i = 0; i < 3; i++) await xpod.send(second, Date.now());
    await new Promise((r) => setTimeout(r, 1000));
    t.same(readings(gateway, 'pox-5'), before, 'nothing stored while the sensor is off');
    t.ok(
      before.every((r) => (r.code === 'spo2' ? r.value === 96 : r.value === 64)),
      'and only the values of the seconds it was on',
    );
  },
);
