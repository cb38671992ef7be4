// The cloud functions through the real Firestore and Pub/Sub emulators, served
// by the Functions Framework behind `wardgate cloud`'s local server: ingest
// (accepted, refused, idempotent), Pub/Sub push to the analysis, summaries and
// alerts, the read API and the edge config pull. One emulator pair for the file.
import t from 'tap';
import { spawn } from 'node:child_process';
import { gunzipSync, gzipSync } from 'node:zlib';
import type { Firestore, Query } from '@google-cloud/firestore';
import { applyMessage } from '../../cloud/analysis/analyzeReadings.js';
import { storeBatch } from '../../cloud/ingest/storeBatch.js';
import { ingestBatch } from '../../cloud/ingest/ingestBatch.js';
import type { Request, Response } from '@google-cloud/functions-framework';
import { startLocalCloud, type LocalCloud } from '../../cloud/local/localCloud.js';
import { syntheticBatches, syntheticReadings } from '../../cloud/local/syntheticWard.js';
import { defaults, sha256Hex, type CloudSettings } from '../../cloud/settings.js';
import { createCloudLogger } from '../../cloud/log.js';
import {
  alerts as alertsCol,
  currentState,
  gatewayDoc,
  hours,
  segments,
  storedShard,
} from '../../cloud/store/paths.js';
import { decodeRuns } from '../../cloud/ingest/intervals.js';
import {
  buildBatch,
  encodeBatch,
  formatSyncTimestamp,
  patientPseudonym,
  signBody,
  signedBatchRequest,
  signedConfigHeaders,
  type SyncBatch,
} from '../../shared/sync/index.js';
import { startEmulators } from '../helpers/emulators.js';
import { waitFor } from '../helpers/env.js';

const SECRET = 'gw-3b-secret-for-tests-0123456789abcdef';
const OTHER_SECRET = 'gw-4a-secret-for-tests-0123456789abcdef';
const TOKEN = 'station-3b-token-0123456789';
const OTHER_WARD_TOKEN = 'station-4a-token-0123456789';
const PROJECT = 'wardgate-test';
const NOW = Date.now();
// Hour-aligned, so that the two hours of data fill exactly two hourly documents.
const START = Math.floor((NOW - 2 * 3_600_000) / 3_600_000) * 3_600_000;

const emulators = await startEmulators(t, PROJECT);
// The Google clients find the emulators through these, as they would under `wardgate cloud`.
process.env.FIRESTORE_EMULATOR_HOST = emulators.firestoreHost;
process.env.PUBSUB_EMULATOR_HOST = emulators.pubsubHost;

const settings: CloudSettings = {
  ...defaults,
  projectId: PROJECT,
  gateways: new Map([
    ['gw-3b', { ward: '3B', secret: SECRET }],
    ['gw-4a', { ward: '4A', secret: OTHER_SECRET }],
  ]),
  apiTokens: [
    { name: 'station-3b', sha256: sha256Hex(TOKEN), wards: ['3B'] },
    { name: 'station-4a', sha256: sha256Hex(OTHER_WARD_TOKEN), wards: ['4A'] },
  ],
  logLevel: 'silent',
};
const cloud: LocalCloud = await startLocalCloud({
  settings,
  port: 0,
  env: process.env,
  log: createCloudLogger('silent'),
  edgeConfigs: { 'gw-3b': { alarms: { spo2: { low: 90 } } } },
});
t.teardown(() => cloud.stop());
const db: Firestore = cloud.ctx.db;
const alertSub = (await cloud.ctx.pubsub.topic(settings.alertsTopic).createSubscription('alerts-watch'))[0];
const publishedAlerts: Array<{ id: string }> = [];
alertSub.on('message', (m) => {
  publishedAlerts.push(JSON.parse(m.data.toString('utf8')));
  m.ack();
});
t.teardown(() => alertSub.close().catch(() => undefined));

