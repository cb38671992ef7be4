// The disk side of store-and-forward with a 1 MiB quota: the high-water alarm
// is raised and clears; 'drop-oldest' frees room in the documented order
// (synced data, then device status, then readings, alarm events last), each
// drop counted, audited and alarmed; 'refuse-new' withholds the PUBACK at the
// quota and recovers once there is room; retention purges only synced rows
// older than the retention period.
import t, { type Test } from 'tap';
import { openDatabase, type Db } from '../../../edge/store/database.js';
import { StorageGuard, storageUse } from '../../../edge/store/storageGuard.js';
import { storageConfigSchema, type StorageConfig } from '../../../edge/store/config.js';
import type { TechnicalAlarms, TechnicalReport } from '../../../edge/sync/technicalAlarms.js';
import { connectAs, startTestGateway } from '../../helpers/gateway.js';
import { tempDir, waitFor } from '../../helpers/env.js';

t.setTimeout(120_000);
const MiB = 1024 * 1024;
const DAY = 86_400_000;
const NOW = Date.UTC(2026, 10, 27, 9, 0, 0);
/** Eight metrics of a monitor, as stored: about 200 bytes of JSON per observation. */
const READINGS = JSON.stringify(
  ['hr', 'spo2', 'pr', 'rr', 'temp', 'nibp_sys', 'nibp_dia', 'nibp_mean'].map((c, i) => [c, 60 + i, 0]),
);

class AlarmLog implements TechnicalAlarms {
  readonly current = new Map<string, TechnicalReport>();
  readonly history: Array<TechnicalReport | null> = [];
  set(key: string, report: TechnicalReport | null): void {
    this.history.push(report);
    if (report) this.current.set(key, report);
    else this.current.delete(key);
  }
}

function ward(t: Test, storage: Partial<StorageConfig>) {
  const db = openDatabase(tempDir(t));
  t.teardown(() => db.close());
  db.prepare("INSERT INTO devices (device_id, bed, source) VALUES ('mon-1', '7', 'mqtt')").run();
  const alarms = new AlarmLog();
  const config = storageConfigSchema.parse(storage);
  const guard = new StorageGuard(db, config, alarms, () => NOW);
  return { db, alarms, guard, config };
}

let seq = 0;
function addObservations(db: Db, count: number, receivedTs = NOW - 60_000): void {
  const insert = db.prepare(
    "INSERT INTO observations (device, seq, ts, received_ts, bed, digest, readings) VALUES (1, ?, ?, ?, '7', x'00', ?)",
  );
  db.transaction(() => {
    for (let i = 0; i < count; i++) insert.run(++seq, receivedTs, receivedTs, READINGS);
    db.prepare("UPDATE counters SET value = value + ? WHERE name IN ('readings', 'readings_unsynced')").run(count * 8);
  })();
}
function addStatuses(db: Db, count: number, receivedTs = NOW - 60_000): void {
  const insert = db.prepare(
    'INSERT INTO device_status (device, ts, received_ts, online, battery, sensor) VALUES (1, ?, ?, 1, 80, ?)',
  );
  db.transaction(() => {
    for (let i = 0; i < count; i++) insert.run(receivedTs, receivedTs, 'ok'.padEnd(200, '.'));
  })();
}
function addAlarmEvents(db: Db, count: number, ts = NOW - 60_000): void {
  const insert = db.prepare(
    "INSERT INTO alarm_events (alarm_id, phase, ts, bed, kind, rule, metric, priority, state, message, value, escalations) VALUES (?, 'raised', ?, '7', 'physiological', 'spo2_low', 'spo2', 'high', 'active', 'SpO2 low', 85, 0)",
  );
  db.transaction(() => {
    for (let i = 0; i < count; i++) insert.run(`a-${i}`, ts);
  })();
}
const setCursor = (db: Db, stream: string, through: number) =>
  db.prepare('UPDATE outbox_cursors SET synced_through = ? WHERE stream = ?').run(through, stream);
const count = (db: Db, sql: string, ...args: unknown[]) =>
  db
    .prepare(sql)
    .pluck()
    .get(...args) as number;
