import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import t, { type Test } from 'tap';
import { AlarmStore } from '../../../edge/store/alarmStore.js';
import { openDatabase } from '../../../edge/store/database.js';
import { IngestStore } from '../../../edge/store/ingestStore.js';
import { tempDir } from '../../helpers/env.js';
import { alarmStoreOnDisk, ManualClock } from '../../helpers/alarms.js';
import { AlarmEngine } from '../../../edge/alarms/engine.js';
import { alarmConfigSchema } from '../../../edge/alarms/config.js';
import type { AlarmEvent } from '../../../edge/alarms/types.js';
import { EventBus } from '../../../edge/bus.js';
import { createLogger } from '../../../edge/log.js';
import { metric } from '../../../shared/codes.js';

t.test('after a restart only declared devices are watched for silence', async (t) => {
  const db = openDatabase(tempDir(t));
  t.teardown(() => db.close());
  const ingest = new IngestStore(db);
  ingest.declareDevices([
    { id: 'pox-1', bed: '1' },
    { id: 'old-pox', bed: '2' },
  ]);
  const obs = (deviceId: string, seq: number) => ({
    kind: 'obs' as const,
    source: 'mqtt' as const,
    receivedTs: Date.now(),
    deviceId,
    seq,
    ts: Date.now(),
    digest: Buffer.alloc(8, seq),
    readings: [],
  });
  ingest.commit([obs('pox-1', 1), obs('old-pox', 1), obs('hl7-equipment', 1)]);
  ingest.declareDevices([{ id: 'pox-1', bed: '1' }]); // old-pox decommissioned
  t.same([...new AlarmStore(db).lastSeen().keys()], ['pox-1']);
});

t.test('page sizes are clamped: LIMIT -1 would read everything on the event loop', async (t) => {
  const { clampLimit } = await import('../../../edge/store/alarmStore.js');
  t.same(
    [clampLimit(-1), clampLimit(0), clampLimit(50.7), clampLimit(5000), clampLimit(Number.NaN)],
    [1, 1, 50, 1000, 200],
  );
});

/** An alarm engine whose first sink is a store on disk, as the alarm service wires it; `sbp` raises (75) or clears (120) a bed's alarm. */
function engineWithStore(t: Test) {
  const { db, store } = alarmStoreOnDisk(t);
  const clock = new ManualClock();
  const published: AlarmEvent[] = [];
  const engine = new AlarmEngine({
    config: alarmConfigSchema.parse({}),
    devices: [],
    bus: new EventBus(createLogger('silent')),
    patients: { atBed: () => undefined, get: () => undefined },
    sinks: [
      {
        name: 'store',
        onEvent: (event, alarm) => store.record([[event, alarm]]),
        onEvents: (events) => store.record(events),
      },
      { name: 'mqtt', onEvent: (event) => published.push({ ...event }) },
    ],
    log: createLogger('silent'),
    clock,
  });
  let seq = 0;
  const sbp = (bed: string, value: number) => {
    clock.t += 1000;
    const readings = [{ code: 'nibp_sys', value, unit: metric('nibp_sys').unit, ts: clock.t, flags: 0 }];
    engine.onAccepted([
      {
        kind: 'obs',
        source: 'mqtt',
        receivedTs: clock.t,
        deviceId: `mon-${bed}`,
        seq: ++seq,
        ts: clock.t,
        digest: Buffer.alloc(8),
        readings,
        bed,
      },
    ]);
  };
  return { db, store, published, sbp };
}

t.test(
  'events raised while the disk is full are stored once there is room again, in order, numbered only then',
  async (t) => {
    const { db, store, published, sbp } = engineWithStore(t);
    // The disk fills up: the database may grow no more, and alarms come and go until one finds no room.
    db.pragma(`max_page_count = ${db.pragma('page_count', { simple: true }) as number}`);
    for (let bed = 1; store.unrecorded === 0 && bed < 1000; bed++) {
      sbp(String(bed), 75);
      sbp(String(bed), 120);
    }
    t.ok(store.unrecorded > 0, 'a commit failed: the disk is full');
    const firstLost = published.length - store.unrecorded;
    sbp('full-1', 70);
    sbp('full-2', 70);
    t.equal(store.unrecorded, published.length - firstLost, 'each event since is kept for another attempt');
    t.same(
      published.slice(firstLost).map((e) => e.seq),
      published.slice(firstLost).map(() => undefined),
      'published without a seq: none was handed out',
    );

    db.pragma('max_page_count = 1000000');
    sbp('full-1', 120);
    t.equal(store.unrecorded, 0, 'space again: the next record stores them all');
    const stored = store.events({ limit: 1000 }).reverse();
    t.same(
      stored.map((e) => [e.alarmId, e.phase]),
      published.map((e) => [e.alarmId, e.phase]),
      'every event stored, in the order raised',
    );
    t.ok(
      stored.every((e, i) => i === 0 || e.seq! > stored[i - 1].seq!),
      'numbered in that order',
    );
    const alarms = db.prepare("SELECT id, state FROM alarms WHERE bed LIKE 'full-%' ORDER BY bed").all();
    t.same(
      alarms.map((a) => (a as { state: string }).state),
      ['cleared', 'active'],
      'each alarm at its latest state',
    );
  },
);

