// `wardgate demo` end to end, as `npm start` runs it: it starts, a simulated
// reading reaches the edge buffer (and the Firestore emulator when gcloud is
// installed), and Ctrl-C stops every process it started and frees every port.
import { execFileSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import t from 'tap';
import { onPath } from '../../simulators/demo/children.js';
import { tempDir, waitFor } from '../helpers/env.js';
import { spawnWardgate, WARDGATE_BIN } from '../helpers/gateway.js';

const withCloud = onPath('gcloud', process.env);

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const portFree = (port: number) =>
  new Promise<boolean>((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });

t.test(
  `the demo starts, carries a reading ${withCloud ? 'to the edge and the Firestore emulator' : 'to the edge (no gcloud)'}, and stops cleanly`,
  { timeout: 170_000 },
  async (t) => {
    const dir = tempDir(t, 'wardgate-demo-test-');
    const { child, output, exited } = spawnWardgate(t, ['demo', '--dir', dir, '--seed', '3']);

    await waitFor(
      () => (output().includes('wardgate demo: ready') ? true : undefined),
      120_000,
      'the demo to be ready',
    );
    t.match(output(), /dashboard\s+http:\/\/127\.0\.0\.1:\d+\//);
    t.match(
      output(),
      /mosquitto_sub -h 127\.0\.0\.1 -p \d+ -u station -P '[^']{16,}'/,
      "a subscribe line with this run's credentials",
    );
    t.match(output(), withCloud ? /cloud\s+http:\/\/127\.0\.0\.1:\d+\/wardApi/ : /cloud\s+off/);
    const demo = JSON.parse(readFileSync(join(dir, 'demo.json'), 'utf8')) as {
      ports: Record<string, number>;
      children: Record<string, number>;
      emulators: { firestore: string; pubsub: string } | null;
    };
    for (const file of ['credentials.json', 'wardgate.yaml', 'demo.env'])
      t.equal(statSync(join(dir, file)).mode & 0o777, 0o600, `${file} is 0600`);

    const secrets = Object.fromEntries(
      readFileSync(join(dir, 'demo.env'), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => l.split(/=(.*)/s).slice(0, 2)),
    );
    const status = () =>
      JSON.parse(
        execFileSync(process.execPath, [WARDGATE_BIN, 'status', '--json', '--config', join(dir, 'wardgate.yaml')], {
          encoding: 'utf8',
          env: { ...process.env, ...secrets },
        }),
      ) as {
        readings: { total: number; unsynced: number };
        devices: Array<{ id: string }>;
      };
    const buffered = await waitFor(
      () => {
        const s = status();
        return s.readings.total > 0 ? s : undefined;
      },
      30_000,
      'readings in the edge buffer',
    );
    t.ok(buffered.readings.total > 0, `${buffered.readings.total} readings in the edge buffer`);

    if (withCloud && demo.emulators) {
      const { Firestore } = await import('@google-cloud/firestore');
      process.env.FIRESTORE_EMULATOR_HOST = demo.emulators.firestore;
      // No credentials needed: without this the client probes the GCE metadata server, off this machine.
      process.env.METADATA_SERVER_DETECTION = 'none';
      const db = new Firestore({ projectId: 'wardgate-demo' });
      t.teardown(() => db.terminate());
      const segments = await waitFor(
        async () => {
          const snap = await db.collection('wards').doc('DEMO').collection('segments').limit(1).get();
          return snap.empty ? undefined : snap.size;
        },
        60_000,
        'a synced segment in the Firestore emulator',
      );
      t.ok(segments > 0, 'readings reached the Firestore emulator');
    }

    const stopAt = Date.now();
    child.kill('SIGINT');
    const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r('timeout'), 45_000))]);
    t.equal(code, 0, `exit 0 within 45 s (took ${Date.now() - stopAt} ms)`);
    t.match(output(), /wardgate demo: stopped/);
    for (const [name, pid] of Object.entries(demo.children)) t.notOk(alive(pid), `${name} (pid ${pid}) is gone`);
    for (const [name, port] of Object.entries(demo.ports)) t.ok(await portFree(port), `${name} port ${port} is free`);
    for (const host of Object.values(demo.emulators ?? {}))
      t.ok(await portFree(Number(host.split(':')[1])), `emulator ${host} is free`);
    const socats = execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' })
      .split('\n')
      .filter((l) => l.startsWith('socat') && l.includes(dir));
    t.same(socats, [], 'no socat of this run is left');
  },
);
