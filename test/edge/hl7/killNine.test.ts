// The HL7 durability promise: every message that got AA is stored, even when
// the daemon is killed with SIGKILL in the middle of a pipelined MLLP stream.
import t from 'tap';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { pcd01Message, tenVitals } from '../../../simulators/pcd01.js';
import { freePort } from '../../helpers/env.js';
import { spawnDaemon, writeTestConfig } from '../../helpers/gateway.js';
import { MllpClient } from '../../helpers/mllp.js';

t.setTimeout(170_000);

const TS = Date.now() - 120_000;
const MONITORS = ['MON-A', 'MON-B', 'MON-C'];
const PER_ROUND = 400;

t.test('every AA-acknowledged message survives kill -9 at random moments, stored exactly once', async (t) => {
  const hl7Port = await freePort();
  const { dir, file } = await writeTestConfig(t, {
    extra: { hl7: { port: hl7Port, senders: [{ application: 'MONITOR' }] } },
  });
  const dataDir = join(dir, 'data');
  const acked = new Map(MONITORS.map((m) => [m, new Set<number>()]));
  const message = (monitor: string, i: number) =>
    pcd01Message({
      controlId: `${monitor}-${i}`,
      ts: TS + i * 100,
      equipment: monitor,
      patient: { id: `P-${monitor}`, authority: 'HOSP' },
      metrics: tenVitals(i),
    });
  const rounds = 3;
  let interrupted = 0;
  for (let round = 0; round <= rounds; round++) {
    const daemon = await spawnDaemon(t, file, dataDir);
    const clients = await Promise.all(MONITORS.map(() => MllpClient.connect(t, hl7Port)));
    // A monitor resends what was never acknowledged, then carries on (a retry may repeat stored data).
    const sent = MONITORS.map((m, k) => {
      const upTo = round < rounds ? (round + 1) * PER_ROUND : rounds * PER_ROUND;
      const todo = Array.from({ length: upTo }, (_, i) => i).filter((i) => !acked.get(m)!.has(i));
      for (const i of todo) clients[k].send(message(m, i));
      return todo;
    });
    const record = () =>
      clients.forEach((c, k) => {
        for (let j = 0; j < c.acks.length && j < sent[k].length; j++)
          if (c.acks[j].code === 'AA') acked.get(MONITORS[k])!.add(sent[k][j]);
      });
    if (round < rounds) {
      // Early enough that a round of 1,200 messages is still being answered (about 5,000 a second here).
      const after = 20 + Math.floor(Math.random() * 130);
      await new Promise((r) => setTimeout(r, after));
      daemon.child.kill('SIGKILL');
      t.equal(await daemon.exited, 'SIGKILL', `round ${round}: killed after ${after} ms`);
      await Promise.all(clients.filter((c) => !c.closed).map((c) => new Promise((r) => c.socket.once('close', r))));
      record();
      if (clients.some((c, k) => c.acks.length < sent[k].length)) interrupted++;
    } else {
      await Promise.all(clients.map((c, k) => c.waitForAcks(sent[k].length, 60_000)));
      record();
      clients.forEach((c) => c.end());
      daemon.child.kill('SIGTERM');
      t.equal(await daemon.exited, 0, 'the last run stops cleanly');
    }
  }
  t.ok(interrupted >= 1, `the kill cut a stream with messages unanswered (${interrupted} of ${rounds} rounds)`);
  const db = new Database(join(dataDir, 'wardgate.db'), { readonly: true });
  t.teardown(() => db.close());
  for (const m of MONITORS) {
    t.equal(acked.get(m)!.size, rounds * PER_ROUND, `${m}: every message eventually acknowledged`);
    const row = db
      .prepare(
        'SELECT count(*) AS obs, count(DISTINCT o.seq) AS seqs FROM observations o JOIN devices d ON d.id = o.device WHERE d.device_id = ?',
      )
      .get(m) as { obs: number; seqs: number };
    t.equal(row.obs, rounds * PER_ROUND, `${m}: each acknowledged message stored exactly once`);
    t.equal(row.seqs, row.obs);
  }
  const readings = (db.prepare('SELECT count(*) AS n FROM readings').get() as { n: number }).n;
  t.equal(readings, MONITORS.length * rounds * PER_ROUND * 10);
  t.equal(
    (db.prepare("SELECT count(*) AS n FROM dead_letters WHERE reason = 'WG_ERR_SEQ_CONFLICT'").get() as { n: number })
      .n,
    0,
    'no retransmission taken for a conflict',
  );
});
