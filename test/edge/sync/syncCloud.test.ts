// The sync against the project's own ingest function, served locally on the
// Firestore and Pub/Sub emulators: a normal drain, 200s lost on the way back,
// a short outage and a 400 quarantine with the operator's retry. A proxy on
// the path makes the faults; what Firestore holds is then compared with the
// edge: every reading, alarm event and audit entry stored exactly once.
import t, { type Test } from 'tap';
import { createServer, request, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { alarmEvents, auditTrail, segments } from '../../../cloud/store/paths.js';
import type { SubjectColumns } from '../../../cloud/ingest/segments.js';
import { AuditLog } from '../../../edge/store/auditLog.js';
import { Outbox } from '../../../edge/store/outbox.js';
import { connectAs, startTestGateway } from '../../helpers/gateway.js';
import { startSyncCloud } from '../../helpers/syncCloud.js';
import { waitFor } from '../../helpers/env.js';

t.setTimeout(170_000);
const PROJECT = 'wardgate-sync-test';
const SCENARIOS = ['drain', 'lost200', 'outage', 'quarantine'] as const;
type Scenario = (typeof SCENARIOS)[number];
const secretOf = (s: Scenario) => `gw-${s}-secret-0123456789abcdef-0123`;
const wardOf = (s: Scenario) => `W${SCENARIOS.indexOf(s) + 1}`;

const { cloud, db } = await startSyncCloud(
  t,
  PROJECT,
  SCENARIOS.map((s) => [`gw-${s}`, { ward: wardOf(s), secret: secretOf(s) }]),
);

type ProxyMode = 'pass' | 'down' | 'lose200' | 'addEncoding';
/** Between the edge and the function: passes, drops the connection, forwards but loses the answer, or mangles a header. */
async function faultProxy(t: Test) {
  const state = { mode: 'pass' as ProxyMode, lose: 0, forwarded: [] as string[], answers: [] as number[] };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (state.mode === 'down') return req.socket.destroy();
      // The batches are refused, not the start check of the numbering (a refused check pauses the sync before any batch: numberingReset.test.ts).
      const alter = state.mode === 'addEncoding' && req.url === '/ingestBatch';
      const headers = { ...req.headers, ...(alter && { 'content-encoding': 'identity' }) };
      const upstream = request(`${cloud.url}${req.url}`, { method: req.method, headers }, (up: IncomingMessage) => {
        const body: Buffer[] = [];
        up.on('data', (c: Buffer) => body.push(c));
        up.on('end', () => {
          state.forwarded.push(String(req.headers['x-wardgate-batch']));
          state.answers.push(up.statusCode ?? 0);
          if (state.mode === 'lose200' && state.lose > 0) {
            state.lose--;
            return req.socket.destroy();
          }
          res.writeHead(up.statusCode ?? 502, up.headers).end(Buffer.concat(body));
        });
      });
      upstream.on('error', () => req.socket.destroy());
      upstream.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(
    () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  );
  return { state, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

async function ward(t: Test, scenario: Scenario, proxyUrl: string) {
  const env = { WG_CLOUD: secretOf(scenario), WG_WARD: 'ward-pseudonym-secret-0123456789abcdef' };
  const g = await startTestGateway(t, {
    env,
    extra: {
      ward: wardOf(scenario),
      gateway: { id: `gw-${scenario}` },
      cloud: {
        url: proxyUrl,
        secretEnv: 'WG_CLOUD',
        wardSecretEnv: 'WG_WARD',
        concurrency: 2,
        requestTimeoutMs: 15000,
        batch: { maxItems: 50, maxAgeMs: 0 },
        backoff: { initialMs: 50, maxMs: 400 },
      },
      jobs: { sync: '* * * * * *' },
      alarms: { limits: { spo2: { low: 91, delayMs: 0 } } },
    },
  });
  const client = await connectAs(t, g.url, 'pox-1');
  let seq = 0;
  const publish = async (count: number, spo2 = 96) => {
    for (let i = 0; i < count; i++) {
      seq++;
      await client.publishAsync(
        'wardgate/devices/pox-1/obs',
        JSON.stringify({
          seq,
          obs: [
            { code: 'spo2', value: spo2, unit: '%' },
            { code: 'pr', value: 60 + (seq % 30), unit: '/min' },
          ],
        }),
        { qos: 1 },
      );
    }
  };
  const audit = new AuditLog(g.gateway.db!);
  return { ...g, publish, audit };
}

/** What Firestore holds for the ward equals the edge's outbox, each item once. */
async function storedOnce(t: Test, w: Awaited<ReturnType<typeof ward>>, scenario: Scenario): Promise<void> {
  const edge = w.gateway.db!;
  const edgeReadings = edge.prepare('SELECT count(*) FROM readings').pluck().get() as number;
  const edgeAlarms = edge.prepare('SELECT count(*) FROM alarm_events').pluck().get() as number;
  const edgeAudit = edge.prepare('SELECT count(*) FROM audit').pluck().get() as number;
  await waitFor(
    () =>
      edge.prepare("SELECT value FROM counters WHERE name = 'readings_unsynced'").pluck().get() === 0 &&
      edge.prepare('SELECT count(*) FROM sync_batches').pluck().get() === 0
        ? true
        : undefined,
    60_000,
    `${scenario}: the edge to drain`,
  );
  const segs = (await segments(db, wardOf(scenario)).get()).docs.map(
    (d) => d.data() as { s: Record<string, SubjectColumns>; count: number },
  );
  const byN = new Set<number>();
  const byContent = new Set<string>();
  let total = 0;
  for (const seg of segs) {
    for (const cols of Object.values(seg.s)) {
      cols.n.forEach((n, i) => {
        total++;
        byN.add(n);
        byContent.add(`${cols.dev[i]}/${cols.seq[i]}/${cols.code[i]}`);
      });
    }
  }
  t.equal(total, edgeReadings, `${scenario}: Firestore holds ${edgeReadings} readings, as the edge`);
  t.equal(byN.size, total, `${scenario}: no outbox number twice`);
  t.equal(byContent.size, total, `${scenario}: no reading twice under another number`);
  const alarmDocs = (await alarmEvents(db, wardOf(scenario)).get()).docs;
  t.ok(edgeAlarms > 0, `${scenario}: the edge raised alarm events`);
  t.equal(alarmDocs.length, edgeAlarms, `${scenario}: every alarm event once`);
  // The edge may add an entry of its own meanwhile (a scheduled config pull is audited): compare the two as they settle.
  const auditDocs = await waitFor(
    async () => {
      const docs = (await auditTrail(db, wardOf(scenario)).get()).docs.map((d) => d.data());
      return docs.length === (edge.prepare('SELECT count(*) FROM audit').pluck().get() as number) ? docs : undefined;
    },
    20_000,
    `${scenario}: the audit trail in the cloud to match the edge's`,
  );
  t.ok(
    auditDocs.length >= edgeAudit,
    `${scenario}: every audit entry once (${auditDocs.length} in the cloud, as on the edge)`,
  );
  t.ok(
    auditDocs.some((a) => a.actor === 'nurse-ann' && a.action === 'acknowledge' && a.target === 'alarm:a-1'),
    `${scenario}: the nurse's acknowledgement is in the cloud's trail`,
  );
}

t.test('normal drain: readings, alarm events and the audit trail, once each', async (t) => {
  const proxy = await faultProxy(t);
  const w = await ward(t, 'drain', proxy.url);
  await w.publish(150);
  await w.publish(3, 85);
  w.audit.record({
    ts: Date.now(),
    actor: 'nurse-ann',
    action: 'acknowledge',
    target: 'alarm:a-1',
    detail: { via: 'api' },
  });
  await w.publish(50);
  await storedOnce(t, w, 'drain');
  // A loaded emulator may answer 503 (and the edge retries): no batch is ever refused.
  t.ok(
    proxy.state.answers.every((s) => s === 200 || s === 503),
    `no refusal among ${proxy.state.answers.length} answers`,
  );
});

t.test('200s lost on the way back: the batch is sent again and stored once', async (t) => {
  const proxy = await faultProxy(t);
  proxy.state.mode = 'lose200';
  proxy.state.lose = 4;
  const w = await ward(t, 'lost200', proxy.url);
  await w.publish(120);
  await w.publish(2, 85);
  w.audit.record({
    ts: Date.now(),
    actor: 'nurse-ann',
    action: 'acknowledge',
    target: 'alarm:a-1',
    detail: { via: 'api' },
  });
  await waitFor(() => (proxy.state.lose === 0 ? true : undefined), 20_000, 'four answers lost');
  await w.publish(30);
  await storedOnce(t, w, 'lost200');
  const repeats = proxy.state.forwarded.length - new Set(proxy.state.forwarded).size;
  t.ok(repeats >= 4, `${repeats} batches reached the function twice; it stored them once`);
});

t.test('a short outage: everything buffered, then stored once', async (t) => {
  const proxy = await faultProxy(t);
  const w = await ward(t, 'outage', proxy.url);
  await w.publish(30);
  proxy.state.mode = 'down';
  await w.publish(100);
  await w.publish(2, 85);
  w.audit.record({
    ts: Date.now(),
    actor: 'nurse-ann',
    action: 'acknowledge',
    target: 'alarm:a-1',
    detail: { via: 'api' },
  });
  await waitFor(() => (w.gateway.sync!.sync!.state === 'retrying' ? true : undefined), 10_000, 'the sync to retry');
  const unsynced = w.gateway
    .db!.prepare("SELECT value FROM counters WHERE name = 'readings_unsynced'")
    .pluck()
    .get() as number;
  t.ok(unsynced > 0, `${unsynced} readings buffered during the outage`);
  proxy.state.mode = 'pass';
  await w.publish(20);
  await storedOnce(t, w, 'outage');
});

t.test('a 400 from the function: quarantined with its reason, sent again after the fix, stored once', async (t) => {
  const proxy = await faultProxy(t);
  proxy.state.mode = 'addEncoding';
  const w = await ward(t, 'quarantine', proxy.url);
  await w.publish(60);
  await w.publish(2, 85);
  w.audit.record({
    ts: Date.now(),
    actor: 'nurse-ann',
    action: 'acknowledge',
    target: 'alarm:a-1',
    detail: { via: 'api' },
  });
  const edge = w.gateway.db!;
  const row = await waitFor(
    () =>
      edge
        .prepare(
          "SELECT http_status AS status, error_code AS code, reason FROM sync_batches WHERE state = 'quarantined' LIMIT 1",
        )
        .get() as { status: number; code: string; reason: string } | undefined,
    20_000,
    'a quarantined batch',
  );
  t.same([row.status, row.code], [415, 'WG_ERR_ENCODING'], `the cloud's own answer is kept: ${row.reason}`);
  t.equal((await segments(db, wardOf('quarantine')).get()).size, 0, 'nothing stored from a refused batch');
  // The operator fixes the cause once nothing sent before the fix is still on its way (it would come back 400 too).
  await waitFor(
    () =>
      edge.prepare("SELECT count(*) FROM sync_batches WHERE state = 'inflight' AND attempts > 0").pluck().get() === 0
        ? true
        : undefined,
    30_000,
    'batches sent before the fix to settle',
  );
  proxy.state.mode = 'pass';
  t.ok(new Outbox(edge).retryQuarantined() > 0, 'the operator retries');
  w.gateway.sync!.sync!.tick();
  await storedOnce(t, w, 'quarantine');
});
