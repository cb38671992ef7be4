// The sync against a local server that speaks the contract, through the real
// daemon (MQTT in, SQLite, sync out): outage, flapping link, 500s, answers
// slower than the timeout, a lost 200, 400 and 401 quarantine and the
// operator's retry. After each: every reading arrived, none twice.
import t, { type Test } from 'tap';
import { PassThrough } from 'node:stream';
import { connectAs, startTestGateway } from '../../helpers/gateway.js';
import { waitFor } from '../../helpers/env.js';
import { main } from '../../../bin/main.js';
import { startContractServer, type ContractServer, type Mode } from './contractServer.js';
import type { SyncReading } from '../../../shared/sync/wire.js';

t.setTimeout(150_000);
const SECRET = 'gw-test-cloud-secret-0123456789abcdef';
const WARD_SECRET = 'ward-3b-pseudonym-secret-0123456789';
const env = { WG_CLOUD: SECRET, WG_WARD: WARD_SECRET };

async function ward(t: Test, server: ContractServer, extra: Record<string, unknown> = {}, cloud = {}) {
  const g = await startTestGateway(t, {
    env,
    extra: {
      cloud: {
        ...cloud,
        url: server.url,
        secretEnv: 'WG_CLOUD',
        wardSecretEnv: 'WG_WARD',
        concurrency: 3,
        requestTimeoutMs: 400,
        batch: { maxItems: 40, maxAgeMs: 0 },
        backoff: { initialMs: 20, maxMs: 250 },
        unreachableAlarmAfterMs: 1500,
      },
      jobs: { sync: '* * * * * *' },
      ...extra,
    },
  });
  const client = await connectAs(t, g.url, 'pox-1');
  let seq = 0;
  const publish = async (count: number) => {
    for (let i = 0; i < count; i++) {
      seq++;
      await client.publishAsync(
        'wardgate/devices/pox-1/obs',
        JSON.stringify({
          seq,
          obs: [
            { code: 'spo2', value: 90 + (seq % 9), unit: '%' },
            { code: 'pr', value: 70, unit: '/min' },
          ],
        }),
        { qos: 1 },
      );
    }
  };
  return { ...g, publish, published: () => seq };
}

/** Every published reading arrived exactly once: one item per (device, seq, code), all of them. */
async function allArrived(t: Test, server: ContractServer, published: number, what: string): Promise<void> {
  const expected = published * 2;
  await waitFor(
    () => ([...server.items.keys()].filter((k) => k.startsWith('readings/')).length >= expected ? true : undefined),
    60_000,
    what,
  );
  const readings = [...server.items.entries()]
    .filter(([k]) => k.startsWith('readings/'))
    .map(([, v]) => v as SyncReading);
  const byContent = new Set(readings.map((r) => `${r.device}/${r.seq}/${r.code}`));
  t.equal(readings.length, expected, `${what}: ${expected} readings stored`);
  t.equal(byContent.size, expected, `${what}: no reading stored twice under two numbers`);
  for (let s = 1; s <= published; s++) if (!byContent.has(`pox-1/${s}/spo2`)) t.fail(`seq ${s} missing`);
}

const scenarios: Array<[string, Mode[]]> = [
  ['an outage, then the link back', ['down']],
  ['a flapping link', ['down', 'ok', 'down', 'ok', 'down']],
  ['503 answers', ['error500']],
  ['answers slower than the timeout', ['slow']],
  ['a 200 lost on the way back', ['lose200']],
];

for (const [name, modes] of scenarios) {
  t.test(`${name}: every reading arrives once`, async (t) => {
    const server = await startContractServer(SECRET, { slowMs: 900 });
    t.teardown(() => server.stop());
    const w = await ward(t, server);
    for (const mode of modes) {
      server.mode = mode;
      await w.publish(60);
      await new Promise((r) => setTimeout(r, 400));
    }
    const failedAttempts = server.attempts;
    t.ok(failedAttempts > 0, `${failedAttempts} attempts during the failure`);
    server.mode = 'ok';
    await w.publish(20);
    await allArrived(t, server, w.published(), name);
    const status = (await import('../../../edge/store/statusQuery.js')).readStatus(w.gateway.db!);
    await waitFor(
      () =>
        w.gateway.db!.prepare("SELECT value FROM counters WHERE name = 'readings_unsynced'").pluck().get() === 0
          ? true
          : undefined,
      10_000,
      'unsynced counter at 0',
    );
    t.ok(status.sync.lastSuccessTs, 'last success recorded');
  });
}

t.test('a long outage raises "cloud unreachable", cleared when the link is back', async (t) => {
  const server = await startContractServer(SECRET);
  t.teardown(() => server.stop());
  server.mode = 'down';
  const w = await ward(t, server);
  await w.publish(30);
  const engine = w.gateway.alarms!.engine;
  await waitFor(() => engine.openAlarms().find((a) => a.key === 'sync:unreachable'), 20_000, 'unreachable alarm');
  t.pass('raised after the configured time');
  server.mode = 'ok';
  await allArrived(t, server, w.published(), 'after the outage');
  await waitFor(
    () => (engine.openAlarms().some((a) => a.key === 'sync:unreachable' && a.state === 'active') ? undefined : true),
    10_000,
    'alarm cleared',
  );
});

