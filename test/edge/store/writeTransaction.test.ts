// Two connections write to the gateway's database (its own and the ingest
// writer thread's). A transaction that reads, then writes, must not fail when
// the other connection commits in between.
import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { openDatabase, writeTransaction } from '../../../edge/store/database.js';
import { tempDir } from '../../helpers/env.js';
import { ROOT } from '../../helpers/gateway.js';

t.test('a write transaction holds the write lock from BEGIN: another writer waits instead of breaking it', (t) => {
  const dir = tempDir(t);
  const gateway = openDatabase(dir);
  const writer = openDatabase(dir);
  t.teardown(() => (gateway.close(), writer.close()));
  writer.pragma('busy_timeout = 0');
  const count = () =>
    gateway.prepare("SELECT value FROM counters WHERE name = 'x'").pluck().get() as number | undefined;
  const bump = gateway.prepare(
    "INSERT INTO counters (name, value) VALUES ('x', 1) ON CONFLICT (name) DO UPDATE SET value = value + 1",
  );
  const other = writer.prepare("INSERT INTO counters (name, value) VALUES ('y', 1)");

  // What a deferred transaction risks: the other connection commits between its read and its write.
  t.throws(
    () =>
      gateway.transaction(() => {
        count();
        other.run();
        bump.run();
      })(),
    { code: 'SQLITE_BUSY_SNAPSHOT' },
    'a deferred transaction that read first cannot write after another commit',
  );
  t.throws(
    () =>
      writeTransaction(gateway, () => {
        count();
        other.run();
      })(),
    { code: 'SQLITE_BUSY' },
    'inside a write transaction the other writer is the one that waits (here: refused, it has no busy timeout)',
  );
  writeTransaction(gateway, () => {
    count();
    bump.run();
  })();
  t.equal(count(), 1);
  t.end();
});

t.test('every transaction in the gateway is a write transaction', (t) => {
  const files = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
    );
  const deferred = files(join(ROOT, 'edge'))
    .filter((f) => !f.endsWith(join('store', 'database.ts')))
    .filter((f) => /\.transaction\(/.test(readFileSync(f, 'utf8')))
    .map((f) => relative(ROOT, f));
  t.same(deferred, [], 'db.transaction() appears only in writeTransaction');
  t.end();
});