const pseudonymKey = 'ward-3b-pseudonym-key-0123456789abcdef';
const bedPatient = (bed: string) => (bed === '3' ? patientPseudonym(pseudonymKey, `MRN-${bed}`) : undefined);

/** Bed 1 stable; bed 2 a heart-rate anomaly at minutes 90-95; bed 3 deteriorating over the last 40 minutes. */
function vitals(bed: string, t: number): Record<string, number> {
  const min = (t - START) / 60_000;
  const wobble = Math.sin(t / 37_000) * 0.8 + Math.sin(t / 11_000) * 0.5;
  const v: Record<string, number> = {
    hr: 76 + wobble,
    spo2: 97 + (wobble > 0.6 ? 1 : 0),
    rr: 16 + (wobble > 0 ? 1 : 0),
    nibp_sys: 122,
    temp: 36.8,
  };
  if (bed === '2' && min >= 90 && min < 95) v.hr = 104 + wobble;
  if (bed === '3' && min >= 80) Object.assign(v, { hr: 128 + wobble, rr: 27, spo2: 92, nibp_sys: 96, temp: 38.6 });
  return v;
}

const ward = {
  gateway: 'gw-3b',
  ward: '3B',
  beds: ['1', '2', '3'],
  start: START,
  durationMs: 2 * 3_600_000,
  stepMs: 20_000,
  batchSize: 1000,
  vitals,
  patient: bedPatient,
};
const batches = syntheticBatches(ward);

async function post(
  path: string,
  body: Buffer,
  headers: Record<string, string>,
): Promise<{ status: number; json: any }> {
  const res = await fetch(`${cloud.url}${path}`, {
    method: 'POST',
    body,
    headers,
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null };
}
const send = (batch: SyncBatch, secret = SECRET, now = Date.now()) => {
  const req = signedBatchRequest(batch, secret, now);
  return post('/ingestBatch', req.body, req.headers);
};
async function get(
  path: string,
  headers: Record<string, string> = { Authorization: `Bearer ${TOKEN}` },
): Promise<{ status: number; json: any; headers: Headers }> {
  const res = await fetch(`${cloud.url}${path}`, { headers, signal: AbortSignal.timeout(30_000) });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null, headers: res.headers };
}
const count = async (q: Query) => (await q.count().get()).data().count;

t.test('a signed batch is accepted, stored in bucketed segments, once', async (t) => {
  const first = batches[0];
  const res = await send(first);
  t.equal(res.status, 200);
  t.same(res.json, {
    ok: true,
    batchId: first.batchId,
    stored: { readings: 1000, alarms: 0, statuses: 0 },
    skipped: 0,
    duplicate: false,
  });
  const segs = await segments(db, '3B').where('batchId', '==', first.batchId).get();
  t.ok(segs.size >= 1 && segs.size <= 2, `${segs.size} segment document(s) for 1,000 readings`);
  t.equal(
    segs.docs.reduce((n, d) => n + (d.data().count as number), 0),
    1000,
  );

  const again = await send(first);
  t.equal(again.status, 200, 'the same batch again (re-signed) is accepted...');
  t.same(
    [again.json.duplicate, again.json.stored.readings, again.json.skipped],
    [true, 0, 1000],
    '...and stores nothing',
  );
  t.equal(await count(segments(db, '3B').where('batchId', '==', first.batchId)), segs.size, 'no new segment');
});

t.test('an overlapping batch rebuilt after an edge crash stores only the new items', async (t) => {
  const readings = [...batches[1].readings.slice(500), ...batches[2].readings.slice(0, 500)];
  const partial = buildBatch({
    gateway: 'gw-3b',
    ward: '3B',
    created: Date.now(),
    readings: batches[1].readings.slice(0, 500),
    alarms: [],
    statuses: [],
  });
  t.equal((await send(partial)).json.stored.readings, 500);
  const overlap = buildBatch({
    gateway: 'gw-3b',
    ward: '3B',
    created: Date.now(),
    readings: [...batches[1].readings.slice(250), ...readings.slice(500)],
    alarms: [],
    statuses: [],
  });
  const res = await send(overlap);
  t.equal(res.status, 200);
  t.same([res.json.stored.readings, res.json.skipped], [1000, 250]);
});

