// Retention never deletes rows a batch not yet confirmed still needs (a repair
// re-sends rows below the cursor; every attempt rebuilds its batch from the
// rows), and a repair whose rows are gone anyway stays raised as "lost before
// re-send" instead of being dropped as if the hole had healed.
import t, { type Test } from 'tap';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { openDatabase, type Db } from '../../../edge/store/database.js';
import { createLogger } from '../../../edge/log.js';
import { BatchBuilder } from '../../../edge/sync/batchBuilder.js';
import { storageConfigSchema } from '../../../edge/store/config.js';
import { Outbox, type Ranges } from '../../../edge/store/outbox.js';
import { Pseudonyms } from '../../../edge/sync/pseudonyms.js';
import { StorageGuard } from '../../../edge/store/storageGuard.js';
import type { TechnicalAlarms, TechnicalReport } from '../../../edge/sync/technicalAlarms.js';
import { Verifier } from '../../../edge/sync/verifier.js';
import { rangeDigest, type VerifyRequest } from '../../../shared/sync/verify.js';
import { tempDir } from '../../helpers/env.js';

const DAY = 86_400_000;
const NOW = Date.now();
const none = { after: 0, through: 0 };
const ranges = (over: Partial<Ranges>): Ranges => ({ alarms: none, obs: none, status: none, audit: none, ...over });
const ids = (db: Db, table: string) => db.prepare(`SELECT id FROM ${table} ORDER BY id`).pluck().all() as number[];

function addObservations(db: Db, count: number): void {
  db.prepare("INSERT INTO devices (device_id, bed, source) VALUES ('mon-1', '7', 'mqtt')").run();
  const insert = db.prepare(
    "INSERT INTO observations (device, seq, ts, received_ts, bed, digest, readings) VALUES (1, ?, ?, ?, '7', x'00', ?)",
  );
  for (let i = 1; i <= count; i++) insert.run(i, NOW - 8 * DAY, NOW - 8 * DAY, JSON.stringify([['spo2', 95, 0]]));
}

t.test('retention keeps the rows of every batch the cloud has not confirmed', async (t) => {
  const db = openDatabase(tempDir(t));
  t.teardown(() => db.close());
  addObservations(db, 30);
  const outbox = new Outbox(db);
  outbox.record('b-1', ranges({ obs: { after: 0, through: 10 } }), 10, 10, NOW);
  outbox.acknowledge('b-1', NOW); // cursor at 10
  outbox.record('b-quarantined', ranges({ obs: { after: 10, through: 20 } }), 10, 10, NOW);
  outbox.quarantine('b-quarantined', 400, 'WG_ERR_SCHEMA', 'refused', NOW);
  outbox.record('b-3', ranges({ obs: { after: 20, through: 30 } }), 10, 10, NOW);
  outbox.acknowledge('b-3', NOW); // acked above the quarantined batch
  // Repairs of verification holes, below the cursor and inside the acked batch, not yet confirmed.
  outbox.record('repair-1', ranges({ obs: { after: 2, through: 5 } }), 3, 0, NOW);
  outbox.record('repair-2', ranges({ obs: { after: 24, through: 26 } }), 2, 0, NOW);
  const guard = new StorageGuard(db, storageConfigSchema.parse({ retentionDays: 7 }), undefined, () => NOW);
  t.same(guard.purgeSynced(), { observations: 15, device_status: 0, alarm_events: 0 });
  t.same(
    ids(db, 'observations'),
    [3, 4, 5, ...Array.from({ length: 10 }, (_, i) => 11 + i), 25, 26],
    "the repairs' and the quarantined batch's rows stay",
  );
  outbox.acknowledge('repair-1', NOW);
  t.equal(guard.purgeSynced().observations, 3, 'once the repair is confirmed, its rows go too');
});

class AlarmLog implements TechnicalAlarms {
  readonly current = new Map<string, TechnicalReport>();
  set(key: string, report: TechnicalReport | null): void {
    if (report) this.current.set(key, report);
    else this.current.delete(key);
  }
}

/** A verifyRange that answers from the audit keys it holds. */
async function cloud(t: Test, holds: Set<string>) {
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString('utf8')));
    req.on('end', () => {
      const ask = JSON.parse(body) as VerifyRequest;
      const answer = ask.ranges.map((r) => {
        const keys = [...holds].filter(
          (k) => r.stream === 'audit' && Number.parseInt(k, 10) >= r.lo && Number.parseInt(k, 10) <= r.hi,
        );
        return { ...r, count: keys.length, digest: rangeDigest(keys), corrected: 0 };
      });
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ ok: true, gateway: ask.gateway, ranges: answer }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

t.test('a repair whose rows are gone stays raised as lost before re-send', async (t) => {
  const db = openDatabase(tempDir(t));
  t.teardown(() => db.close());
  const audit = db.prepare('INSERT INTO audit (ts, actor, action, target, detail) VALUES (?, ?, ?, ?, ?)');
  for (let i = 0; i < 3; i++) audit.run(NOW - 8 * DAY, 'wardgate', 'login', null, null);
  const outbox = new Outbox(db);
  outbox.record('b-1', ranges({ audit: { after: 0, through: 3 } }), 3, 0, NOW);
  outbox.acknowledge('b-1', NOW);
  const holds = new Set<string>(); // the cloud confirmed the batch and then lost it
  const lines: string[] = [];
  const log = createLogger(
    'info',
    new Writable({ write: (chunk: Buffer, _e, done) => void (lines.push(chunk.toString()), done()) }),
  );
  const alarms = new AlarmLog();
  const verifier = new Verifier({
    db,
    outbox,
    url: await cloud(t, holds),
    gateway: 'gw-1',
    secret: 'gw-test-cloud-secret-0123456789abcdef',
    timeoutMs: 5000,
    log,
    alarms,
    now: () => NOW,
    builder: new BatchBuilder(db, new Pseudonyms(db, 'ward-secret-for-repair-test-0123456789'), {
      gateway: 'gw-1',
      ward: '3B',
    }),
  });
  const first = await verifier.run({ since: NOW - 9 * DAY });
  t.equal(first.missing, 3, 'the hole is found');
  t.ok(alarms.current.has('sync:hole'), 'and raised');
  const repair = outbox.batches('inflight');
  t.equal(repair.length, 1, 'its range is back in flight');
  // The re-sent batch is confirmed, the cloud loses it again, and the rows are gone from the edge: nothing is left to re-send.
  outbox.acknowledge(repair[0].id, NOW);
  db.prepare('DELETE FROM audit').run();
  const second = await verifier.run();
  t.equal(second.pendingRepairs, 1, 'the repair is kept, not dropped as if whole');
  t.match(
    alarms.current.get('sync:hole')?.message ?? '',
    /lost before re-send/,
    'the alarm stays raised and says the items are lost',
  );
  t.equal(lines.filter((l) => l.includes('lost before re-send')).length, 1, 'logged once');
  await verifier.run();
  t.ok(alarms.current.has('sync:hole'), 'still raised at the next run');
  t.equal(lines.filter((l) => l.includes('lost before re-send')).length, 1, 'not logged again');
});