const ids = (db: Db, table: string) => db.prepare(`SELECT id FROM ${table} ORDER BY id`).pluck().all() as number[];
/** Fills with unsynced observations until the measure passes `percent` of the quota. */
function fillTo(db: Db, quota: number, percent: number): void {
  while (storageUse(db, quota).percent < percent) addObservations(db, 200);
}

t.test('high-water: raised above the mark, cleared once synced data is purged', async (t) => {
  const { db, alarms, guard } = ward(t, { quotaBytes: MiB, highWaterPercent: 50 });
  t.equal(guard.check().percent < 50, true, 'an empty database is below the mark');
  t.notOk(alarms.current.has('storage:high-water'));
  fillTo(db, MiB, 60);
  const use = guard.check();
  t.ok(use.percent >= 50 && use.percent < 100, `at ${use.percent.toFixed(0)} % of the quota`);
  t.equal(
    alarms.current.get('storage:high-water')?.priority,
    'medium',
    'buffer filling raised, medium: nothing lost yet',
  );
  t.same(use.dropped, {}, 'nothing dropped below the quota');
  // The cloud confirmed everything: retention at its period is not due yet, so the mark holds...
  setCursor(db, 'observations', count(db, 'SELECT max(id) FROM observations'));
  guard.purgeSynced();
  guard.check();
  t.ok(alarms.current.has('storage:high-water'), 'synced rows inside the retention period are kept');
  // ...until they age out.
  t.ok(guard.purgeSynced(NOW + 1).observations > 0, 'purged');
  db.pragma('wal_checkpoint(TRUNCATE)');
  guard.check();
  t.notOk(alarms.current.has('storage:high-water'), 'cleared below the mark');
});

t.test(
  'drop-oldest: synced first, then status, then readings, alarm events last; counted, audited, alarmed',
  async (t) => {
    const { db, alarms, guard } = ward(t, { quotaBytes: MiB, highWaterPercent: 60, onHardLimit: 'drop-oldest' });
    addObservations(db, 600); // synced below
    const syncedThrough = count(db, 'SELECT max(id) FROM observations');
    setCursor(db, 'observations', syncedThrough);
    addObservations(db, 100); // planned in a batch: being sent, must not be dropped
    const plannedThrough = count(db, 'SELECT max(id) FROM observations');
    db.prepare(
      `INSERT INTO sync_batches (id, state, alarms_after, alarms_through, obs_after, obs_through, status_after, status_through, items, readings, planned_at)
    VALUES ('b-planned', 'inflight', 0, 0, ?, ?, 0, 0, 800, 800, ?)`,
    ).run(syncedThrough, plannedThrough, NOW);
    addAlarmEvents(db, 300);
    addStatuses(db, 300);
    fillTo(db, MiB, 101);
    const readingsBefore = count(db, "SELECT value FROM counters WHERE name = 'readings_unsynced'");
    const obsBefore = ids(db, 'observations');
    const alarmEventsBefore = count(db, 'SELECT count(*) FROM alarm_events');

    const result = guard.check();
    t.ok(storageUse(db, MiB).percent < 60, `room made down to the mark (${result.percent.toFixed(0)} %)`);
    t.equal(
      count(db, 'SELECT count(*) FROM observations WHERE id <= ?', syncedThrough),
      0,
      'synced readings went first',
    );
    t.equal(count(db, 'SELECT count(*) FROM device_status'), 0, 'then every unsynced device status');
    t.equal(result.dropped['status reports'], 300, 'counted: status reports');
    t.equal(
      count(db, 'SELECT count(*) FROM observations WHERE id > ? AND id <= ?', syncedThrough, plannedThrough),
      100,
      'rows of a planned batch are kept',
    );
    const left = ids(db, 'observations').filter((id) => id > plannedThrough);
    const unsyncedBefore = obsBefore.filter((id) => id > plannedThrough);
    t.ok(
      left.length > 0 && left.length < unsyncedBefore.length,
      `then the oldest readings: ${unsyncedBefore.length - left.length} of ${unsyncedBefore.length} messages dropped`,
    );
    t.same(left, unsyncedBefore.slice(unsyncedBefore.length - left.length), 'the newest readings are the ones kept');
    t.equal(
      count(db, 'SELECT count(*) FROM alarm_events'),
      alarmEventsBefore,
      'alarm events are the last to go: all kept',
    );
    const droppedReadings = (unsyncedBefore.length - left.length) * 8;
    t.equal(result.dropped.readings, droppedReadings, 'counted: readings');
    t.equal(
      count(db, "SELECT value FROM counters WHERE name = 'readings_dropped'"),
      droppedReadings,
      'readings_dropped counter',
    );
    t.equal(
      count(db, "SELECT value FROM counters WHERE name = 'readings_unsynced'"),
      readingsBefore - droppedReadings,
      'unsynced counter fell by the dropped readings only',
    );
    const audit = db
      .prepare("SELECT target, detail FROM audit WHERE action = 'storage.drop-unsynced' ORDER BY id")
      .all() as Array<{ target: string; detail: string }>;
    t.equal(audit[0]?.target, 'device_status', 'audited in order: status first');
    const firstReadings = audit.findIndex((a) => a.target === 'observations');
    t.ok(
      firstReadings > 0 && audit.slice(firstReadings).every((a) => a.target === 'observations'),
      'then readings, after every status drop',
    );
    t.equal(
      audit
        .filter((a) => a.target === 'observations')
        .reduce((n, a) => n + (JSON.parse(a.detail) as { count: number }).count, 0),
      droppedReadings,
      'the audit trail accounts for every dropped reading',
    );
    const alarm = alarms.current.get('storage:high-water');
    t.equal(alarm?.priority, 'high', 'raised high: unsynced data was lost');
    t.match(alarm?.message, /300 status reports, \d+ readings not yet synced were dropped/);
  },
);

