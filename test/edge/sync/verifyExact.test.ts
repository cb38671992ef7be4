// Verification compares numbers, not only counts: through the real daemon and
// the real functions on the Firestore emulator, a range where the cloud holds
// two items the edge does not have and lacks one the edge has is a hole (the
// missing reading is re-sent and stored), not "the cloud holds more". And the
// cloud's answer and corrections stay within the asking gateway: another
// gateway of the same ward with the same numbers is neither read nor corrected.
import t, { type Test } from 'tap';
import { PassThrough } from 'node:stream';
import { segments } from '../../../cloud/store/paths.js';
import type { SegmentDoc, SubjectColumns } from '../../../cloud/ingest/segments.js';
import { signedVerifyRequest, type VerifyAnswer } from '../../../shared/sync/verify.js';
import { main } from '../../../bin/main.js';
import { connectAs, startTestGateway } from '../../helpers/gateway.js';
import { cloudLink, startSyncCloud } from '../../helpers/syncCloud.js';
import { waitFor } from '../../helpers/env.js';

t.setTimeout(180_000);
const PROJECT = 'wardgate-verify-exact-test';
const SECRET = 'gw-exact-secret-0123456789abcdef-012345';
const env = { WG_CLOUD: SECRET, WG_WARD: 'ward-pseudonym-secret-0123456789abcdef' };
const { cloud, db } = await startSyncCloud(t, PROJECT, [
  ['gw-e1', { ward: 'E1', secret: SECRET }],
  ['gw-e2', { ward: 'E1', secret: SECRET }],
]);

async function ward(t: Test, gateway: string) {
  const g = await startTestGateway(t, {
    env,
    extra: {
      ward: 'E1',
      gateway: { id: gateway },
      cloud: cloudLink(cloud.url),
      jobs: { sync: '* * * * * *', verify: '0 0 1 1 *' },
    },
  });
  const client = await connectAs(t, g.url, 'pox-1');
  for (let seq = 1; seq <= 100; seq++) {
    await client.publishAsync(
      'wardgate/devices/pox-1/obs',
      JSON.stringify({
        seq,
        obs: [
          { code: 'spo2', value: 96, unit: '%' },
          { code: 'pr', value: 60 + (seq % 30), unit: '/min' },
        ],
      }),
      { qos: 1 },
    );
  }
  const edge = g.gateway.db!;
  const drained = () =>
    waitFor(
      () =>
        edge.prepare("SELECT value FROM counters WHERE name = 'readings_unsynced'").pluck().get() === 0 &&
        edge.prepare('SELECT count(*) FROM sync_batches').pluck().get() === 0
          ? true
          : undefined,
      60_000,
      'the edge to drain',
    );
  await drained();
  const verify = async () => {
    const out = new PassThrough();
    let text = '';
    out.on('data', (d: Buffer) => (text += d.toString()));
    const code = await main({
      argv: ['sync', '--config', g.config.source, '--verify', '--since', '0', '--json'],
      stdout: out,
      stderr: out,
      stdin: new PassThrough(),
      env,
    });
    return { code, report: JSON.parse(text) as { missing: number; extra: number; resent: number } };
  };
  return { ...g, edge, drained, verify };
}

/** Readings of one gateway the cloud holds, by device/seq/code: how many times each. */
async function held(gateway: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const doc of (await segments(db, 'E1').where('gateway', '==', gateway).get()).docs) {
    for (const c of Object.values((doc.data() as SegmentDoc).s))
      c.n.forEach((_, i) =>
        out.set(`${c.dev[i]}/${c.seq[i]}/${c.code[i]}`, (out.get(`${c.dev[i]}/${c.seq[i]}/${c.code[i]}`) ?? 0) + 1),
      );
  }
  return out;
}

t.test('two extra items in the cloud do not hide one missing', async (t) => {
  const w = await ward(t, 'gw-e1');
  const before = await w.verify();
  t.same([before.code, before.report.missing, before.report.extra], [0, 0, 0], 'whole after the drain');

  // Behind the cloud's back, in one segment: one reading gone, two readings under numbers the edge never used.
  const doc = (await segments(db, 'E1').where('gateway', '==', 'gw-e1').orderBy('nLo').limit(1).get()).docs[0];
  const data = doc.data() as SegmentDoc;
  const [subject, cols] = Object.entries(data.s)[0];
  const gone = `${cols.dev[0]}/${cols.seq[0]}/${cols.code[0]}`;
  const n0 = cols.n[0];
  const drop = <V>(list: V[], add: V[]) => [...list.slice(1), ...add];
  const edited: SubjectColumns = {
    ...cols,
    code: drop(cols.code, ['spo2', 'spo2']),
    ts: drop(cols.ts, [cols.ts[0], cols.ts[0]]),
    v: drop(cols.v, [90, 90]),
    f: drop(cols.f, [0, 0]),
    dev: drop(cols.dev, ['pox-1', 'pox-1']),
    seq: drop(cols.seq, [9001, 9002]),
    n: drop(cols.n, [n0 + 500, n0 + 501]),
  };
  await doc.ref.update({ [`s.${subject}`]: edited, count: data.count + 1 });
  t.equal((await held('gw-e1')).size, 200 + 1, 'the cloud holds one item more than the edge in all');

  const found = await w.verify();
  t.equal(found.code, 1, 'exit code 1: a hole');
  t.same([found.report.missing, found.report.extra], [1, 2], 'one missing, two extra, each counted');
  t.ok(found.report.resent >= 1, 'the range is re-sent');
  await w.drained();
  const after = await held('gw-e1');
  t.equal(after.get(gone), 1, 'the missing reading is stored again, once');
});

t.test('the cloud answers and corrects within the asking gateway only', async (t) => {
  const e2 = await ward(t, 'gw-e2');
  const e1Before = await held('gw-e1');
  // gw-e1 and gw-e2 share the ward and the numbers. gw-e2 loses a segment; gw-e1's record is not touched.
  const victim = (await segments(db, 'E1').where('gateway', '==', 'gw-e2').orderBy('nLo').limit(1).get()).docs[0];
  const lo = (victim.data() as SegmentDoc).nLo;
  await victim.ref.delete();
  const ask = async (gateway: string) => {
    const request = signedVerifyRequest(
      { v: 1, gateway, ranges: [{ stream: 'readings', lo, hi: lo + 60 * 1024 }] },
      SECRET,
      Date.now(),
    );
    const res = await fetch(`${cloud.url}/verifyRange`, {
      method: 'POST',
      body: request.body,
      headers: request.headers,
    });
    return ((await res.json()) as VerifyAnswer).ranges[0];
  };
  const e1 = await ask('gw-e1');
  t.equal(e1.corrected, 0, 'gw-e1 holds its readings: nothing corrected');
  const e2Range = await ask('gw-e2');
  t.ok(e2Range.corrected > 0, "gw-e2's record is corrected to its data");
  t.ok(e1.count > e2Range.count, 'each gateway is answered with its own items');
  t.equal((await ask('gw-e1')).corrected, 0, "and gw-e1's record still names its own");
  const found = await e2.verify();
  t.equal(found.code, 1, 'gw-e2 finds its hole');
  await e2.drained();
  t.equal((await held('gw-e2')).size, 200, 'and fills it');
  t.same(await held('gw-e1'), e1Before, 'gw-e1 unchanged');
});
