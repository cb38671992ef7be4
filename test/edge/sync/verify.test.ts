// Reconciliation through the real daemon and the real functions on the
// Firestore emulator: a drained ward verifies whole; then a segment (and an
// alarm event) deleted behind the cloud's back is found as a hole by `wardgate
// sync --verify`, the cloud corrects its record, the range is re-sent and
// stored, the "sync hole" alarm is raised and cleared, and status and
// /metrics show the figures. The verify job does the same on its schedule.
import t, { type Test } from 'tap';
import { PassThrough } from 'node:stream';
import { readFileSync, writeFileSync } from 'node:fs';
import { loadConfig } from '../../../edge/config/load.js';
import { Gateway } from '../../../edge/gateway.js';
import { createLogger } from '../../../edge/log.js';
import { alarmEvents, segments } from '../../../cloud/store/paths.js';
import type { SegmentDoc } from '../../../cloud/ingest/segments.js';
import { signedVerifyRequest } from '../../../shared/sync/verify.js';
import { main } from '../../../bin/main.js';
import { connectAs, startTestGateway } from '../../helpers/gateway.js';
import { cloudLink, startSyncCloud } from '../../helpers/syncCloud.js';
import { waitFor } from '../../helpers/env.js';

t.setTimeout(200_000);
const PROJECT = 'wardgate-verify-test';
const SECRET = 'gw-verify-secret-0123456789abcdef-0123';
const env = { WG_CLOUD: SECRET, WG_WARD: 'ward-pseudonym-secret-0123456789abcdef' };
const { cloud, db } = await startSyncCloud(t, PROJECT, [
  ['gw-v1', { ward: 'V1', secret: SECRET }],
  ['gw-v2', { ward: 'V2', secret: SECRET }],
]);