t.test('drop-oldest: alarm events go only when nothing else is left to drop', async (t) => {
  const { db, guard } = ward(t, { quotaBytes: MiB, highWaterPercent: 60, onHardLimit: 'drop-oldest' });
  addObservations(db, 50);
  while (storageUse(db, MiB).percent < 101) addAlarmEvents(db, 500);
  const result = guard.check();
  t.equal(count(db, 'SELECT count(*) FROM observations'), 0, 'every reading went before any alarm event');
  t.ok(result.dropped['alarm events'] > 0, `${result.dropped['alarm events']} alarm events dropped, the oldest`);
  t.ok(count(db, 'SELECT count(*) FROM alarm_events') > 0, 'not all of them: only down to the mark');
  t.equal(count(db, 'SELECT min(id) FROM alarm_events') - 1, result.dropped['alarm events'], 'the oldest ones');
  t.ok(
    count(db, "SELECT count(*) FROM audit WHERE action = 'storage.drop-unsynced' AND target = 'alarm_events'") > 0,
    'audited',
  );
});

t.test('retention: only synced rows older than the period', async (t) => {
  const { db, guard } = ward(t, { retentionDays: 7 });
  addObservations(db, 10, NOW - 8 * DAY); // ids 1-10 old
  addObservations(db, 10, NOW - 1 * DAY); // ids 11-20 recent
  addObservations(db, 10, NOW - 9 * DAY); // ids 21-30 old but not synced
  const first = count(db, 'SELECT min(id) FROM observations');
  setCursor(db, 'observations', first + 19);
  addStatuses(db, 5, NOW - 8 * DAY);
  addStatuses(db, 5, NOW - 8 * DAY);
  setCursor(db, 'device_status', count(db, 'SELECT min(id) FROM device_status') + 4);
  addAlarmEvents(db, 3, NOW - 10 * DAY);
  setCursor(db, 'alarm_events', count(db, 'SELECT max(id) FROM alarm_events'));
  const auditBefore = count(db, 'SELECT count(*) FROM audit');
  const purged = guard.purgeSynced();
  t.same(purged, { observations: 10, device_status: 5, alarm_events: 3 });
  t.same(
    ids(db, 'observations').map((id) => id - first),
    [...Array.from({ length: 10 }, (_, i) => 10 + i), ...Array.from({ length: 10 }, (_, i) => 20 + i)],
    'recent synced and old unsynced kept',
  );
  t.equal(count(db, 'SELECT count(*) FROM device_status'), 5, 'unsynced statuses kept');
  t.equal(count(db, 'SELECT count(*) FROM audit'), auditBefore, 'the audit trail is never purged');
});

