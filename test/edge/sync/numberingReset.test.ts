// A ward box whose database is restored from an older backup, or wiped,
// keeps its gateway id: the cloud already holds the numbers the edge would
// give its next items. Through the real daemon and the real functions on the
// Firestore emulator: at start the gateway asks the cloud for the highest
// numbers it holds, sends nothing until it has the answer, and numbers new
// rows (also rows that arrived while it waited) above them, so every reading
// reaches the cloud exactly once. And the cloud does not pass off an item that
// differs from the one it holds under the same number as a duplicate.
import t, { type Test } from 'tap';
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { loadConfig } from '../../../edge/config/load.js';
import { Outbox } from '../../../edge/store/outbox.js';
import { Gateway } from '../../../edge/gateway.js';
import { createLogger } from '../../../edge/log.js';
import { segments } from '../../../cloud/store/paths.js';
import type { SegmentDoc } from '../../../cloud/ingest/segments.js';
import { buildBatch, signedBatchRequest } from '../../../shared/sync/index.js';
import { connectAs, writeTestConfig } from '../../helpers/gateway.js';
import { cloudLink, startSyncCloud } from '../../helpers/syncCloud.js';
import { tempDir, waitFor } from '../../helpers/env.js';

t.setTimeout(180_000);
const PROJECT = 'wardgate-numbering-test';
const SECRET = 'gw-numbering-secret-0123456789abcdef-01';
const env = { WG_CLOUD: SECRET, WG_WARD: 'ward-pseudonym-secret-0123456789abcdef' };
const { cloud, db } = await startSyncCloud(t, PROJECT, [['gw-r1', { ward: 'R1', secret: SECRET }]]);

/** In front of the cloud: records the functions called, and can hold the start check's question until released. */
const proxy = { calls: [] as string[], hold: false, refuse: false, release: () => {} };
// A throw in here is a bug of this proxy: left unhandled, it fails the test.
const server = createServer(
  (req: IncomingMessage, res) =>
    void (async () => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const body = Buffer.concat(chunks);
      proxy.calls.push(req.url ?? '');
      const heads = req.url === '/verifyRange' && JSON.parse(body.toString('utf8')).heads === true;
      if (heads && proxy.hold) await new Promise<void>((resolve) => (proxy.release = resolve));
      if (heads && proxy.refuse) {
        return void res.writeHead(401, { 'content-type': 'application/json' }).end(
          JSON.stringify({
            ok: false,
            error: { code: 'WG_ERR_SIGNATURE', message: 'unknown gateway, or a wrong signature' },
          }),
        );
      }
      const headers = Object.fromEntries(
        Object.entries(req.headers).filter(([k]) => k.startsWith('x-wardgate-') || k === 'content-type'),
      ) as Record<string, string>;
      // The config pull asks with a GET, which carries no body.
      const bodyless = req.method === 'GET' || req.method === 'HEAD';
      const answer = await fetch(`${cloud.url}${req.url}`, {
        method: req.method,
        headers,
        ...(!bodyless && { body }),
      });
      res.writeHead(answer.status, { 'content-type': 'application/json' }).end(Buffer.from(await answer.arrayBuffer()));
    })(),
);
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
t.teardown(
  () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
);
const proxyUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

const { file } = await writeTestConfig(t, {
  extra: {
    ward: 'R1',
    gateway: { id: 'gw-r1' },
    // A refused signature is retried this long before the sync pauses (a gateway the cloud has not loaded yet).
    cloud: cloudLink(proxyUrl, { signatureGraceMs: 1000 }),
    jobs: { sync: '* * * * * *' },
  },
});
const config = loadConfig({ file, env });
const dataDir = config.gateway.dataDir;

let seq = 0;
async function runGateway(t: Test, work: (g: Gateway, publish: (count: number) => Promise<void>) => Promise<void>) {
  const gateway = new Gateway(config, { log: createLogger('silent'), env });
  await gateway.start();
  try {
    const client = await connectAs(t, `mqtt://127.0.0.1:${config.mqtt.port}`, 'pox-1');
    const publish = async (count: number) => {
      for (let i = 0; i < count; i++) {
        seq++;
        await client.publishAsync(
          'wardgate/devices/pox-1/obs',
          JSON.stringify({
            seq,
            obs: [
              { code: 'spo2', value: 95, unit: '%' },
              { code: 'pr', value: 60 + seq, unit: '/min' },
            ],
          }),
          { qos: 1 },
        );
      }
    };
    await work(gateway, publish);
    await client.endAsync(true);
  } finally {
    await gateway.stop();
  }
}
const drained = (g: Gateway) =>
  waitFor(
    () => {
      const edge = g.db!;
      return edge.prepare("SELECT value FROM counters WHERE name = 'readings_unsynced'").pluck().get() === 0 &&
        edge.prepare('SELECT count(*) FROM sync_batches').pluck().get() === 0
        ? true
        : undefined;
    },
    60_000,
    'the edge to drain',
  );

/** Readings the cloud holds, by device sequence number: how many times each is stored. */
async function cloudSeqs(): Promise<Map<number, number>> {
  const out = new Map<number, number>();
  for (const doc of (await segments(db, 'R1').get()).docs) {
    for (const c of Object.values((doc.data() as SegmentDoc).s))
      c.seq.forEach((s) => out.set(s, (out.get(s) ?? 0) + 1));
  }
  return out;
}
const expectAll = async (t: Test, through: number) => {
  const held = await cloudSeqs();
  const wrong = [];
  for (let s = 1; s <= through; s++) if (held.get(s) !== 2) wrong.push(`${s}:${held.get(s) ?? 0}`);
  t.same(wrong, [], `every reading of messages 1-${through} stored once in the cloud (seq:count where not)`);
};

