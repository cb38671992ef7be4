import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { DB_FILE, openDatabase } from '../../../edge/store/database.js';
import { DEAD_LETTER_RAW_LIMIT, IngestStore } from '../../../edge/store/ingestStore.js';
import { WriterThread } from '../../../edge/store/writerThread.js';
import type { IngestItem, IngestOutcome } from '../../../edge/ingest/types.js';
import { reject } from '../../../shared/errors.js';
import { tempDir } from '../../helpers/env.js';

const TS = 1_795_000_000_000;
const obs = (seq: number, digest = 1, value = 97): IngestItem => ({
  kind: 'obs',
  source: 'mqtt',
  receivedTs: TS,
  deviceId: 'ox-1',
  seq,
  ts: TS,
  digest: Buffer.alloc(8, digest),
  readings: [
    { code: 'spo2', value, unit: '%', ts: TS, flags: 0 },
    { code: 'pr', value: 72, unit: '/min', ts: TS + 500, flags: 0 },
  ],
});

function commit(writer: WriterThread, items: IngestItem[]): Promise<IngestOutcome[]> {
  return new Promise((resolve, reject) =>
    writer.commit(items, (err, results) => (err ? reject(err) : resolve(results!))),
  );
}

function setUp(t: { teardown(fn: () => unknown): void }) {
  const dir = tempDir(t);
  const db = openDatabase(dir);
  new IngestStore(db).declareDevices([{ id: 'ox-1', bed: '7' }]);
  t.teardown(() => db.close());
  return { dir, db };
}

t.test(
  'the writer thread commits groups that the gateway connection then reads, with the outcome of each item',
  async (t) => {
    const { dir, db } = setUp(t);
    const writer = new WriterThread(dir);
    await writer.start();
    t.teardown(() => writer.close());
    const raw = Buffer.alloc(DEAD_LETTER_RAW_LIMIT * 3, 0x7b);
    const results = await commit(writer, [
      obs(1),
      obs(2),
      { kind: 'status', source: 'mqtt', receivedTs: TS, deviceId: 'ox-1', status: { ts: TS, battery: 40 } },
      {
        kind: 'dead',
        source: 'mqtt',
        receivedTs: TS,
        deviceId: 'ox-1',
        topic: 'wardgate/devices/ox-1/obs',
        rejection: reject('WG_ERR_JSON', 'not JSON'),
        raw,
      },
    ]);
    t.same(results, [
      { outcome: 'stored', readings: 2, bed: '7' },
      { outcome: 'stored', readings: 2, bed: '7' },
      { outcome: 'status' },
      { outcome: 'rejected', rejection: reject('WG_ERR_JSON', 'not JSON') },
    ]);
    t.same(db.prepare('SELECT seq, bed, readings FROM observations ORDER BY seq').all(), [
      {
        seq: 1,
        bed: '7',
        readings: JSON.stringify([
          ['spo2', 97, 0],
          ['pr', 72, 0, TS + 500],
        ]),
      },
      {
        seq: 2,
        bed: '7',
        readings: JSON.stringify([
          ['spo2', 97, 0],
          ['pr', 72, 0, TS + 500],
        ]),
      },
    ]);
    t.same(db.prepare('SELECT battery FROM devices WHERE device_id = ?').get('ox-1'), { battery: 40 });
    const dead = db.prepare('SELECT length(raw) AS kept, raw_size AS size FROM dead_letters').get();
    t.same(
      dead,
      { kept: DEAD_LETTER_RAW_LIMIT, size: raw.length },
      'a dead letter keeps its first bytes and the size received',
    );

    t.same(
      await commit(writer, [obs(1), obs(2, 9, 88)]),
      [
        { outcome: 'duplicate' },
        {
          outcome: 'rejected',
          rejection: reject(
            'WG_ERR_SEQ_CONFLICT',
            'seq 2 was already stored with different content; a device must not reuse sequence numbers',
            'seq',
          ),
        },
      ],
      'the digest crosses the thread intact: a retransmission is a duplicate, other content a conflict',
    );
  },
);

t.test('close() answers every group already sent before the thread ends', async (t) => {
  const { dir, db } = setUp(t);
  const writer = new WriterThread(dir);
  await writer.start();
  const answered: number[] = [];
  for (let g = 0; g < 5; g++) writer.commit([obs(10 + g)], (err) => (err ? t.fail(err.message) : answered.push(g)));
  await writer.close();
  t.same(answered, [0, 1, 2, 3, 4]);
  t.equal(db.prepare('SELECT count(*) FROM observations').pluck().get(), 5);
});