t.test('refuse-new: no PUBACK at the quota, nothing stored; accepted again once there is room', async (t) => {
  const { gateway, url } = await startTestGateway(t, {
    extra: { storage: { quotaBytes: MiB, highWaterPercent: 50, onHardLimit: 'refuse-new' } },
  });
  const db = gateway.db!;
  const guard = gateway.sync!.guard;
  const engine = gateway.alarms!.engine;
  const client = await connectAs(t, url, 'pox-1');
  const publish = (s: number) =>
    client.publishAsync(
      'wardgate/devices/pox-1/obs',
      JSON.stringify({ seq: s, obs: [{ code: 'spo2', value: 95, unit: '%' }] }),
      { qos: 1 },
    );
  await publish(1);
  const device = count(db, "SELECT id FROM devices WHERE device_id = 'pox-1'");
  // Another device's backlog fills the disk.
  const insert = db.prepare(
    "INSERT INTO observations (device, seq, ts, received_ts, bed, digest, readings) VALUES (?, ?, ?, ?, '2', x'00', ?)",
  );
  for (let s = 10; storageUse(db, MiB).percent < 101; s += 500)
    db.transaction(() => {
      for (let i = 0; i < 500; i++) insert.run(device + 1000, s + i, Date.now(), Date.now(), READINGS);
    })();
  guard.check();
  t.notOk(guard.admitsReadings(), 'at the quota new readings are refused');
  await waitFor(
    () => engine.openAlarms().find((a) => a.key === 'storage:high-water' && a.priority === 'high'),
    5000,
    'buffer alarm, high',
  );
  const acked = await Promise.race([
    publish(2).then(
      () => true,
      () => false,
    ),
    new Promise<boolean>((r) => setTimeout(() => r(false), 1500)),
  ]);
  t.notOk(acked, 'no PUBACK: the device keeps the reading');
  t.equal(
    count(db, "SELECT count(*) FROM observations o JOIN devices d ON d.id = o.device WHERE d.device_id = 'pox-1'"),
    1,
    'nothing committed',
  );
  // The backlog is confirmed by the cloud and aged out: room again.
  setCursor(db, 'observations', count(db, 'SELECT max(id) FROM observations'));
  guard.purgeSynced(Date.now() + 1);
  db.pragma('wal_checkpoint(TRUNCATE)');
  guard.check();
  t.ok(guard.admitsReadings(), 'admits again below the quota');
  const again = await connectAs(t, url, 'pox-1');
  await again.publishAsync(
    'wardgate/devices/pox-1/obs',
    JSON.stringify({ seq: 3, obs: [{ code: 'spo2', value: 96, unit: '%' }] }),
    { qos: 1 },
  );
  t.pass('PUBACK once there is room');
  t.ok(
    count(
      db,
      "SELECT count(*) FROM observations o JOIN devices d ON d.id = o.device WHERE d.device_id = 'pox-1' AND seq = 3",
    ) === 1,
    'stored',
  );
  await waitFor(
    () => (engine.openAlarms().some((a) => a.key === 'storage:high-water' && a.state === 'active') ? undefined : true),
    5000,
    'alarm cleared',
  );
});

t.test('retention also purges what the cloud confirmed above a quarantined batch', async (t) => {
  const { db, guard } = ward(t, { retentionDays: 7 });
  addObservations(db, 30, NOW - 8 * DAY);
  const first = count(db, 'SELECT min(id) FROM observations');
  // ids first..first+9 synced (cursor); the batch after them is quarantined; the one after that acknowledged.
  setCursor(db, 'observations', first + 9);
  const batch = db.prepare(
    `INSERT INTO sync_batches (id, state, alarms_after, alarms_through, obs_after, obs_through, status_after, status_through, audit_after, audit_through, items, readings, planned_at, attempts)
     VALUES (?, ?, 0, 0, ?, ?, 0, 0, 0, 0, 10, 80, ?, 1)`,
  );
  batch.run('bquarantined', 'quarantined', first + 9, first + 19, NOW);
  batch.run('backed', 'acked', first + 19, first + 29, NOW);
  t.same(guard.purgeSynced(), { observations: 20, device_status: 0, alarm_events: 0 });
  t.same(
    ids(db, 'observations').map((id) => id - first),
    Array.from({ length: 10 }, (_, i) => 10 + i),
    'only the quarantined batch is kept',
  );
});
