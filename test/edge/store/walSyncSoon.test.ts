// The alarm store's background WAL sync (WalSync.syncSoon): off the event
// loop, coalesced, failures reported; nothing to sync for a database in memory.
import t from 'tap';
import { readdirSync, readlinkSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { AlarmStore } from '../../../edge/store/alarmStore.js';
import { openDatabase } from '../../../edge/store/database.js';
import { migrations } from '../../../edge/store/migrations.js';
import { WalSync } from '../../../edge/store/walSync.js';
import { tempDir, waitFor } from '../../helpers/env.js';

const alarm = {
  id: 'a1',
  key: 'bed:1:hr',
  bed: '1',
  deviceId: 'mon-1',
  kind: 'physiological',
  rule: 'limit',
  metric: 'hr',
  priority: 'high',
  latching: true,
  state: 'active',
  message: 'HR high',
  value: 150,
  raisedAt: 1,
  escalations: 0,
  lastEscalatedAt: null,
  acknowledgedBy: null,
  acknowledgedAt: null,
  clearedAt: null,
} as const;
const event = () =>
  ({
    alarmId: 'a1',
    phase: 'raised',
    ts: 1,
    bed: '1',
    deviceId: 'mon-1',
    kind: 'physiological',
    rule: 'limit',
    metric: 'hr',
    priority: 'high',
    state: 'active',
    message: 'HR high',
    value: 150,
    by: null,
    escalations: 0,
  }) as never;

t.test('events recorded in a file database are synced in the background; a failed sync is reported', async (t) => {
  const dir = tempDir(t);
  const db = openDatabase(dir);
  t.teardown(() => db.close());
  const failures: Error[] = [];
  const store = new AlarmStore(db, { onSyncFailed: (err) => failures.push(err) });
  for (let i = 0; i < 20; i++) store.record([[event(), { ...alarm }]]);
  await new Promise((r) => setTimeout(r, 200));
  t.same(failures, [], 'twenty records, syncs coalesced, none failed');
  t.equal(db.pragma('synchronous', { simple: true }), 2, 'the connection is back at synchronous=FULL');
  store.close();

  const missing = new WalSync(join(dir, 'no-such-wal'));
  const failed = await new Promise<Error>((resolve) => missing.syncSoon(resolve));
  t.match(failed.message, /ENOENT/, 'a WAL that cannot be opened is a failed sync');
});

t.test('a database in memory has nothing to sync', async (t) => {
  const db = new Database(':memory:');
  t.teardown(() => db.close());
  for (const m of migrations) db.exec(m);
  const failures: Error[] = [];
  new AlarmStore(db, { onSyncFailed: (err) => failures.push(err) }).record([[event(), { ...alarm }]]);
  await new Promise((r) => setTimeout(r, 100));
  t.same(failures, []);
});

/** Descriptors of this process open on `path` (deleted or not). */
function openOn(path: string): number {
  return readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`).startsWith(path);
    } catch {
      return false; // closed meanwhile (readdir's own)
    }
  }).length;
}

t.test('closed while a background sync runs: the sync closes the descriptor when it ends', async (t) => {
  const dir = tempDir(t);
  const db = openDatabase(dir);
  t.teardown(() => db.close());
  db.exec('CREATE TABLE x (v); INSERT INTO x VALUES (1)');
  const path = realpathSync(`${db.name}-wal`);
  const sqlites = openOn(path); // the connection's own
  const wal = new WalSync(path);
  wal.syncSoon((err) => t.fail(err.message));
  t.equal(openOn(path), sqlites + 1, 'one more, for the sync');
  wal.close();
  await waitFor(() => (openOn(path) === sqlites ? true : undefined), 2000, 'the descriptor to be closed');
  t.pass('closed once the sync ended');
});