t.test('a group the store refuses fails alone; the thread goes on', async (t) => {
  const { dir, db } = setUp(t);
  const writer = new WriterThread(dir);
  await writer.start();
  t.teardown(() => writer.close());
  db.exec('ALTER TABLE dead_letters RENAME TO dead_letters_gone');
  const dead: IngestItem = {
    kind: 'dead',
    source: 'mqtt',
    receivedTs: TS,
    rejection: reject('WG_ERR_JSON', 'x'),
    raw: Buffer.alloc(1),
  };
  await t.rejects(commit(writer, [obs(1), dead]), /dead_letters/);
  t.equal(db.prepare('SELECT count(*) FROM observations').pluck().get(), 0, 'nothing of the failed group is stored');
  t.same(await commit(writer, [obs(1)]), [{ outcome: 'stored', readings: 2, bed: '7' }]);
});

t.test('a thread that dies fails the groups it had, is reported, and a new one starts only after a wait', async (t) => {
  const { dir } = setUp(t);
  const exits: string[] = [];
  const entry = new URL('../../helpers/exitingWriter.ts', import.meta.url);
  const writer = new WriterThread(dir, { entry, onExit: (err) => exits.push(err.message) });
  await writer.start();
  await t.rejects(commit(writer, [obs(1)]), /exited with code 3/);
  t.same(exits, ['the ingest writer thread exited with code 3']);
  await t.rejects(commit(writer, [obs(2)]), /exited with code 3/, 'refused at once');
  t.equal(exits.length, 1, 'no thread was started for it');
  await new Promise((r) => setTimeout(r, 250));
  await t.rejects(
    commit(writer, [obs(3)]),
    /exited with code 3/,
    'after the wait a new thread takes the group (and dies too)',
  );
  t.equal(exits.length, 2);
  await t.rejects(commit(writer, [obs(4)]), /exited with code 3/);
  t.equal(exits.length, 2, 'and again none is started at once');
});

t.test(
  'a disk that fails a sync is fatal: the group is refused, the gateway is told, and nothing after it is acknowledged',
  async (t) => {
    const { dir, db } = setUp(t);
    const fatal: string[] = [];
    const exits: string[] = [];
    const entry = new URL('../../helpers/failingSyncWriter.ts', import.meta.url);
    const writer = new WriterThread(dir, {
      entry,
      onFatal: (err) => fatal.push(err.message),
      onExit: (err) => exits.push(err.message),
    });
    await writer.start();
    await t.rejects(commit(writer, [obs(1)]), /the disk failed to sync the database: EIO/);
    t.same(fatal, ['the disk failed to sync the database: EIO: i/o error, fdatasync']);
    t.equal(
      db.prepare('SELECT count(*) FROM observations').pluck().get(),
      1,
      'the row was committed; only its durability is unknown',
    );
    await t.rejects(commit(writer, [obs(2)]), /the disk failed to sync/, 'refused at once: no new thread is started');
    t.equal(fatal.length, 1);
    await writer.close();
    t.same(exits, [], 'the thread ended as it chose to, not by a crash');
  },
);

t.test(
  'the checkpoint runs on the thread and starts the WAL over there: the next write of the gateway connection appends to it',
  async (t) => {
    const { dir, db } = setUp(t);
    const writer = new WriterThread(dir);
    await writer.start();
    t.teardown(() => writer.close());
    await commit(writer, [obs(1), obs(2)]);
    const wal = join(dir, `${DB_FILE}-wal`);
    const pageSize = db.pragma('page_size', { simple: true }) as number;
    t.ok(statSync(wal).size > 32 + 2 * (24 + pageSize), 'the WAL holds the commits');
    await writer.checkpoint();
    t.equal(
      statSync(wal).size,
      32 + 24 + pageSize,
      'emptied, and started over by the thread: its header and one frame',
    );
    const header = readFileSync(wal).subarray(0, 32);
    db.exec('CREATE TABLE later (x)');
    t.same(
      readFileSync(wal).subarray(0, 32),
      header,
      'the gateway connection appended: it did not start the WAL over (whose header SQLite syncs first)',
    );
    t.equal(db.prepare('SELECT count(*) FROM observations').pluck().get(), 2, 'the commits are all there');
  },
);
