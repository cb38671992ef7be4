// The largest batch the edge can build must pass every bound of the cloud:
// the request guard's body size, the inflated JSON bound, the validator's
// item bound and what one Firestore transaction stores. Through the real
// daemon and the real functions on the Firestore emulator, with the largest
// batch config allows (20,000 items, 1 MiB) and a backlog of the largest
// items: alarm events with the longest ids and audit entries with a full
// detail that compresses to almost nothing. Every request is accepted, nothing
// is quarantined, and the cloud holds every item.
import t from 'tap';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { loadConfig } from '../../../edge/config/load.js';
import { Gateway } from '../../../edge/gateway.js';
import { createLogger } from '../../../edge/log.js';
import { openDatabase } from '../../../edge/store/database.js';
import { alarmEvents, auditTrail } from '../../../cloud/store/paths.js';
import { MAX_BATCH_BYTES, MAX_BATCH_ITEMS, MAX_BATCH_JSON_BYTES, type SyncBatch } from '../../../shared/sync/wire.js';
import { writeTestConfig } from '../../helpers/gateway.js';
import { startSyncCloud } from '../../helpers/syncCloud.js';
import { waitFor } from '../../helpers/env.js';

t.setTimeout(300_000);
const PROJECT = 'wardgate-largest-batch-test';
const SECRET = 'gw-largest-secret-0123456789abcdef-0123';
const env = { WG_CLOUD: SECRET, WG_WARD: 'ward-pseudonym-secret-0123456789abcdef' };
const { cloud, db } = await startSyncCloud(t, PROJECT, [['gw-big', { ward: 'L1', secret: SECRET }]]);

/** Each batch as the cloud receives it: bytes sent, JSON inflated, items, and the answer. */
const seen: Array<{ bytes: number; json: number; items: number; alarms: number; audit: number; status: number }> = [];
// A throw in here is a bug of this proxy: left unhandled, it fails the test.
const server = createServer(
  (req: IncomingMessage, res) =>
    void (async () => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const body = Buffer.concat(chunks);
      const headers = Object.fromEntries(
        Object.entries(req.headers).filter(
          ([k]) => k.startsWith('x-wardgate-') || k === 'content-type' || k === 'content-length',
        ),
      ) as Record<string, string>;
      const answer = await fetch(`${cloud.url}${req.url}`, {
        method: req.method,
        headers,
        body,
        signal: AbortSignal.timeout(120_000),
      });
      if (req.url === '/ingestBatch') {
        const json = gunzipSync(body);
        const batch = JSON.parse(json.toString('utf8')) as SyncBatch;
        const audit = batch.audit?.length ?? 0;
        seen.push({
          bytes: body.length,
          json: json.length,
          items: batch.readings.length + batch.alarms.length + batch.statuses.length + audit,
          alarms: batch.alarms.length,
          audit,
          status: answer.status,
        });
      }
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

const ALARMS = 3000;
const AUDIT = 20_000;

t.test('a backlog of the largest items goes in batches the cloud accepts', async (t) => {
  const { file } = await writeTestConfig(t, {
    extra: {
      ward: 'L1',
      gateway: { id: 'gw-big' },
      cloud: {
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        secretEnv: 'WG_CLOUD',
        wardSecretEnv: 'WG_WARD',
        concurrency: 2,
        requestTimeoutMs: 120_000,
        batch: { maxItems: MAX_BATCH_ITEMS, maxBytes: MAX_BATCH_BYTES, maxAgeMs: 0 },
        backoff: { initialMs: 50, maxMs: 1000 },
      },
      jobs: { sync: '* * * * * *' },
    },
  });
  const config = loadConfig({ file, env });
  // The backlog, written before the daemon starts: the longest ids the wire takes, and a full detail of long names and long numbers.
  const edge = openDatabase(config.gateway.dataDir);
  const now = Date.now();
  const long = (prefix: string, i: number) => `${prefix}-${i}-`.padEnd(64, 'x');
  const insertAlarm =
    edge.prepare(`INSERT INTO alarm_events (alarm_id, phase, ts, bed, device_id, kind, rule, metric, priority, state, message, value, by, escalations)
    VALUES (?, 'raised', ?, '1', 'pox-1', 'technical', ?, NULL, 'low', 'active', 'battery low', NULL, NULL, 0)`);
  const detail = JSON.stringify(
    Object.fromEntries(Array.from({ length: 16 }, (_, k) => [`field_${k}_`.padEnd(32, 'x'), -1.2345678901234567e300])),
  );
  const insertAudit = edge.prepare(
    "INSERT INTO audit (ts, actor, action, target, detail) VALUES (?, 'wardgate', ?, 'alarms', ?)",
  );
  edge.transaction(() => {
    for (let i = 0; i < ALARMS; i++) insertAlarm.run(long('alarm', i), now - 60_000, long('rule', i));
    for (let i = 0; i < AUDIT; i++) insertAudit.run(now - 60_000, 'storage.drop'.padEnd(64, '_'), detail);
  })();
  edge.close();

  const gateway = new Gateway(config, { log: createLogger('silent'), env });
  await gateway.start();
  t.teardown(() => gateway.stop());
  const local = gateway.db!;
  const cursor = (stream: string) =>
    local.prepare('SELECT synced_through FROM outbox_cursors WHERE stream = ?').pluck().get(stream) as number;
  const quarantined = () =>
    local.prepare("SELECT count(*) FROM sync_batches WHERE state = 'quarantined'").pluck().get() as number;
  await waitFor(
    () => {
      if (quarantined() > 0)
        throw new Error(
          `quarantined: ${JSON.stringify(local.prepare("SELECT http_status, error_code, reason FROM sync_batches WHERE state = 'quarantined'").all())}`,
        );
      return cursor('alarm_events') >= ALARMS && cursor('audit') >= AUDIT ? true : undefined;
    },
    240_000,
    'the backlog to drain',
  );

  t.equal(quarantined(), 0, 'nothing quarantined');
  t.same(
    seen.filter((s) => s.status >= 400 && s.status < 500),
    [],
    'no batch refused',
  );
  const largest = (key: 'bytes' | 'json' | 'items' | 'alarms' | 'audit') => Math.max(...seen.map((s) => s[key]));
  t.ok(largest('bytes') <= MAX_BATCH_BYTES, `bytes sent within the request guard (largest ${largest('bytes')})`);
  t.ok(largest('json') <= MAX_BATCH_JSON_BYTES, `inflated JSON within the cloud's bound (largest ${largest('json')})`);
  t.ok(largest('items') <= MAX_BATCH_ITEMS, `items within the validator's bound (largest ${largest('items')})`);
  const cloudAlarms = (await alarmEvents(db, 'L1').where('gateway', '==', 'gw-big').count().get()).data().count;
  const cloudAudit = (await auditTrail(db, 'L1').where('gateway', '==', 'gw-big').count().get()).data().count;
  t.ok(
    cloudAlarms >= ALARMS && cloudAudit >= AUDIT,
    `the cloud holds every alarm event (${cloudAlarms}) and audit entry (${cloudAudit})`,
  );
});