for (const [mode, paused] of [
  ['reject400', false],
  ['reject401', true],
] as const) {
  t.test(
    `${mode === 'reject400' ? '400' : '401'}: quarantined with an alarm, nothing deleted, sent again on --retry-quarantined`,
    async (t) => {
      const server = await startContractServer(SECRET);
      t.teardown(() => server.stop());
      server.mode = mode;
      // A wrong secret: no grace for a gateway the cloud may not know yet (tested below).
      const w = await ward(t, server, {}, { signatureGraceMs: 0 });
      await w.publish(50);
      const db = w.gateway.db!;
      await waitFor(
        () =>
          (db.prepare("SELECT count(*) FROM sync_batches WHERE state = 'quarantined'").pluck().get() as number) > 0
            ? true
            : undefined,
        20_000,
        'a quarantined batch',
      );
      const row = db
        .prepare("SELECT http_status, error_code, reason FROM sync_batches WHERE state = 'quarantined' LIMIT 1")
        .get() as { http_status: number; error_code: string; reason: string };
      t.equal(row.http_status, mode === 'reject400' ? 400 : 401, 'the status is kept');
      t.ok(row.reason.length > 0, `the reason is kept: ${row.error_code} ${row.reason}`);
      await waitFor(
        () => w.gateway.alarms!.engine.openAlarms().find((a) => a.key === 'sync:quarantine'),
        10_000,
        'quarantine alarm',
      );
      t.equal(db.prepare('SELECT count(*) FROM observations').pluck().get(), 50, 'nothing deleted');
      if (paused)
        t.ok(
          db.prepare("SELECT value FROM sync_state WHERE key = 'paused'").pluck().get(),
          'the sync pauses: every batch would be refused',
        );
      // The operator fixes the cause once nothing sent before the fix is still on its way: its 400 would come back after the retry.
      await waitFor(
        () =>
          db.prepare("SELECT count(*) FROM sync_batches WHERE state = 'inflight' AND attempts > 0").pluck().get() === 0
            ? true
            : undefined,
        30_000,
        'batches sent before the fix to settle',
      );
      server.mode = 'ok';
      const out = new PassThrough();
      let text = '';
      out.on('data', (d: Buffer) => (text += d.toString()));
      const io = {
        argv: ['sync', '--config', w.config.source, '--retry-quarantined'],
        stdout: out,
        stderr: out,
        stdin: new PassThrough(),
        env,
      };
      t.equal(await main(io), 0, `wardgate sync --retry-quarantined exits 0: ${text}`);
      t.match(text, /back in flight/);
      await allArrived(t, server, w.published(), 'after the retry');
      await waitFor(
        () =>
          w.gateway.alarms!.engine.openAlarms().some((a) => a.key === 'sync:quarantine' && a.state === 'active')
            ? undefined
            : true,
        10_000,
        'quarantine alarm cleared',
      );
    },
  );
}

t.test(
  'a gateway the cloud does not know yet (401 until it reloads its secrets): retried, then sent, nothing quarantined or paused',
  async (t) => {
    const server = await startContractServer(SECRET);
    t.teardown(() => server.stop());
    server.unknownGateway = true;
    const w = await ward(t, server, {}, { signatureGraceMs: 60_000 });
    await w.publish(20);
    await waitFor(() => (server.refusedUnknown >= 3 ? true : undefined), 20_000, 'three refused requests');
    const db = w.gateway.db!;
    t.equal(db.prepare("SELECT value FROM sync_state WHERE key = 'paused'").pluck().get(), undefined, 'not paused');
    server.unknownGateway = false; // the cloud has reloaded its secret file
    await w.publish(10);
    await allArrived(t, server, w.published(), 'once the cloud knows the gateway');
    t.equal(db.prepare("SELECT count(*) FROM sync_batches WHERE state = 'quarantined'").pluck().get(), 0);
    t.notOk(
      w.gateway.alarms!.engine.openAlarms().some((a) => a.key === 'sync:quarantine' && a.state === 'active'),
      'no quarantine alarm',
    );
  },
);

t.test('signature refusals that outlast signatureGraceMs pause the sync, start check and batches alike', async (t) => {
  const server = await startContractServer(SECRET);
  t.teardown(() => server.stop());
  server.unknownGateway = true;
  const w = await ward(t, server, {}, { signatureGraceMs: 1000 });
  await w.publish(5);
  const db = w.gateway.db!;
  const paused = await waitFor(
    () => db.prepare("SELECT value FROM sync_state WHERE key = 'paused'").pluck().get() as string | undefined,
    20_000,
    'the sync to pause',
  );
  t.match(paused, /401 WG_ERR_SIGNATURE/);
  t.ok(server.refusedUnknown >= 2, `retried within the grace first (${server.refusedUnknown} requests)`);
  // Known at start, then refused (a secret rotated in the cloud only): batches wait the grace, then pause too.
  const later = await startContractServer(SECRET);
  t.teardown(() => later.stop());
  const w2 = await ward(t, later, {}, { signatureGraceMs: 1000 });
  await w2.publish(5);
  await allArrived(t, later, w2.published(), 'before the rotation');
  later.mode = 'reject401';
  const before = later.attempts;
  await w2.publish(5);
  const db2 = w2.gateway.db!;
  await waitFor(
    () => db2.prepare("SELECT value FROM sync_state WHERE key = 'paused'").pluck().get() as string | undefined,
    20_000,
    'the sync to pause on refused batches',
  );
  t.ok(
    later.attempts - before >= 2,
    `a refused batch was retried within the grace (${later.attempts - before} attempts)`,
  );
  t.ok((db2.prepare("SELECT count(*) FROM sync_batches WHERE state = 'quarantined'").pluck().get() as number) >= 1);
});
