// kill -9 of a real daemon in the middle of a sync: devices publish, batches
// are in flight to a contract server that answers slowly, the daemon is killed
// at random moments several times and restarted, then left to drain. Every
// acknowledged reading must reach the server exactly once in effect: once by
// its outbox number, and never stored again under another number.
import t from 'tap';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import mqtt from 'mqtt';
import { passwordOf, spawnDaemon, writeTestConfig } from '../../helpers/gateway.js';
import { waitFor } from '../../helpers/env.js';
import type { SyncReading } from '../../../shared/sync/wire.js';
import { startContractServer } from './contractServer.js';
import { publishAll } from '../../helpers/publisher.js';

t.setTimeout(170_000);
const SECRET = 'gw-test-cloud-secret-0123456789abcdef';
const env = { WG_CLOUD: SECRET, WG_WARD: 'ward-3b-pseudonym-secret-0123456789' };
const DEVICES = ['pox-1', 'pox-2', 'pox-3'];
const PER_ROUND = 250;
const KILLS = 4;

t.test('kill -9 with batches in flight, restart, drain: every reading at the cloud exactly once', async (t) => {
  const server = await startContractServer(SECRET, { slowMs: 250 });
  t.teardown(() => server.stop());
  server.mode = 'slow';
  const { dir, file, mqttPort } = await writeTestConfig(t, {
    env,
    devices: DEVICES.map((id, i) => ({ id, bed: String(i + 1) })),
    extra: {
      cloud: {
        url: server.url,
        secretEnv: 'WG_CLOUD',
        wardSecretEnv: 'WG_WARD',
        concurrency: 3,
        requestTimeoutMs: 3000,
        batch: { maxItems: 60, maxAgeMs: 0 },
        backoff: { initialMs: 20, maxMs: 200 },
      },
      jobs: { sync: '* * * * * *' },
    },
  });
  const dataDir = join(dir, 'data');
  const acked = new Map(DEVICES.map((d) => [d, new Set<number>()]));
  const sent = new Map(DEVICES.map((d) => [d, [] as number[]]));
  const readingsAtServer = () =>
    [...server.items.entries()].filter(([k]) => k.startsWith('readings/')).map(([, v]) => v as SyncReading);

  for (let round = 0; round <= KILLS; round++) {
    const attemptsBefore = server.attempts;
    const daemon = await spawnDaemon(t, file, dataDir, env);
    const clients = await Promise.all(
      DEVICES.map((d) =>
        mqtt.connectAsync(`mqtt://127.0.0.1:${mqttPort}`, {
          clientId: d,
          username: d,
          password: passwordOf(d),
          reconnectPeriod: 0,
          connectTimeout: 10_000,
        }),
      ),
    );
    const work = DEVICES.map((d, i) => {
      const fresh = round < KILLS ? Array.from({ length: PER_ROUND }, (_, k) => round * PER_ROUND + k + 1) : [];
      sent.get(d)!.push(...fresh);
      return publishAll(
        clients[i],
        d,
        sent.get(d)!.filter((s) => !acked.get(d)!.has(s)),
        acked.get(d)!,
        10,
      );
    });
    if (round < KILLS) {
      // Kill only once this run has batches on the wire, at a random moment within a slow answer or two.
      await waitFor(
        () => (server.attempts > attemptsBefore ? true : undefined),
        20_000,
        `round ${round}: the first attempt`,
      );
      const killAfter = Math.floor(Math.random() * 600);
      await new Promise((r) => setTimeout(r, killAfter));
      daemon.child.kill('SIGKILL');
      t.equal(
        await daemon.exited,
        'SIGKILL',
        `round ${round}: killed ${killAfter} ms into the sync, ${server.attempts - attemptsBefore} attempts so far`,
      );
    }
    await Promise.all(work);
    if (round === KILLS) {
      const total = DEVICES.length * KILLS * PER_ROUND * 2;
      await waitFor(() => (readingsAtServer().length >= total ? true : undefined), 60_000, 'the backlog to drain');
      const db = new Database(join(dataDir, 'wardgate.db'), { readonly: true });
      await waitFor(
        () =>
          db.prepare("SELECT count(*) FROM sync_batches WHERE state = 'inflight'").pluck().get() === 0
            ? true
            : undefined,
        10_000,
        'no batch in flight',
      );
      db.close();
      daemon.child.kill('SIGTERM');
      t.equal(await daemon.exited, 0, 'the last run stops cleanly');
    }
    await Promise.all(clients.map((c) => c.endAsync(true)));
  }

  const readings = readingsAtServer();
  const byContent = new Map<string, number>();
  for (const r of readings)
    byContent.set(`${r.device}/${r.seq}/${r.code}`, (byContent.get(`${r.device}/${r.seq}/${r.code}`) ?? 0) + 1);
  const total = DEVICES.length * KILLS * PER_ROUND;
  t.equal(
    [...acked.values()].reduce((n, s) => n + s.size, 0),
    total,
    'every message was acknowledged in the end',
  );
  t.equal(readings.length, total * 2, `${total * 2} readings stored at the server, by outbox number`);
  t.equal(byContent.size, total * 2, 'each under exactly one number: nothing stored twice in content');
  let missing = 0;
  for (const d of DEVICES)
    for (const seq of acked.get(d)!)
      for (const code of ['spo2', 'pr']) if (!byContent.has(`${d}/${seq}/${code}`)) missing++;
  t.equal(missing, 0, 'no acknowledged reading missing');
  // The server stores before its slow answer: a kill during the wait leaves a batch stored but unconfirmed, sent again after the restart.
  const repeats = server.batchIds.length - new Set(server.batchIds).size;
  t.ok(repeats > 0, `batches caught by a kill were sent again as themselves: ${repeats} repeated batch ids`);
  const db = new Database(join(dataDir, 'wardgate.db'), { readonly: true });
  t.equal(
    db.prepare("SELECT value FROM counters WHERE name = 'readings_unsynced'").pluck().get(),
    0,
    'the edge counts nothing unsynced',
  );
  t.equal(db.prepare('SELECT count(*) FROM sync_batches').pluck().get(), 0, 'no batch left behind');
  db.close();
});