const dbFiles = () => readdirSync(dataDir).filter((f) => f.startsWith('wardgate.db'));
const backupDir = tempDir(t);

t.test(
  "a database restored from an older backup numbers new readings above the cloud's, sending nothing before it knows them",
  async (t) => {
    await runGateway(t, async (g, publish) => {
      await publish(3);
      await drained(g);
    });
    for (const f of dbFiles()) copyFileSync(join(dataDir, f), join(backupDir, f));
    await runGateway(t, async (g, publish) => {
      await publish(4);
      await drained(g);
    });
    await expectAll(t, 7);

    // The backup comes back; readings arrive while the cloud's answer is held.
    for (const f of dbFiles()) rmSync(join(dataDir, f));
    for (const f of readdirSync(backupDir)) copyFileSync(join(backupDir, f), join(dataDir, f));
    proxy.hold = true;
    proxy.calls.length = 0;
    await runGateway(t, async (g, publish) => {
      await publish(3);
      await waitFor(() => (proxy.calls.includes('/verifyRange') ? true : undefined), 10_000, 'the start check');
      await new Promise((r) => setTimeout(r, 1500));
      t.same(
        proxy.calls.filter((c) => c === '/ingestBatch'),
        [],
        'no batch is sent before the cloud has said what it holds',
      );
      t.same(
        g.db!.prepare('SELECT id FROM observations WHERE seq > 7 ORDER BY id').pluck().all(),
        [4, 5, 6],
        'the new rows took the numbers the backup left free',
      );
      proxy.hold = false;
      proxy.release();
      await drained(g);
      const ids = g.db!.prepare('SELECT id FROM observations WHERE seq > 7 ORDER BY id').pluck().all() as number[];
      t.ok(
        ids.every((id) => id > 7),
        `rows written while waiting moved above the cloud's numbers (${ids.join(', ')})`,
      );
      const text = await g.metrics!.registry.metrics();
      t.match(text, /wardgate_sync_numbering_raised_total\{stream="readings"\} 1/, 'the raise is counted');
      await publish(2);
      await drained(g);
    });
    await expectAll(t, 12);
  },
);

t.test("a wiped database numbers its first readings above the cloud's", async (t) => {
  for (const f of dbFiles()) rmSync(join(dataDir, f));
  t.notOk(existsSync(join(dataDir, 'wardgate.db')));
  mkdirSync(dataDir, { recursive: true });
  await runGateway(t, async (g, publish) => {
    await publish(2);
    await drained(g);
    t.ok(
      (g.db!.prepare('SELECT min(id) FROM observations').pluck().get() as number) > 10,
      'numbered above what the cloud holds',
    );
  });
  await expectAll(t, 14);
});

t.test('a start check refused past the grace pauses the sync with its reason until the operator retries', async (t) => {
  proxy.refuse = true;
  proxy.calls.length = 0;
  await runGateway(t, async (g, publish) => {
    await publish(2);
    const edge = g.db!;
    const reason = await waitFor(
      () => edge.prepare("SELECT value FROM sync_state WHERE key = 'paused'").pluck().get() as string | undefined,
      10_000,
      'the pause',
    );
    t.match(reason, /401 WG_ERR_SIGNATURE: the numbering check was refused/, 'paused, and the reason says why');
    t.same(
      proxy.calls.filter((c) => c === '/ingestBatch'),
      [],
      'nothing sent',
    );
    proxy.refuse = false;
    new Outbox(edge).retryQuarantined();
    g.sync!.sync!.tick();
    await drained(g);
  });
  await expectAll(t, 16);
});

t.test('an item that differs from the one stored under its number is a conflict, not a duplicate', async (t) => {
  const held = await cloudSeqs();
  t.equal(held.get(1), 2);
  const now = Date.now();
  // Message 1 is row 1: its readings are numbers 1024 and 1025. Another device message under the same numbers.
  const reading = (n: number, s: number) => ({
    n,
    device: 'pox-1',
    seq: s,
    code: 'spo2',
    value: 91,
    unit: '%' as const,
    ts: now - 1000,
    flags: 0,
    bed: '1',
  });
  const post = async (readings: ReturnType<typeof reading>[]) => {
    const batch = buildBatch({ gateway: 'gw-r1', ward: 'R1', created: now, readings, alarms: [], statuses: [] });
    const request = signedBatchRequest(batch, SECRET, Date.now());
    const res = await fetch(`${cloud.url}/ingestBatch`, {
      method: 'POST',
      body: request.body,
      headers: request.headers,
    });
    return {
      status: res.status,
      json: (await res.json()) as { duplicate: boolean; conflicts?: number; skipped: number },
    };
  };
  const conflicting = await post([reading(1024, 999)]);
  t.equal(conflicting.status, 200);
  t.equal(conflicting.json.conflicts, 1, 'counted as a conflict');
  t.equal(conflicting.json.duplicate, false, 'not answered as a duplicate');
  t.notOk((await cloudSeqs()).has(999), 'and not stored over the item held');
  const retry = await post([reading(1024, 1)]);
  t.equal(retry.json.duplicate, true, 'the same item again is a duplicate');
  t.equal(retry.json.conflicts, undefined, 'with no conflict');
});