t.test('alarm events and device status get their own collections', async (t) => {
  const batch = buildBatch({
    gateway: 'gw-3b',
    ward: '3B',
    created: Date.now(),
    readings: [],
    alarms: [
      {
        n: 1,
        alarmId: 'al-1',
        phase: 'raised',
        priority: 'high',
        kind: 'physiological',
        condition: 'limit',
        ts: NOW - 60_000,
        bed: '3',
        code: 'spo2',
        value: 85,
        limit: { side: 'low', value: 90 },
      },
      {
        n: 2,
        alarmId: 'al-2',
        phase: 'raised',
        priority: 'low',
        kind: 'technical',
        condition: 'battery',
        ts: NOW - 50_000,
        device: 'mon-3',
        value: 18,
      },
    ],
    statuses: [
      { n: 1, device: 'mon-3', ts: NOW - 60_000, battery: 40, online: true },
      { n: 2, device: 'mon-3', ts: NOW - 30_000, battery: 38 },
    ],
  });
  const res = await send(batch);
  t.same(res.json.stored, { readings: 0, alarms: 2, statuses: 2 });
  const alarm = await db.doc('wards/3B/alarmEvents/gw-3b_1').get();
  t.equal(alarm.data()?.condition, 'limit');
  t.same(alarm.data()?.limit, { side: 'low', value: 90 }, 'the limit crossed is stored with the event');
  const technical = await db.doc('wards/3B/alarmEvents/gw-3b_2').get();
  t.equal(technical.data()?.condition, 'battery');
  t.notOk('limit' in (technical.data() ?? {}), 'a technical alarm has none, not a null');
  const device = await db.doc('wards/3B/devices/mon-3').get();
  t.same([device.data()?.battery, device.data()?.online], [38, true], 'latest status merged over the earlier one');
});

