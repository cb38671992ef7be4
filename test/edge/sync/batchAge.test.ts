// The default age bound against the ingest function on the emulators: routine
// readings wait for company (two minutes, so that a small ward's batches cost
// two or three Firestore writes per 1,000 readings, docs/PERFORMANCE.md),
// while an alarm event raised meanwhile reaches the cloud at once, alone.
import t from 'tap';
import { setTimeout as sleep } from 'node:timers/promises';
import { alarmEvents, segments } from '../../../cloud/store/paths.js';
import type { SegmentDoc } from '../../../cloud/ingest/segments.js';
import { connectAs, startTestGateway } from '../../helpers/gateway.js';
import { startSyncCloud } from '../../helpers/syncCloud.js';
import { waitFor } from '../../helpers/env.js';

t.setTimeout(180_000);
const PROJECT = 'wardgate-batch-age-test';
const WARD = 'A1';
const SECRET = 'gw-age-secret-0123456789abcdef-0123';

const { cloud } = await startSyncCloud(
  t,
  PROJECT,
  ['gw-age', 'gw-age-short', 'gw-age-full'].map((id) => [id, { ward: WARD, secret: SECRET }]),
);

const storedReadingsOf = async (gateway: string) =>
  (await segments(cloud.ctx.db, WARD).where('gateway', '==', gateway).get()).docs.reduce(
    (n, d) => n + (d.data() as SegmentDoc).count,
    0,
  );
const storedReadings = () => storedReadingsOf('gw-age');
const storedAlarmEvents = async () => (await alarmEvents(cloud.ctx.db, WARD).get()).size;

t.test('routine readings wait for the age bound; an alarm event goes at once', async (t) => {
  const g = await startTestGateway(t, {
    env: { WG_CLOUD: SECRET, WG_WARD: 'ward-pseudonym-secret-0123456789abcdef' },
    extra: {
      ward: WARD,
      gateway: { id: 'gw-age' },
      // The batch bounds are the defaults; the sync job runs every second, so only the age bound holds data back.
      cloud: {
        url: cloud.url,
        secretEnv: 'WG_CLOUD',
        wardSecretEnv: 'WG_WARD',
        backoff: { initialMs: 50, maxMs: 400 },
      },
      jobs: { sync: '* * * * * *' },
      alarms: { limits: { spo2: { low: 91, delayMs: 0 } } },
    },
  });
  t.equal(g.config.cloud!.batch.maxAgeMs, 120_000, 'routine data waits up to two minutes by default');
  const client = await connectAs(t, g.url, 'pox-1');
  let seq = 0;
  const publish = async (count: number, spo2: number) => {
    for (let i = 0; i < count; i++) {
      seq++;
      await client.publishAsync(
        'wardgate/devices/pox-1/obs',
        JSON.stringify({
          seq,
          obs: [
            { code: 'spo2', value: spo2, unit: '%' },
            { code: 'pr', value: 70, unit: '/min' },
          ],
        }),
        { qos: 1 },
      );
    }
  };

  await publish(20, 96);
  // Past the former 5-second bound and several sync ticks.
  await sleep(8000);
  t.equal(await storedReadings(), 0, 'after 8 s no routine reading is in the cloud yet');
  t.equal(await storedAlarmEvents(), 0, 'nor any alarm event');

  const raised = Date.now();
  await publish(2, 85);
  await waitFor(
    async () => ((await storedAlarmEvents()) > 0 ? true : undefined),
    15_000,
    'the alarm event in the cloud',
  );
  const alarmMs = Date.now() - raised;
  t.ok(alarmMs < 5000, `the alarm event reached the cloud ${alarmMs} ms after its reading was acknowledged`);
  t.equal(await storedReadings(), 0, 'it went alone: the routine readings still wait for company');

  const edge = g.gateway.db!;
  t.equal(
    edge.prepare("SELECT value FROM counters WHERE name = 'readings_unsynced'").pluck().get(),
    2 * (20 + 2),
    "every reading waits in the outbox, the alarm's own too",
  );
});

t.test('routine readings go once the oldest of them reaches the age bound', async (t) => {
  const g = await startTestGateway(t, {
    env: { WG_CLOUD: SECRET, WG_WARD: 'ward-pseudonym-secret-0123456789abcdef' },
    extra: {
      ward: WARD,
      gateway: { id: 'gw-age-short' },
      cloud: {
        url: cloud.url,
        secretEnv: 'WG_CLOUD',
        wardSecretEnv: 'WG_WARD',
        batch: { maxAgeMs: 10_000 },
        backoff: { initialMs: 50, maxMs: 400 },
      },
      jobs: { sync: '* * * * * *' },
    },
  });
  const client = await connectAs(t, g.url, 'pox-2');
  const first = Date.now();
  for (let seq = 1; seq <= 10; seq++) {
    await client.publishAsync(
      'wardgate/devices/pox-2/obs',
      JSON.stringify({ seq, obs: [{ code: 'spo2', value: 97, unit: '%' }] }),
      { qos: 1 },
    );
  }
  const stored = () => storedReadingsOf('gw-age-short');
  await sleep(5000);
  t.equal(await stored(), 0, 'not before the bound');
  await waitFor(async () => ((await stored()) === 10 ? true : undefined), 30_000, 'the readings in the cloud');
  const waited = Date.now() - first;
  t.ok(waited >= 9000, `all ten went ${Math.round(waited / 1000)} s after the first`);
});

t.test('a batch the next device message does not fit in goes at once: waiting would not fill it', async (t) => {
  const g = await startTestGateway(t, {
    env: { WG_CLOUD: SECRET, WG_WARD: 'ward-pseudonym-secret-0123456789abcdef' },
    extra: {
      ward: WARD,
      gateway: { id: 'gw-age-full' },
      cloud: {
        url: cloud.url,
        secretEnv: 'WG_CLOUD',
        wardSecretEnv: 'WG_WARD',
        batch: { maxItems: 10, maxAgeMs: 60_000 },
        backoff: { initialMs: 50, maxMs: 400 },
      },
      jobs: { sync: '* * * * * *' },
    },
  });
  const client = await connectAs(t, g.url, 'pox-1');
  // Three readings a message: three messages are 9 items, and the fourth does not fit in the 10.
  for (let seq = 1; seq <= 4; seq++) {
    const obs = [
      { code: 'spo2', value: 97, unit: '%' },
      { code: 'pr', value: 70, unit: '/min' },
      { code: 'hr', value: 71, unit: '/min' },
    ];
    await client.publishAsync('wardgate/devices/pox-1/obs', JSON.stringify({ seq, obs }), { qos: 1 });
  }
  const stored = () => storedReadingsOf('gw-age-full');
  await waitFor(
    async () => ((await stored()) === 9 ? true : undefined),
    15_000,
    'the first three messages in the cloud',
  );
  t.pass('nine items of ten went at once');
  await sleep(3000);
  t.equal(await stored(), 9, 'the fourth message waits for company');
});
