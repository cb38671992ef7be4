// The ID token fetch counts against the request deadline: a token endpoint
// that never answers must not hold a sync slot (or a verification run, or a
// config pull) forever. The attempt times out and is retried, and no request leaves
// without its token.
import t, { type Test } from 'tap';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { openDatabase } from '../../../edge/store/database.js';
import { createLogger } from '../../../edge/log.js';
import { BatchBuilder } from '../../../edge/sync/batchBuilder.js';
import { Outbox } from '../../../edge/store/outbox.js';
import { Pseudonyms } from '../../../edge/sync/pseudonyms.js';
import { Transport, type TokenSource } from '../../../edge/sync/transport.js';
import { Verifier } from '../../../edge/sync/verifier.js';
import { pullConfig } from '../../../edge/sync/configPull.js';
import { loadConfig } from '../../../edge/config/load.js';
import { writeTestConfig } from '../../helpers/gateway.js';
import { buildBatch, encodeBatch } from '../../../shared/sync/codec.js';
import { tempDir } from '../../helpers/env.js';

t.setTimeout(30_000);
const SECRET = 'gw-test-cloud-secret-0123456789abcdef';
/** A token endpoint that stalls: headers() never settles. */
const stalledTokens: TokenSource = { headers: () => new Promise<Record<string, string>>(() => undefined) };

/** A cloud that would answer at once, and counts the requests that reach it. */
async function cloud(t: Test) {
  let requests = 0;
  const server = createServer((req, res) => {
    requests++;
    req.resume();
    res
      .writeHead(500, { 'content-type': 'application/json' })
      .end('{"error":{"code":"WG_ERR_INTERNAL","message":"x"}}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests: () => requests };
}

/** `work`, or 'stuck' after `ms`: the test fails instead of hanging. */
const within = <T>(work: Promise<T>, ms: number) =>
  Promise.race([work, new Promise<'stuck'>((resolve) => setTimeout(() => resolve('stuck'), ms).unref())]);

const batch = buildBatch({
  gateway: 'gw-1',
  ward: '3B',
  created: Date.now(),
  alarms: [],
  statuses: [],
  readings: [{ n: 1, device: 'pox-1', seq: 1, code: 'spo2', value: 97, unit: '%', ts: Date.now(), flags: 0, bed: '1' }],
});

t.test('a batch attempt whose token never comes times out and is retried', async (t) => {
  const server = await cloud(t);
  const transport = new Transport({
    url: server.url,
    secret: SECRET,
    timeoutMs: 300,
    now: Date.now,
    tokens: stalledTokens,
  });
  const started = Date.now();
  const attempt = await within(transport.send(batch, encodeBatch(batch)), 10_000);
  t.not(attempt, 'stuck', 'the attempt ended');
  t.match(attempt, { outcome: 'retry', status: null, code: 'timeout' }, 'a timeout, to be retried');
  t.ok(Date.now() - started < 5_000, `near its 300 ms deadline (${Date.now() - started} ms)`);
  t.equal(server.requests(), 0, 'nothing was sent without the token');
});

t.test('a cancel ends an attempt that waits for its token', async (t) => {
  const server = await cloud(t);
  const transport = new Transport({
    url: server.url,
    secret: SECRET,
    timeoutMs: 30_000,
    now: Date.now,
    tokens: stalledTokens,
  });
  const cancel = new AbortController();
  setTimeout(() => cancel.abort(new Error('stopping')), 100);
  const attempt = await within(transport.send(batch, encodeBatch(batch), cancel.signal), 10_000);
  t.match(attempt, { outcome: 'retry', status: null });
  t.not((attempt as { code?: string }).code, 'timeout', 'a cancel is not a timeout');
});

t.test('a verification whose token never comes fails at its deadline', async (t) => {
  const server = await cloud(t);
  const db = openDatabase(tempDir(t));
  t.teardown(() => db.close());
  const now = Date.now();
  // One audit entry the cloud confirmed: something to verify.
  db.prepare('INSERT INTO audit (ts, actor, action, target, detail) VALUES (?, ?, ?, ?, ?)').run(
    now - 1000,
    'wardgate',
    'login',
    null,
    null,
  );
  const outbox = new Outbox(db);
  const none = { after: 0, through: 0 };
  outbox.record('b-1', { alarms: none, obs: none, status: none, audit: { after: 0, through: 1 } }, 1, 0, now);
  t.ok(outbox.acknowledge('b-1', now), 'confirmed');
  const verifier = new Verifier({
    db,
    outbox,
    url: server.url,
    gateway: 'gw-1',
    secret: SECRET,
    timeoutMs: 300,
    log: createLogger('silent'),
    builder: new BatchBuilder(db, new Pseudonyms(db, 'ward-secret-for-token-test-0123456789'), {
      gateway: 'gw-1',
      ward: '3B',
    }),
    headers: () => stalledTokens.headers(),
  });
  const outcome = await within(
    verifier.run({ since: now - 60_000 }).then(
      () => 'verified',
      (err: Error) => err.message,
    ),
    10_000,
  );
  t.not(outcome, 'stuck', 'the run ended');
  t.match(outcome, /no answer from verifyRange in 300 ms/, 'failed as a timeout: the next run tries again');
  t.equal(server.requests(), 0, 'nothing was sent without the token');
});

t.test('a config pull whose token never comes fails at its deadline', async (t) => {
  const server = await cloud(t);
  const db = openDatabase(tempDir(t));
  t.teardown(() => db.close());
  const base = loadConfig({ file: (await writeTestConfig(t)).file });
  const pull = pullConfig({
    db,
    url: server.url,
    gateway: 'gw-1',
    secret: SECRET,
    base,
    now: Date.now,
    timeoutMs: 300,
    headers: () => stalledTokens.headers(),
  });
  const outcome = await within(
    pull.then(
      () => 'pulled',
      (err: Error) => err.name,
    ),
    10_000,
  );
  t.equal(outcome, 'TimeoutError', 'failed as a timeout: the next run of the job tries again');
  t.equal(server.requests(), 0, 'nothing was sent without the token');
});