t.test('refusals: right status, JSON reason, nothing stored', async (t) => {
  const batch = batches[3];
  const good = signedBatchRequest(batch, SECRET, Date.now());
  const before = await count(segments(db, '3B'));
  const cases: Array<[string, Buffer, Record<string, string>, number, string]> = [
    [
      'forged signature',
      good.body,
      {
        ...good.headers,
        'X-Wardgate-Signature': signBody(
          'not-the-secret-0123456789abcdef!!',
          good.headers['X-Wardgate-Timestamp'],
          good.body,
        ),
      },
      401,
      'WG_ERR_SIGNATURE',
    ],
    ['body altered after signing', Buffer.concat([good.body, Buffer.from([0])]), good.headers, 401, 'WG_ERR_SIGNATURE'],
    ['unknown gateway', good.body, { ...good.headers, 'X-Wardgate-Gateway': 'gw-9z' }, 401, 'WG_ERR_SIGNATURE'],
    ['no signature', good.body, { ...good.headers, 'X-Wardgate-Signature': '' }, 401, 'WG_ERR_SIGNATURE'],
    [
      'stale: signed 301 s ago',
      good.body,
      signedBatchRequest(batch, SECRET, Date.now() - 301_000, good.body).headers,
      401,
      'WG_ERR_STALE',
    ],
    // 60 s past the window: the cases are signed before any is sent, and sending them on a loaded machine takes seconds.
    [
      'from the future: 360 s ahead',
      good.body,
      signedBatchRequest(batch, SECRET, Date.now() + 360_000, good.body).headers,
      401,
      'WG_ERR_STALE',
    ],
    [
      'oversized body',
      Buffer.alloc(1024 * 1024 + 1),
      signedBatchRequest(batch, SECRET, Date.now(), Buffer.alloc(1024 * 1024 + 1)).headers,
      413,
      'WG_ERR_TOO_LARGE',
    ],
    [
      'gzip bomb',
      gzipSync(Buffer.alloc(17 * 1024 * 1024, 0x20)),
      signedBatchRequest(batch, SECRET, Date.now(), gzipSync(Buffer.alloc(17 * 1024 * 1024, 0x20))).headers,
      413,
      'WG_ERR_TOO_LARGE',
    ],
    [
      'not gzip',
      Buffer.from('{}'),
      signedBatchRequest(batch, SECRET, Date.now(), Buffer.from('{}')).headers,
      400,
      'WG_ERR_JSON',
    ],
    [
      'gzip of not JSON',
      gzipSync('nope'),
      signedBatchRequest(batch, SECRET, Date.now(), gzipSync('nope')).headers,
      400,
      'WG_ERR_JSON',
    ],
    [
      'schema: clear patient id',
      encodeBatch({ ...batch, readings: [{ ...batch.readings[0], patient: 'MRN-12345' }] }),
      {},
      400,
      'WG_ERR_SCHEMA',
    ],
    [
      'batch header mismatch',
      good.body,
      { ...good.headers, 'X-Wardgate-Batch': batches[4].batchId },
      400,
      'WG_ERR_SCHEMA',
    ],
    ['another ward', encodeBatch(buildBatch({ ...batch, ward: '4A' })), {}, 403, 'WG_ERR_FORBIDDEN'],
  ];
  for (const [name, body, headers, status, code] of cases) {
    const signed = Object.keys(headers).length
      ? headers
      : signedBatchRequest(JSON.parse(gunzipJson(body)), SECRET, Date.now(), body).headers;
    const res = await post('/ingestBatch', body, signed);
    t.equal(res.status, status, `${name}: ${status}`);
    t.equal(res.json?.error?.code, code, `${name}: ${res.json?.error?.message}`);
  }
  t.equal(await count(segments(db, '3B')), before, 'no refused batch stored anything');

  const replayed = await post('/ingestBatch', good.body, good.headers);
  t.equal(replayed.status, 200, 'the first use of a signed request is accepted');
  const replay = await post('/ingestBatch', good.body, good.headers);
  t.same([replay.status, replay.json.error.code], [401, 'WG_ERR_REPLAY'], 'the identical request again is a replay');
  const getRes = await get('/ingestBatch', {});
  t.same([getRes.status, getRes.json.error.code], [405, 'WG_ERR_METHOD']);
  t.equal((await get('/nope', {})).status, 404, 'unknown function');
});

function gunzipJson(body: Buffer): string {
  return gunzipSync(body).toString('utf8');
}

