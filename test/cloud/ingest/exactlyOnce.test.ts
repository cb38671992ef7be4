// Exactly once through the real ingest function on the Firestore emulator:
// batches of device messages (numbered as the edge numbers them, message x
// 1024 + index) delivered late, out of order, overlapping and repeated. Each
// reading must be stored once, and the cloud's record of stored numbers must
// hold exactly what the segments hold.
import t, { type Test } from 'tap';
import { decodeRuns, RECORD_SPAN, size } from '../../../cloud/ingest/intervals.js';
import type { SegmentDoc } from '../../../cloud/ingest/segments.js';
import { segments, storedShard } from '../../../cloud/store/paths.js';
import { serialized } from '../../../cloud/ingest/storeRecord.js';
import { buildBatch, signedBatchRequest, type SyncBatch, type SyncReading } from '../../../shared/sync/index.js';
import { signedVerifyRequest, type VerifyAnswer } from '../../../shared/sync/verify.js';
import { startSyncCloud } from '../../helpers/syncCloud.js';

t.setTimeout(240_000);
const PROJECT = 'wardgate-once-test';
const SECRET = 'gw-once-secret-0123456789abcdef-0123';
const { cloud, db } = await startSyncCloud(
  t,
  PROJECT,
  ['A', 'B', 'C', 'D', 'E', 'F'].map((w) => [`gw-${w.toLowerCase()}`, { ward: w, secret: SECRET }]),
);
const T0 = Date.now() - 3_600_000;

/** Messages from..to of one monitor, `per` readings each, numbered as the edge numbers them. */
function messages(from: number, to: number, per = 4, stride = 1): SyncReading[] {
  const out: SyncReading[] = [];
  const codes = ['hr', 'spo2', 'rr', 'pr'] as const;
  const units = { hr: '/min', spo2: '%', rr: '/min', pr: '/min' } as const;
  for (let m = from; m <= to; m++) {
    const id = m * stride;
    for (let i = 0; i < per; i++) {
      const code = codes[i % codes.length];
      out.push({
        n: id * 1024 + i,
        device: 'mon-1',
        seq: id,
        code,
        value: 60 + (m % 30),
        unit: units[code],
        ts: T0 + m * 1000,
        flags: 0,
        bed: '1',
      });
    }
  }
  return out;
}

const batchOf = (ward: string, readings: SyncReading[]) =>
  buildBatch({ gateway: `gw-${ward.toLowerCase()}`, ward, created: Date.now(), readings, alarms: [], statuses: [] });

async function send(batch: SyncBatch): Promise<{ status: number; json: any }> {
  for (;;) {
    const req = signedBatchRequest(batch, SECRET, Date.now());
    const res = await fetch(`${cloud.url}/ingestBatch`, {
      method: 'POST',
      body: req.body,
      headers: req.headers,
      signal: AbortSignal.timeout(60_000),
    });
    const json = await res.json();
    // A loaded emulator may abort a contended transaction: the edge retries 503, so do we.
    if (res.status !== 503) return { status: res.status, json };
  }
}

/** What Firestore holds for a ward: readings by outbox number, and the record's count of stored numbers. */
async function held(ward: string): Promise<{ byN: Map<number, number>; recorded: number }> {
  const byN = new Map<number, number>();
  for (const doc of (await segments(db, ward).get()).docs) {
    for (const cols of Object.values((doc.data() as SegmentDoc).s))
      for (const n of cols.n) byN.set(n, (byN.get(n) ?? 0) + 1);
  }
  let recorded = 0;
  for (const doc of (await db.collection(`gateways/gw-${ward.toLowerCase()}/stored`).get()).docs) {
    const data = doc.data() as { stream: string; base: number; runs: Uint8Array };
    if (data.stream === 'readings') recorded += size(decodeRuns(data.runs, data.base));
  }
  return { byN, recorded };
}

t.test('the reported loss: 5 messages, then 300 later ones, then the 295 between are stored', async (t) => {
  const first = await send(batchOf('A', messages(1, 5)));
  const later = await send(batchOf('A', messages(301, 600)));
  const between = await send(batchOf('A', messages(6, 300)));
  t.same([first.status, later.status, between.status], [200, 200, 200]);
  t.same(
    [between.json.stored.readings, between.json.skipped, between.json.duplicate],
    [1180, 0, false],
    'the late batch is stored, not called a duplicate',
  );
  const { byN, recorded } = await held('A');
  t.equal(byN.size, 2400, 'every reading in Firestore');
  t.ok(
    [...byN.values()].every((c) => c === 1),
    'each once',
  );
  t.equal(recorded, 2400, 'the record holds exactly what the segments hold');
});

