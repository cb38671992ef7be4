// When each bed's last new episode began, kept for the alarm engine's next
// start: written off the evaluation of the reading that began it, never
// waiting for the ingest writer's lock, and what is still waiting is written
// at the close.
import { join } from 'node:path';
import Database from 'better-sqlite3';
import t, { type Test } from 'tap';
import { DB_FILE, openDatabase } from '../../../edge/store/database.js';
import { EpisodeStore } from '../../../edge/store/episodeStore.js';
import { tempDir } from '../../helpers/env.js';

const T0 = Date.parse('2026-11-27T09:00:00Z');

/** The gateway's database, and a second connection as the ingest writer thread has one. */
function databases(t: Test) {
  const dir = tempDir(t);
  const db = openDatabase(dir);
  const writer = new Database(join(dir, DB_FILE));
  t.teardown(() => {
    writer.close();
    db.close();
  });
  const stored = () => writer.prepare('SELECT bed, began_at FROM bed_episodes ORDER BY bed').all();
  return { db, writer, stored };
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

t.test('an episode is written once its reading has been evaluated; a later one replaces it', async (t) => {
  const { db, stored } = databases(t);
  const episodes = new EpisodeStore(db);
  episodes.began('1', T0);
  t.same(stored(), [], 'not while the reading that began it is evaluated');
  t.same([...episodes.last()], [['1', T0]], 'read back all the same');
  await turn();
  t.same(stored(), [{ bed: '1', began_at: T0 }]);
  episodes.began('1', T0 + 600_000);
  episodes.began('2', T0 + 1000);
  await turn();
  t.same(stored(), [
    { bed: '1', began_at: T0 + 600_000 },
    { bed: '2', began_at: T0 + 1000 },
  ]);
  episodes.close();
  t.same([...new EpisodeStore(db).last()].sort(), [
    ['1', T0 + 600_000],
    ['2', T0 + 1000],
  ]);
});

t.test('the ingest writer holds the lock: no wait, written as soon as it is free', async (t) => {
  const { db, writer, stored } = databases(t);
  const episodes = new EpisodeStore(db);
  writer.prepare('BEGIN IMMEDIATE').run();
  episodes.began('1', T0);
  const before = Date.now();
  await turn();
  t.ok(Date.now() - before < 1000, 'the event loop did not wait out the busy timeout');
  t.same([...episodes.last()], [['1', T0]], 'still waiting');
  writer.prepare('COMMIT').run();
  const deadline = Date.now() + 5000;
  while (stored().length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
  t.same(stored(), [{ bed: '1', began_at: T0 }]);
  t.equal(db.pragma('busy_timeout', { simple: true }), 5000, "the connection's busy timeout is restored");
  t.equal(db.pragma('synchronous', { simple: true }), 2, 'and its synchronous level');
  episodes.close();
});

t.test('the close writes what is still waiting; an episode after it is not kept', async (t) => {
  const { db, stored } = databases(t);
  const episodes = new EpisodeStore(db);
  episodes.began('1', T0);
  episodes.close();
  t.same(stored(), [{ bed: '1', began_at: T0 }]);
  episodes.began('2', T0);
  episodes.close();
  await turn();
  t.same(stored(), [{ bed: '1', began_at: T0 }]);
});

t.test('a write that fails for another reason than the lock is given up and said', async (t) => {
  const { db, writer, stored } = databases(t);
  const failed: Error[] = [];
  const episodes = new EpisodeStore(db, { onFailed: (err) => failed.push(err) });
  writer.exec("CREATE TRIGGER refuse BEFORE INSERT ON bed_episodes BEGIN SELECT RAISE(ABORT, 'disk full'); END");
  episodes.began('1', T0);
  await turn();
  t.match(failed, [{ message: /disk full/ }]);
  t.same([...episodes.last()], [], 'given up');
  writer.exec('DROP TRIGGER refuse');
  episodes.began('2', T0);
  await turn();
  t.same(stored(), [{ bed: '2', began_at: T0 }], 'the next one is written');
  episodes.close();
});

t.test("a write deferred past the database's close is given up and said, never thrown", async (t) => {
  const { db } = databases(t);
  const failed: Error[] = [];
  const episodes = new EpisodeStore(db, { onFailed: (err) => failed.push(err) });
  // Waiting for its turn when the database closes.
  episodes.began('1', T0);
  db.close();
  await turn();
  t.match(failed, [{ message: /not open/ }]);
  // Waiting for the lock when the database closes: given up at the next attempt.
  const again = openDatabase(tempDir(t));
  t.teardown(() => again.close());
  const holder = new Database(again.name);
  t.teardown(() => holder.close());
  const retried = new EpisodeStore(again, { onFailed: (err) => failed.push(err) });
  holder.prepare('BEGIN IMMEDIATE').run();
  retried.began('2', T0);
  await turn();
  again.close();
  holder.prepare('COMMIT').run();
  const deadline = Date.now() + 5000;
  while (failed.length < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
  t.match(failed, [{ message: /not open/ }, { message: /not open/ }]);
});