t.test('Pub/Sub push reaches analyzeReadings: summaries, NEWS2, alerts', async (t) => {
  for (const batch of batches) t.equal((await send(batch)).status, 200, `batch ${batch.batchId} accepted`);
  const end = START + ward.durationMs - ward.stepMs;
  // Done when every stored segment has been applied (Pub/Sub delivers in any order, so the newest data arriving says nothing).
  const segmentIds = (await segments(db, '3B').select().get()).docs.map((d) => d.id);
  const state = await waitFor(
    async () => {
      const data = (await currentState(db, '3B').get()).data();
      const applied = new Set((data?.applied as Array<{ id: string }> | undefined)?.map((a) => a.id) ?? []);
      return segmentIds.every((id) => applied.has(id)) ? (data!.p as Record<string, { asOf: number }>) : undefined;
    },
    120_000,
    'the analysis of every segment',
  );
  t.ok(
    Object.values(state).every((s) => s.asOf === end),
    'every patient analysed up to the newest reading',
  );
  const patient3 = bedPatient('3')!;
  t.same(
    Object.keys(state).sort(),
    ['bed-1', 'bed-2', patient3].sort(),
    'subjects: beds without a patient, and the pseudonym',
  );

  const total = syntheticReadings(ward).length;
  const hourSnaps = await hours(db, '3B').get();
  let counted = 0;
  for (const doc of hourSnaps.docs)
    for (const subj of Object.values(doc.data().p as Record<string, { m: Record<string, { c: number; x: number }> }>))
      for (const m of Object.values(subj.m)) counted += m.c + m.x;
  t.equal(
    counted,
    total,
    `every reading counted exactly once in the hourly statistics (${total}), despite duplicates and overlaps`,
  );

  const alertDocs = (await alertsCol(db, '3B').get()).docs.map((d) => d.data());
  const bySubject = (s: string) => alertDocs.filter((a) => a.subject === s);
  t.same(bySubject('bed-1'), [], 'the stable patient raised nothing');
  const hrAnomaly = bySubject('bed-2').filter((a) => a.kind === 'anomaly' && a.code === 'hr');
  t.ok(hrAnomaly.length >= 1, 'the planted heart-rate anomaly was found');
  t.ok(
    hrAnomaly.every((a) => a.ts >= START + 90 * 60_000 && a.ts < START + 95 * 60_000),
    'and only at the planted minutes',
  );
  const news = bySubject(patient3).filter((a) => a.kind === 'news2');
  t.same(
    news.map((a) => a.level),
    ['high'],
    'the deteriorating patient raised one NEWS2 high alert',
  );
  const s3 = (state as unknown as Record<string, { news2: { score: number }; risk: { level: string } }>)[patient3];
  // rr 27 (3) + spo2 92 (2) + sbp 96 (2) + pulse 128 (2) + temp 38.6 (1) = 10; oxygen and consciousness unknown.
  t.equal(s3.news2.score, 10);
  t.equal(s3.risk.level, 'high');

  const ids = new Set(alertDocs.map((a) => a.id));
  await waitFor(
    () => ([...ids].every((id) => publishedAlerts.some((a) => a.id === id)) ? true : undefined),
    30_000,
    'alerts on the alerts topic',
  ).catch(() => undefined);
  t.same(
    [...new Set(publishedAlerts.map((a) => a.id))].sort(),
    alertDocs.map((a) => a.id).sort(),
    'every alert was published on the alerts topic',
  );
});

t.test('a redelivered message changes nothing', async (t) => {
  const segs = await segments(db, '3B').where('batchId', '==', batches[5].batchId).get();
  const message = {
    v: 1 as const,
    ward: '3B',
    gateway: 'gw-3b',
    batchId: batches[5].batchId,
    segments: segs.docs.map((d) => d.id),
  };
  const before = (await hours(db, '3B').get()).docs.map((d) => d.data().p);
  const again = await applyMessage(cloud.ctx, message);
  t.equal(again.redelivered, true);
  t.same(
    (await hours(db, '3B').get()).docs.map((d) => d.data().p),
    before,
    'hourly statistics unchanged',
  );
});

t.test('batches analysed newest first end in the same state as in order', async (t) => {
  // Pub/Sub gives no order: drive the analysis by hand, newest batch first.
  const rward = { ...ward, gateway: 'gw-r1', ward: 'R1' };
  const list = syntheticBatches(rward);
  const messages = [];
  for (const batch of list) {
    const out = await storeBatch(db, {
      batch,
      signatureHex: batch.batchId.slice(1) + '0'.repeat(32),
      timestampMs: Date.now(),
      now: Date.now(),
      retentionDays: 1,
    });
    if (out.replay || out.abandoned) throw new Error('unexpected replay');
    messages.push({ v: 1 as const, ward: 'R1', gateway: 'gw-r1', batchId: batch.batchId, segments: out.segmentIds });
  }
  for (const m of messages.reverse()) await applyMessage(cloud.ctx, m);
  const p = (await currentState(db, 'R1').get()).data()!.p as Record<
    string,
    { asOf: number; news2: { score: number }; risk: { level: string } }
  >;
  const s3 = p[bedPatient('3')!];
  t.equal(s3.asOf, START + ward.durationMs - ward.stepMs);
  t.same([s3.news2.score, s3.risk.level], [10, 'high'], 'the newest state wins, whatever the order');
  t.equal(p['bed-1'].news2.score, 0);
});