t.test('out of order, overlapping, repeated and very late batches: each reading once', async (t) => {
  // 3,000 messages cut into batches of 1 to 400, crossing record shards (512 messages each).
  const cuts = [0, 1, 7, 250, 251, 700, 1100, 1101, 1500, 1900, 2300, 2700, 3000];
  const batches = cuts.slice(1).map((to, i) => batchOf('B', messages(cuts[i] + 1, to, 3)));
  const order = [5, 0, 11, 3, 3, 9, 1, 7, 2, 10, 6, 8];
  const answers: number[] = [];
  for (const i of order) answers.push((await send(batches[i])).json.stored.readings);
  t.equal(answers[4], 0, 'a repeated batch stores nothing');
  // An overlapping batch rebuilt after a crash, and the very late one (sent last, after 2,700 later messages).
  const overlap = await send(batchOf('B', messages(240, 260, 3)));
  t.same(
    [overlap.json.stored.readings, overlap.json.skipped],
    [9 * 3, 12 * 3],
    'it stores only the 9 messages of the batch not yet sent',
  );
  const late = await send(batches[4]);
  t.same(
    [late.json.stored.readings, late.json.skipped],
    [440 * 3, 9 * 3],
    'the very late batch is stored, but for what the overlap stored',
  );
  // Concurrent deliveries of the same batches, as an edge with several in flight after a timeout.
  const again = await Promise.all(batches.map((b) => send(b)));
  t.ok(
    again.every((a) => a.status === 200 && a.json.stored.readings === 0),
    'every repeat, concurrent or not, stores nothing',
  );
  const { byN, recorded } = await held('B');
  t.equal(byN.size, 3000 * 3);
  t.ok(
    [...byN.values()].every((c) => c === 1),
    'each reading once',
  );
  t.equal(recorded, 3000 * 3, 'the record names exactly the stored readings');
});

t.test('concurrent overlapping batches never store a reading twice', async (t) => {
  const spans = [
    [1, 300],
    [200, 500],
    [450, 800],
    [1, 800],
    [600, 900],
  ];
  const answers = await Promise.all(spans.map(([a, b]) => send(batchOf('C', messages(a, b, 2, 5)))));
  t.ok(answers.every((a) => a.status === 200));
  t.equal(
    answers.reduce((sum, a) => sum + a.json.stored.readings, 0),
    900 * 2,
    'together they stored each reading once',
  );
  const { byN, recorded } = await held('C');
  t.equal(byN.size, 1800);
  t.ok([...byN.values()].every((c) => c === 1));
  t.equal(recorded, 1800);
});

t.test('the record of a shard stays small: about 3 bytes a message', async (t) => {
  await send(batchOf('D', messages(1, 511, 5)));
  const shard = (await storedShard(db, 'gw-d', 'readings', 0).get()).data() as { runs: Uint8Array; items: number };
  t.equal(shard.items, 511 * 5);
  t.ok(shard.runs.length <= 511 * 3, `${shard.runs.length} bytes for 511 messages`);
  t.equal(RECORD_SPAN / 1024, 512, 'a readings shard covers 512 messages');
});

/**
 * A request the gateway gives up on while it waits in the gateway's queue (a
 * transaction ahead, a stalled instance): sent, left to wait a second, aborted
 * as on the edge's deadline; then the queue moves on.
 */
async function abandonWhileQueued(
  t: Test,
  gateway: string,
  request: (signal: AbortSignal) => Promise<Response>,
): Promise<void> {
  let release!: () => void;
  const ahead = serialized(gateway, () => new Promise<void>((resolve) => (release = resolve)));
  const timeout = new AbortController();
  const attempt = request(timeout.signal).then(
    (res) => res.status,
    () => 'abandoned',
  );
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  await sleep(1000); // the request is read and waits in the queue
  timeout.abort(); // the edge's deadline
  t.equal(await attempt, 'abandoned');
  await sleep(500); // the cloud sees the connection close
  release();
  await ahead;
}

t.test('an attempt the gateway gave up on before its turn is not stored; the same batch sent again is', async (t) => {
  const batch = batchOf('E', messages(1, 5));
  const req = signedBatchRequest(batch, SECRET, Date.now());
  await abandonWhileQueued(t, 'gw-e', (signal) =>
    fetch(`${cloud.url}/ingestBatch`, { method: 'POST', body: req.body, headers: req.headers, signal }),
  );
  // The edge's next attempt: queued behind the abandoned one, it finds nothing of the batch stored, and stores it.
  const again = await send(batch);
  t.equal(again.status, 200);
  t.match(again.json, { ok: true, stored: { readings: 20 }, skipped: 0, duplicate: false });
  const { byN } = await held('E');
  t.equal(byN.size, 20);
  t.ok(
    [...byN.values()].every((c) => c === 1),
    'each reading once',
  );
});

t.test(
  'a verification the gateway gave up on before its turn reads and corrects nothing; asked again, it does',
  async (t) => {
    await send(batchOf('F', messages(1, 5)));
    // Segments deleted by hand: the record claims 20 numbers the data lacks, which a verification corrects.
    for (const doc of (await segments(db, 'F').get()).docs) await doc.ref.delete();
    t.equal((await held('F')).recorded, 20);
    const ask = (signal?: AbortSignal) => {
      const request = signedVerifyRequest(
        { v: 1, gateway: 'gw-f', ranges: [{ stream: 'readings', lo: 1024, hi: 6 * 1024 }] },
        SECRET,
        Date.now(),
      );
      return fetch(`${cloud.url}/verifyRange`, {
        method: 'POST',
        body: request.body,
        headers: request.headers,
        signal,
      });
    };
    await abandonWhileQueued(t, 'gw-f', ask);
    // Queued behind the abandoned request: had that one run, it would have corrected the record already.
    const res = await ask();
    t.equal(res.status, 200);
    const [range] = ((await res.json()) as VerifyAnswer).ranges;
    t.equal(range.corrected, 20, 'the record still claimed the 20 numbers: the abandoned request did nothing');
    t.equal((await held('F')).recorded, 0, 'and now it is corrected to the data');
  },
);