t.test('an event the database refuses for itself is not kept: it would block every later one', async (t) => {
  const { db, store, published, sbp } = engineWithStore(t);
  db.exec(
    "CREATE TRIGGER refuse BEFORE INSERT ON alarm_events WHEN NEW.bed = 'bad' BEGIN SELECT RAISE(FAIL, 'refused'); END",
  );
  sbp('bad', 75);
  t.equal(store.unrecorded, 0, 'a constraint, not the disk: not kept');
  db.exec('DROP TRIGGER refuse');
  sbp('1', 75);
  t.same(
    store.events().map((e) => e.bed),
    ['1'],
    'the next is stored',
  );
  t.equal(published.length, 2, 'both were published');
});

t.test(
  'an alarm never waits for the write lock: published at once, recorded as soon as the lock is free',
  async (t) => {
    const { db, store, published, sbp } = engineWithStore(t);
    // The ingest writer thread's connection, holding the write lock as through a commit that starts the WAL
    // over and syncs its header (500 ms on a slow card); the store's busy timeout is 5 s.
    const writer = new Database(db.name);
    t.teardown(() => writer.close());
    writer.exec('BEGIN IMMEDIATE');
    const started = performance.now();
    sbp('1', 75);
    sbp('2', 75);
    sbp('1', 120);
    const took = performance.now() - started;
    t.ok(took < 200, `three evaluations with the lock held took ${took.toFixed(1)} ms`);
    t.same(
      published.map((e) => [e.bed, e.phase]),
      [
        ['1', 'raised'],
        ['2', 'raised'],
        ['1', 'cleared'],
      ],
      'every event published at once',
    );
    t.equal(store.unrecorded, 3, 'kept, in order, while the lock is held');

    writer.exec('COMMIT');
    for (let i = 0; i < 100 && store.unrecorded > 0; i++) await new Promise((r) => setTimeout(r, 10));
    t.equal(store.unrecorded, 0, 'recorded once the lock is free, without waiting for another alarm');
    const stored = store.events().reverse();
    t.same(
      stored.map((e) => [e.bed, e.phase]),
      published.map((e) => [e.bed, e.phase]),
      'in the order raised',
    );
    t.ok(
      stored.every((e, i) => i === 0 || e.seq! > stored[i - 1].seq!),
      'numbered in that order',
    );
  },
);

t.test('closing the store records what a held lock deferred', async (t) => {
  const { db, store, sbp } = engineWithStore(t);
  const writer = new Database(db.name);
  t.teardown(() => writer.close());
  writer.exec('BEGIN IMMEDIATE');
  sbp('1', 75);
  t.equal(store.unrecorded, 1, 'deferred');
  writer.exec('COMMIT');
  store.close();
  t.same(
    store.events().map((e) => [e.bed, e.phase]),
    [['1', 'raised']],
    'recorded at the close, before the retry was due',
  );
});

t.test('an open limit alarm restored after a restart keeps its limit', async (t) => {
  const { db, published, sbp } = engineWithStore(t);
  sbp('1', 75);
  sbp('2', 75);
  sbp('2', 120);
  const limit = published[0].limit;
  t.match(limit, { side: 'low', value: Number }, 'the engine gives a limit');

  // The next daemon's connection to the same file.
  const next = openDatabase(dirname(db.name));
  const store = new AlarmStore(next);
  t.teardown(() => {
    store.close();
    next.close();
  });
  const restored = store.open();
  t.same(
    restored.map((a) => [a.bed, a.state, a.limit]),
    [['1', 'active', limit]],
    'the open alarm, with its limit',
  );
  const engine = new AlarmEngine({
    config: alarmConfigSchema.parse({}),
    devices: [],
    bus: new EventBus(createLogger('silent')),
    patients: { atBed: () => undefined, get: () => undefined },
    sinks: [],
    log: createLogger('silent'),
    restored,
  });
  t.same(
    engine.openAlarms().map((a) => a.limit),
    [limit],
    "in the engine's open alarms (the API's and the dashboard's)",
  );
  t.same(
    store.events().map((e) => [e.bed, e.phase, e.limit]),
    published.map((e) => [e.bed, e.phase, e.limit]).reverse(),
    'the history has every event with its limit',
  );
});