t.test('a batch stored but not announced is announced by the next request', async (t) => {
  // Publishing fails (a topic that does not exist): the batch is stored, the edge gets 503 and the segments are remembered.
  const broken = { ...cloud.ctx, settings: { ...settings, batchesTopic: 'no-such-topic' } };
  const extra = {
    ...ward,
    start: START + ward.durationMs,
    durationMs: 60_000,
    firstN: syntheticReadings(ward).length + 1,
  };
  const [first, second] = syntheticBatches({ ...extra, batchSize: 30 });
  const req = signedBatchRequest(first, SECRET, Date.now());
  let status = 0;
  let body: any;
  const res = {
    status(code: number) {
      status = code;
      return this;
    },
    set() {
      return this;
    },
    json(b: unknown) {
      body = b;
      return this;
    },
    once() {
      return this;
    },
  };
  await ingestBatch(broken)(
    {
      method: 'POST',
      rawBody: req.body,
      headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k.toLowerCase(), v])),
      socket: { destroyed: false },
    } as unknown as Request,
    res as unknown as Response,
  );
  t.same([status, body.error.code], [503, 'WG_ERR_UNAVAILABLE'], 'the edge is told to retry');
  const pending = (await gatewayDoc(db, 'gw-3b').get()).data()!.pending as string[];
  t.equal(pending.length, 1, 'its segment is remembered as not announced');
  t.equal((await send(second)).status, 200, 'the next batch is accepted');
  t.same((await gatewayDoc(db, 'gw-3b').get()).data()!.pending, [], 'and the remembered segment was announced with it');
  await waitFor(
    async () => {
      const applied = ((await currentState(db, '3B').get()).data()?.applied as Array<{ id: string }>).map((a) => a.id);
      return applied.includes(pending[0]) ? true : undefined;
    },
    60_000,
    'the analysis of the remembered segment',
  );
  t.pass('the analysis applied it');
});

t.test('wardApi: authentication', async (t) => {
  const path = '/wardApi/wards/3B/overview';
  const cases: Array<[string, Record<string, string>, number, string]> = [
    ['no token', {}, 401, 'WG_ERR_AUTH'],
    ['wrong token', { Authorization: 'Bearer not-a-real-token-at-all' }, 401, 'WG_ERR_AUTH'],
    ['not a bearer', { Authorization: `Basic ${TOKEN}` }, 401, 'WG_ERR_AUTH'],
    ["another ward's token", { Authorization: `Bearer ${OTHER_WARD_TOKEN}` }, 403, 'WG_ERR_FORBIDDEN'],
  ];
  for (const [name, headers, status, code] of cases) {
    const res = await get(path, headers);
    t.same([res.status, res.json.error.code], [status, code], name);
  }
  const post = await fetch(`${cloud.url}${path}`, { method: 'POST', headers: { Authorization: `Bearer ${TOKEN}` } });
  t.equal(post.status, 405, 'read-only');
  t.equal((await get('/wardApi/wards/3B/nothing')).status, 404);
  const malformed = await fetch(`${cloud.url}/wardApi/wards/3B/patients/%E0%A4%A/vitals`, {
    headers: { Authorization: `Bearer ${TOKEN}` },
  });
  t.equal(malformed.status, 400, 'a malformed %-escape is refused by the framework, not a crash');
  await malformed.arrayBuffer();
});