async function ward(t: Test, id: 'v1' | 'v2', jobs: Record<string, string>) {
  const g = await startTestGateway(t, {
    env,
    extra: {
      ward: id.toUpperCase(),
      gateway: { id: `gw-${id}` },
      cloud: cloudLink(cloud.url),
      jobs: { sync: '* * * * * *', ...jobs },
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
  const cli = async (...args: string[]) => {
    const out = new PassThrough();
    let text = '';
    out.on('data', (d: Buffer) => (text += d.toString()));
    const code = await main({
      argv: ['sync', '--config', g.config.source, ...args],
      stdout: out,
      stderr: out,
      stdin: new PassThrough(),
      env,
    });
    return { code, text };
  };
  return { ...g, publish, drained, cli, edge };
}

/** Readings the cloud holds for a ward, by (device, seq, code). */
async function cloudReadings(wardId: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const doc of (await segments(db, wardId).get()).docs) {
    for (const c of Object.values((doc.data() as SegmentDoc).s))
      c.n.forEach((_, i) =>
        out.set(`${c.dev[i]}/${c.seq[i]}/${c.code[i]}`, (out.get(`${c.dev[i]}/${c.seq[i]}/${c.code[i]}`) ?? 0) + 1),
      );
  }
  return out;
}

t.test('sync --verify: whole, then a deleted segment is found, re-sent and stored once', async (t) => {
  const w = await ward(t, 'v1', { verify: '0 0 1 1 *' });
  await w.publish(200);
  await w.publish(3, 85);
  await w.publish(100);
  await w.drained();

  const first = await w.cli('--verify', '--since', '0', '--json');
  t.equal(first.code, 0, first.text);
  const report = JSON.parse(first.text);
  t.same(
    [report.items > 600, report.missing, report.resent, report.holes.length],
    [true, 0, 0, 0],
    'a drained ward verifies whole',
  );

  // Lost behind the cloud's back: one segment and one alarm event.
  const segs = (await segments(db, 'V1').get()).docs;
  const victim = segs[Math.floor(segs.length / 2)];
  const lost = (victim.data() as SegmentDoc).count;
  await victim.ref.delete();
  const alarmDoc = (await alarmEvents(db, 'V1').get()).docs[0];
  await alarmDoc.ref.delete();
  t.equal([...(await cloudReadings('V1')).keys()].length, 303 * 2 - lost, `${lost} readings gone from Firestore`);

  const second = await w.cli('--verify', '--since', '0');
  t.equal(second.code, 1, 'exit code 1: a hole was found');
  t.match(second.text, new RegExp(`${lost + 1} missing in the cloud`));
  t.match(second.text, /corrected its record/);
  const engine = w.gateway.alarms!.engine;
  await waitFor(() => engine.openAlarms().find((a) => a.key === 'sync:hole'), 10_000, 'the sync hole alarm');

  // The daemon sends the re-sent ranges; the cloud stores what it lacks, once.
  await w.drained();
  const held = await cloudReadings('V1');
  t.equal(held.size, 303 * 2, 'every reading back in Firestore');
  t.ok(
    [...held.values()].every((c) => c === 1),
    'each once',
  );
  // The sync hole alarm is itself an alarm event on its way: compare the two as they settle.
  await waitFor(
    async () =>
      (await alarmEvents(db, 'V1').get()).size === w.edge.prepare('SELECT count(*) FROM alarm_events').pluck().get()
        ? true
        : undefined,
    20_000,
    "the alarm event back, and the hole alarm's own",
  );
  t.pass('every alarm event in Firestore, the deleted one again');

  const third = await w.cli('--verify');
  t.equal(third.code, 0, `the re-sent ranges verify whole: ${third.text}`);
  await waitFor(
    () => (engine.openAlarms().some((a) => a.key === 'sync:hole' && a.state === 'active') ? undefined : true),
    10_000,
    'the alarm cleared',
  );

  const status = await main({
    argv: ['status', '--config', w.config.source, '--json'],
    stdout: capture.stream,
    stderr: capture.stream,
    stdin: new PassThrough(),
    env,
  });
  t.equal(status, 0);
  const verify = JSON.parse(capture.take()).sync.verify;
  t.same([verify.runs, verify.missing, verify.pendingRepairs], [3, lost + 1, 0], 'status shows the figures');
  t.ok(verify.resent >= lost + 1 && verify.lastHoleTs, 'and what was re-sent, and when the hole was found');
});

t.test('the verify job checks what was confirmed recently, and /metrics counts it', async (t) => {
  const w = await ward(t, 'v2', { verify: '0 0 1 1 *' });
  await w.publish(80);
  await w.drained();
  // A first verification checks nothing (what was stored before it may come from an older cloud) and marks where the next starts.
  const first = JSON.parse((await w.cli('--verify', '--json')).text);
  t.same([first.items, first.ranges], [0, 0], 'the first verification starts at the cursor');
  await w.publish(120);
  await w.drained();
  // Lost after the cloud confirmed it, before it was verified.
  const segs = (await segments(db, 'V2').orderBy('nLo', 'desc').get()).docs;
  await segs[0].ref.delete();
  // The daemon again, with the job every 2 s: it checks what was confirmed since the last verification.
  await w.gateway.stop();
  writeFileSync(
    w.config.source,
    readFileSync(w.config.source, 'utf8').replace(/verify: .*/, "verify: '*/2 * * * * *'"),
  );
  const again = new Gateway(loadConfig({ file: w.config.source, env }), { log: createLogger('silent'), env });
  await again.start();
  t.teardown(() => again.stop());
  const metrics = async () => (await fetch(`http://127.0.0.1:${w.config.http.port}/metrics`)).text();
  await waitFor(
    async () => (/wardgate_sync_verify_runs_total\{outcome="holes"\} [1-9]/.test(await metrics()) ? true : undefined),
    30_000,
    'the job to find the hole',
  );
  await waitFor(
    async () => ((await metrics()).includes('wardgate_sync_verify_pending_repairs 0') ? true : undefined),
    30_000,
    'the repair to verify whole',
  );
  const text = await metrics();
  t.match(text, /wardgate_sync_verify_missing_items_total [1-9]/);
  t.match(text, /wardgate_sync_verify_resent_items_total [1-9]/);
  t.match(text, /wardgate_sync_verify_items_total [1-9]/);
  const held = await cloudReadings('V2');
  t.equal(held.size, 200 * 2, 'every reading in Firestore');
  t.ok(
    [...held.values()].every((c) => c === 1),
    'each once',
  );
});

t.test('verifyRange refuses bad signatures and bad ranges with JSON reasons', async (t) => {
  const post = async (body: Buffer, headers: Record<string, string>) => {
    const res = await fetch(`${cloud.url}/verifyRange`, { method: 'POST', body, headers });
    return { status: res.status, json: (await res.json()) as { error?: { code: string; field?: string } } };
  };
  const good = signedVerifyRequest(
    { v: 1, gateway: 'gw-v1', ranges: [{ stream: 'readings', lo: 0, hi: 10 }] },
    SECRET,
    Date.now(),
  );
  t.equal((await post(good.body, good.headers)).status, 200);
  const forged = signedVerifyRequest(
    { v: 1, gateway: 'gw-v1', ranges: [{ stream: 'readings', lo: 0, hi: 10 }] },
    'another-secret-0123456789abcdef',
    Date.now(),
  );
  t.same((await post(forged.body, forged.headers)).json.error?.code, 'WG_ERR_SIGNATURE');
  const crossing = signedVerifyRequest(
    { v: 1, gateway: 'gw-v1', ranges: [{ stream: 'readings', lo: 0, hi: 2 ** 19 }] },
    SECRET,
    Date.now(),
  );
  const res = await post(crossing.body, crossing.headers);
  t.same([res.status, res.json.error?.code, res.json.error?.field], [400, 'WG_ERR_SCHEMA', 'ranges[0]']);
  const other = signedVerifyRequest(
    { v: 1, gateway: 'gw-v2', ranges: [{ stream: 'alarms', lo: 1, hi: 10 }] },
    SECRET,
    Date.now(),
  );
  const misnamed = await post(other.body, { ...other.headers, 'X-Wardgate-Gateway': 'gw-v1' });
  t.same([misnamed.status, misnamed.json.error?.field], [400, 'gateway'], 'a body for another gateway is refused');
});

const capture = (() => {
  let text = '';
  const stream = new PassThrough();
  stream.on('data', (d: Buffer) => (text += d.toString()));
  return {
    stream,
    take: () => {
      const out = text;
      text = '';
      return out;
    },
  };
})();
