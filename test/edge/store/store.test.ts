// The store the gateway opens before anything else: ready when open() resolves
// (devices declared, writer thread up), every commit in the file once closed,
// closed once however often it is asked; a file that is not a database is
// refused before anything is built on it.
import t from 'tap';
import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DB_FILE, openDatabaseReadOnly } from '../../../edge/store/database.js';
import { Store } from '../../../edge/store/store.js';
import type { IngestItem, IngestOutcome } from '../../../edge/ingest/types.js';
import { tempDir } from '../../helpers/env.js';

const TS = 1_795_000_000_000;
const obs = (seq: number): IngestItem => ({
  kind: 'obs',
  source: 'mqtt',
  receivedTs: TS,
  deviceId: 'ox-1',
  seq,
  ts: TS,
  digest: Buffer.alloc(8, seq),
  readings: [{ code: 'spo2', value: 97, unit: '%', ts: TS, flags: 0 }],
});

t.test('open: ready to commit at once; close: everything in the database file, the WAL emptied', async (t) => {
  const dir = tempDir(t);
  const store = await Store.open({ dataDir: dir, devices: [{ id: 'ox-1', bed: '7', source: 'mqtt' }] });
  t.ok(store.devices.isDeclared('ox-1'), 'the config devices are declared before anything is built');
  const results = await new Promise<IngestOutcome[]>((resolve, reject) =>
    store.writer.commit([obs(1), obs(2)], (err, r) => (err ? reject(err) : resolve(r!))),
  );
  t.same(
    results.map((r) => r.outcome),
    ['stored', 'stored'],
  );
  store.audit.record({ ts: TS, actor: 'nurse-ann', action: 'acknowledge', target: 'alarm:a1', detail: { via: 'api' } });
  await store.close();
  await store.close();
  t.notOk(store.db.open, 'the connection is closed');
  t.equal(
    statSync(join(dir, `${DB_FILE}-wal`), { throwIfNoEntry: false })?.size ?? 0,
    0,
    'the WAL was folded back at close',
  );
  const db = openDatabaseReadOnly(dir);
  t.teardown(() => db.close());
  t.equal(db.prepare('SELECT count(*) FROM observations').pluck().get(), 2, 'both readings in the file');
  t.same(db.prepare('SELECT actor, action FROM audit').all(), [{ actor: 'nurse-ann', action: 'acknowledge' }]);
});

t.test('a file that is not a database: open() fails with the reason, before any feature is built', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, DB_FILE), 'this is not an SQLite database, and long enough to show it '.repeat(4));
  await t.rejects(Store.open({ dataDir: dir, devices: [] }), /not a database/);
});