t.test('wardApi: overview, vitals, summaries and alerts, paginated', async (t) => {
  const page1 = await get('/wardApi/wards/3B/overview?limit=2');
  t.equal(page1.status, 200);
  t.same([page1.json.total, page1.json.patients.map((p: { bed: string }) => p.bed)], [3, ['1', '2']]);
  t.equal(page1.json.patients[0].news2.level, 'low');
  t.ok(page1.json.patients[0].vitals.hr.v > 70, 'latest vitals');
  const page2 = await get(`/wardApi/wards/3B/overview?limit=2&cursor=${page1.json.next}`);
  t.same([page2.json.patients.map((p: { bed: string }) => p.bed), page2.json.next], [['3'], null]);
  t.equal((await get('/wardApi/wards/3B/overview?cursor=garbage')).json.error.field, 'cursor');

  const from = new Date(START).toISOString();
  const to = new Date(START + ward.durationMs - 1).toISOString();
  const v = await get(`/wardApi/wards/3B/patients/bed-2/vitals?from=${from}&to=${to}&bucket=300&codes=hr&limit=100`);
  t.equal(v.status, 200);
  t.equal(v.json.points.length, 24, '2 hours of 5-minute heart-rate points');
  const spike = v.json.points.find((p: { t: number }) => p.t === START + 90 * 60_000);
  t.ok(spike.mean > 100 && v.json.points[0].mean < 80, 'the anomaly shows in the downsampled series');
  const paged = await get(`/wardApi/wards/3B/patients/bed-2/vitals?from=${from}&to=${to}&bucket=900&limit=10`);
  const rest = await get(
    `/wardApi/wards/3B/patients/bed-2/vitals?from=${from}&to=${to}&bucket=900&limit=100&cursor=${paged.json.next}`,
  );
  t.equal(paged.json.points.length + rest.json.points.length, 8 * 5, '15-minute buckets of 5 metrics over two pages');
  t.notOk(rest.json.next);
  const raw = await get(
    `/wardApi/wards/3B/patients/bed-1/vitals?from=${START + 3_600_000}&to=${START + 3_600_000 + 600_000}&bucket=60&codes=spo2`,
  );
  t.equal(raw.json.points.length, 11, '1-minute buckets from raw segments (10 minutes, inclusive end)');
  t.equal(raw.json.points[0].n, 3, 'three readings a minute');
  const tooLong = await get(`/wardApi/wards/3B/patients/bed-1/vitals?from=${from}&to=${to}&bucket=60`);
  t.same([tooLong.status, tooLong.json.error.field], [400, 'bucket']);
  t.equal((await get(`/wardApi/wards/3B/patients/bed-1/vitals?bucket=301`)).json.error.field, 'bucket');
  t.equal((await get(`/wardApi/wards/3B/patients/bed-1/vitals?from=yesterday`)).json.error.field, 'from');

  const sum = await get(`/wardApi/wards/3B/patients/bed-1/summaries?from=${from}&to=${to}`);
  t.equal(sum.json.hours.length, 2);
  const hr = sum.json.hours[0].metrics.hr;
  t.equal(hr.count, 180, '180 readings in an hour at one per 20 s');
  t.ok(
    hr.mean > 75 && hr.mean < 77 && hr.sd < 1.5 && hr.p05 <= hr.p50 && hr.p50 <= hr.p95,
    'hourly mean, sd and percentiles',
  );

  const a1 = await get(`/wardApi/wards/3B/alerts?since=${START}&limit=1`);
  t.equal(a1.json.alerts.length, 1);
  const all = [...a1.json.alerts];
  let next = a1.json.next;
  while (next) {
    const page = await get(`/wardApi/wards/3B/alerts?since=${START}&limit=1&cursor=${next}`);
    all.push(...page.json.alerts);
    next = page.json.next;
  }
  t.equal(all.length, await count(alertsCol(db, '3B')), 'paging through all alerts, one per page');
  t.equal(new Set(all.map((a) => a.id)).size, all.length, 'no alert twice');
});

t.test('edgeConfig: signed pull, ETag, refusals', async (t) => {
  const res = await get('/edgeConfig', signedConfigHeaders('gw-3b', SECRET, Date.now()));
  t.equal(res.status, 200);
  t.same(
    [res.json.gateway, res.json.ward, res.json.version, res.json.config],
    ['gw-3b', '3B', 1, { alarms: { spo2: { low: 90 } } }],
  );
  const etag = res.headers.get('etag')!;
  t.equal(
    (await get('/edgeConfig', signedConfigHeaders('gw-3b', SECRET, Date.now(), etag))).status,
    304,
    'unchanged: 304',
  );
  const none = await get('/edgeConfig', signedConfigHeaders('gw-4a', OTHER_SECRET, Date.now()));
  t.same([none.json.version, none.json.config], [0, {}], 'a gateway without overrides gets version 0');
  t.equal(
    (await get('/edgeConfig', signedConfigHeaders('gw-3b', OTHER_SECRET, Date.now()))).json.error.code,
    'WG_ERR_SIGNATURE',
  );
  t.equal(
    (await get('/edgeConfig', signedConfigHeaders('gw-3b', SECRET, Date.now() - 400_000))).json.error.code,
    'WG_ERR_STALE',
  );
  t.equal((await get('/edgeConfig', {})).status, 401);
});

t.test('gateway state stays small: stored items as intervals', async (t) => {
  const gw = (await gatewayDoc(db, 'gw-3b').get()).data()!;
  const sent = syntheticReadings(ward).length + syntheticReadings({ ...ward, durationMs: 60_000 }).length;
  const shard = (await storedShard(db, 'gw-3b', 'readings', 0).get()).data()!;
  t.same(decodeRuns(shard.runs, 0), { lo: [1], hi: [sent] }, 'every reading stored, one interval');
  t.ok(gw.recent.length < 100, 'recent signatures pruned to the window');
  void formatSyncTimestamp;
});

t.test('wardgate cloud: serves the functions until SIGTERM, then exits 0', async (t) => {
  // The command module alone (bin/main.ts only dispatches to it), run as its own process like the CLI.
  const script =
    "const { cloudCommand } = await import('./cloud/cli/cloudCommand.ts'); process.exitCode = await cloudCommand.run({ argv: process.argv.slice(1), stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env });";
  const child = spawn(
    process.execPath,
    [
      '--import',
      '@tapjs/typescript/import',
      '--input-type=module',
      '-e',
      script,
      '--',
      '--port',
      '0',
      '--project',
      PROJECT,
      '--gateway',
      'gw-cli:5C',
    ],
    {
      env: { ...process.env, WARDGATE_CLOUD_SECRET: SECRET, WARDGATE_API_TOKEN: TOKEN, WARDGATE_LOG_LEVEL: 'silent' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  t.teardown(() => child.kill('SIGKILL'));
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
  child.stderr.on('data', (d: Buffer) => (err += d.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = await waitFor(
    () => {
      if (child.exitCode !== null) throw new Error(`wardgate cloud exited: ${err}`);
      return /functions at (http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1];
    },
    60_000,
    'wardgate cloud to listen',
  );
  const batch = buildBatch({
    gateway: 'gw-cli',
    ward: '5C',
    created: Date.now(),
    readings: batches[0].readings.slice(0, 10).map((r) => ({ ...r, bed: '1', patient: undefined })),
    alarms: [],
    statuses: [],
  });
  const req = signedBatchRequest(batch, SECRET, Date.now());
  const res = await fetch(`${url}/ingestBatch`, { method: 'POST', body: req.body, headers: req.headers });
  t.equal(res.status, 200, 'a batch through the CLI-started functions');
  const api = await fetch(`${url}/wardApi/wards/5C/overview`, { headers: { Authorization: `Bearer ${TOKEN}` } });
  t.equal(api.status, 200, 'API token from WARDGATE_API_TOKEN');
  child.kill('SIGTERM');
  t.equal(await exited, 0, 'exit code 0 after SIGTERM');
  t.match(out, /stopped/);
});
