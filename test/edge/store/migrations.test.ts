// A database an older wardgate wrote is upgraded in place at open, and what it
// recorded reads back as before. Each case makes its file at the version
// before a migration, with rows of that version's shape.
import { join } from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { Hl7Message } from '@medplum/core';
import { buildAlarmReport } from '../../../edge/integration/alarmReport.js';
import { ALARM_REPORT_CURSOR, AlarmReportOutbox } from '../../../edge/store/alarmReportOutbox.js';
import { AlarmStore } from '../../../edge/store/alarmStore.js';
import { DB_FILE, openDatabase, schemaVersion } from '../../../edge/store/database.js';
import { migrations } from '../../../edge/store/migrations.js';
import { tempDir } from '../../helpers/env.js';
import { alarmHarness, ManualClock, nurseCallHeader } from '../../helpers/alarms.js';
import { Admissions } from '../../../edge/patients/admissions.js';
import { AuditLog } from '../../../edge/store/auditLog.js';
import { EpisodeStore } from '../../../edge/store/episodeStore.js';
import { BatchBuilder } from '../../../edge/sync/batchBuilder.js';
import { Pseudonyms } from '../../../edge/sync/pseudonyms.js';

/** A database file as a wardgate with the first `version` migrations left it. */
function databaseAt(dir: string, version: number): Database.Database {
  const db = new Database(join(dir, DB_FILE));
  db.pragma('journal_mode = WAL');
  for (const [i, sql] of migrations.slice(0, version).entries()) {
    db.exec(sql);
    db.pragma(`user_version = ${i + 1}`);
  }
  return db;
}

const columns = (db: Database.Database, table: string) =>
  (db.prepare(`SELECT name FROM pragma_table_info(?)`).all(table) as Array<{ name: string }>).map((c) => c.name);

t.test('migration 10: the limit columns, added to a database recorded at version 9', async (t) => {
  const dir = tempDir(t);
  const ts = Date.UTC(2026, 11, 2, 9, 30);
  const old = databaseAt(dir, 9);
  // An SpO2 alarm open when the older wardgate stopped, its raised event not yet reported.
  old
    .prepare(
      `INSERT INTO alarms (id, key, bed, device_id, kind, rule, metric, priority, latching, state, message, value, raised_at, escalations)
       VALUES ('a-1', '1:limit:spo2', '1', 'pox-1', 'physiological', 'limit', 'spo2', 'high', 1, 'active', 'SpO2 low: 85 % (limit <= 88)', 85, ?, 0)`,
    )
    .run(ts);
  old
    .prepare(
      `INSERT INTO alarm_events (alarm_id, phase, ts, bed, device_id, kind, rule, metric, priority, state, message, value, escalations)
       VALUES ('a-1', 'raised', ?, '1', 'pox-1', 'physiological', 'limit', 'spo2', 'high', 'active', 'SpO2 low: 85 % (limit <= 88)', 85, 0)`,
    )
    .run(ts);
  old.prepare('INSERT INTO outbox_cursors (stream, synced_through) VALUES (?, 0)').run(ALARM_REPORT_CURSOR);
  old.close();

  const db = openDatabase(dir);
  const store = new AlarmStore(db);
  t.teardown(() => {
    store.close();
    db.close();
  });
  t.equal(schemaVersion(db), migrations.length, 'upgraded to the latest version');
  for (const table of ['alarms', 'alarm_events'])
    t.ok(
      ['limit_side', 'limit_value'].every((c) => columns(db, table).includes(c)),
      `${table}: the limit columns`,
    );

  const [restored] = store.open();
  t.match(restored, { id: 'a-1', state: 'active', message: 'SpO2 low: 85 % (limit <= 88)', value: 85 });
  t.notOk('limit' in restored, 'an alarm recorded without its limit is restored without one');
  const [{ event, key, raisedAt }] = new AlarmReportOutbox(db).owed(10);
  t.match(event, { alarmId: 'a-1', phase: 'raised', rule: 'limit', value: 85 });
  t.notOk('limit' in event, 'an event recorded without its limit reads back without one');
  t.same(store.events(), [event], 'the history reads it the same');

  const report = Hl7Message.parse(
    buildAlarmReport({
      event,
      key,
      raisedAt,
      controlId: `WGA${event.seq}`,
      now: ts,
      header: nurseCallHeader,
      location: { pointOfCare: '3B', room: '', bed: '1', facility: 'HOSP' },
      patient: undefined,
      assigner: 'gw-3b',
    }),
  );
  const [row1, row2] = report.getAllSegments('OBX');
  t.equal(row1.getField(3).toString(), '196672^MDC_EVT_LO_LT_LIM^MDC', 'the side from the text');
  t.equal(row1.getComponent(8, 1), 'L');
  t.equal(row2.getField(7).toString(), '', 'no OBX-7: the limit was not recorded');

  // The same alarm's next event, recorded now, carries its limit; the old row keeps none.
  store.record([
    [
      { ...event, seq: undefined, phase: 'cleared', state: 'cleared', limit: { side: 'low', value: 88 } },
      { ...restored, state: 'cleared', clearedAt: ts + 1000, limit: { side: 'low', value: 88 } },
    ],
  ]);
  t.same(
    store.events().map((e) => [e.phase, e.limit]),
    [
      ['cleared', { side: 'low', value: 88 }],
      ['raised', undefined],
    ],
  );
  t.same(
    db.prepare("SELECT limit_side, limit_value FROM alarms WHERE id = 'a-1'").get(),
    { limit_side: 'low', limit_value: 88 },
    "the alarm's row has it now",
  );
});

t.test("migration 11: an alarm recorded at version 10 is its bed's patient's when it was raised", async (t) => {
  const dir = tempDir(t);
  const raised = Date.UTC(2026, 11, 2, 9, 30);
  const old = databaseAt(dir, 10);
  const patient = old.prepare(
    "INSERT INTO patients (identifier, authority, first_seen, last_seen) VALUES (?, 'HOSP', 0, 0)",
  );
  patient.run('MRN-A');
  patient.run('MRN-B');
  // A in bed 1 until 10:00, then B; an SpO2 alarm raised at 9:30 under A, cleared at 10:00 (the discharge).
  const admit = old.prepare(
    "INSERT INTO admissions (patient, bed, admitted_at, admitted_by, discharged_at) VALUES (?, '1', ?, 'nurse', ?)",
  );
  admit.run(1, raised - 3_600_000, raised + 1_800_000);
  admit.run(2, raised + 1_800_000, null);
  const alarm = old.prepare(
    `INSERT INTO alarms (id, key, bed, device_id, kind, rule, metric, priority, latching, state, message, value, raised_at, escalations)
     VALUES (?, ?, '1', 'pox-1', ?, ?, NULL, 'medium', 0, 'cleared', 'x', NULL, ?, 0)`,
  );
  alarm.run('a-1', '1:limit:spo2', 'physiological', 'limit', raised);
  alarm.run('a-2', 'device:pox-1:sensor', 'technical', 'sensor', raised);
  const event = old.prepare(
    `INSERT INTO alarm_events (alarm_id, phase, ts, bed, device_id, kind, rule, metric, priority, state, message, value, escalations)
     VALUES (?, ?, ?, '1', 'pox-1', ?, ?, NULL, 'medium', 'active', 'x', NULL, 0)`,
  );
  event.run('a-1', 'raised', raised, 'physiological', 'limit');
  event.run('a-1', 'cleared', raised + 1_800_000, 'physiological', 'limit');
  event.run('a-2', 'cleared', raised + 1_800_000, 'technical', 'sensor');
  old.prepare('INSERT INTO outbox_cursors (stream, synced_through) VALUES (?, 0)').run(ALARM_REPORT_CURSOR);
  old.close();

  const db = openDatabase(dir);
  t.teardown(() => db.close());
  t.same(
    db.prepare('SELECT id, admission, admission_recorded AS recorded FROM alarms ORDER BY id').all(),
    [
      { id: 'a-1', admission: 1, recorded: 1 },
      { id: 'a-2', admission: null, recorded: 0 },
    ],
    'its events not yet reported: the admission in its bed when it was raised; a technical alarm has none',
  );
  t.same(
    new AlarmReportOutbox(db).owed(10).map((o) => [o.event.alarmId, o.event.phase, o.patient?.identifier]),
    [
      ['a-1', 'raised', 'MRN-A'],
      ['a-1', 'cleared', 'MRN-A'],
      ['a-2', 'cleared', 'MRN-B'],
    ],
    "the end of A's alarm is A's; the device's is under whoever is in its bed at the event",
  );
});

t.test(
  "migration 11: an admission transferred into a bed after an alarm there was raised is not that alarm's",
  async (t) => {
    const dir = tempDir(t);
    const T = Date.UTC(2026, 11, 2, 8, 0);
    const old = databaseAt(dir, 10);
    const patient = old.prepare(
      "INSERT INTO patients (identifier, authority, first_seen, last_seen) VALUES (?, 'HOSP', 0, 0)",
    );
    patient.run('MRN-A');
    patient.run('MRN-C');
    // A admitted to bed 1 at T+100 and moved to bed 2 at T+400 (A02 moves the row: it now reads bed 2 since T+100).
    // C in bed 2 from T+50 to T+300; C's pulse alarm raised there at T+200, still latched at the upgrade.
    const admit = old.prepare(
      "INSERT INTO admissions (id, patient, bed, admitted_at, admitted_by, discharged_at) VALUES (?, ?, '2', ?, 'adt', ?)",
    );
    admit.run(1, 1, T + 100, null);
    admit.run(2, 2, T + 50, T + 300);
    old
      .prepare("INSERT INTO audit (ts, actor, action, target, detail) VALUES (?, 'adt', 'transfer', 'bed:2', ?)")
      .run(T + 400, JSON.stringify({ source: 'adt', event: 'A02', admission: 1, from: '1' }));
    const alarm = old.prepare(
      `INSERT INTO alarms (id, key, bed, device_id, kind, rule, metric, priority, latching, state, message, value, raised_at, escalations)
     VALUES (?, '2:limit:pulse', '2', 'mon', 'physiological', 'limit', 'pulse', 'high', 1, 'latched', 'Pulse high', 150, ?, 0)`,
    );
    alarm.run('c-1', T + 200);
    // And one raised in bed 2 after A arrived there: A's.
    alarm.run('a-1', T + 500);
    old.close();

    const db = openDatabase(dir);
    t.teardown(() => db.close());
    t.same(
      db.prepare('SELECT id, admission FROM alarms ORDER BY raised_at').all(),
      [
        { id: 'c-1', admission: 2 },
        { id: 'a-1', admission: 1 },
      ],
      "C's alarm stays C's, never the patient moved into the bed after it",
    );
  },
);

t.test(
  'migration 11 rewrites only the alarms still to be reported or restored, not years of closed ones',
  async (t) => {
    const dir = tempDir(t);
    const T0 = Date.UTC(2025, 0, 1);
    const old = databaseAt(dir, 10);
    const patient = old.prepare(
      "INSERT INTO patients (identifier, authority, first_seen, last_seen) VALUES (?, 'HOSP', 0, 0)",
    );
    patient.run('MRN-A');
    patient.run('MRN-B');
    patient.run('MRN-C');
    const OLD = 50_000;
    // A in bed 1 for the whole history, B in bed 2 since after its open alarm was raised.
    const admit = old.prepare(
      "INSERT INTO admissions (patient, bed, admitted_at, admitted_by, discharged_at) VALUES (?, ?, ?, 'nurse', ?)",
    );
    admit.run(1, '1', T0 - 1000, null);
    admit.run(2, '2', T0 + OLD * 60_000, null);
    const alarm = old.prepare(
      `INSERT INTO alarms (id, key, bed, device_id, kind, rule, metric, priority, latching, state, message, value, raised_at, escalations)
     VALUES (?, ?, ?, 'mon', 'physiological', 'limit', 'pulse', 'high', 1, ?, 'Pulse high: 150 /min', 150, ?, 0)`,
    );
    const event = old.prepare(
      `INSERT INTO alarm_events (alarm_id, phase, ts, bed, device_id, kind, rule, metric, priority, state, message, value, escalations)
     VALUES (?, ?, ?, ?, 'mon', 'physiological', 'limit', 'pulse', 'high', ?, 'Pulse high: 150 /min', 150, 0)`,
    );
    old.transaction(() => {
      // Years of closed alarms in bed 1, a minute apart, every event reported.
      for (let i = 1; i <= OLD; i++) {
        alarm.run(`old-${i}`, '1:limit:pulse', '1', 'cleared', T0 + i * 60_000);
        event.run(`old-${i}`, 'cleared', T0 + i * 60_000 + 1000, '1', 'cleared');
      }
      // One still open in bed 2, raised before its patient was admitted: no admission then.
      alarm.run('open-2', '2:limit:pulse', '2', 'active', T0 + 1000);
    })();
    // The sync has everything; the alarm manager is 10 events behind.
    old.prepare("UPDATE outbox_cursors SET synced_through = ? WHERE stream = 'alarm_events'").run(OLD);
    old.prepare('INSERT INTO outbox_cursors (stream, synced_through) VALUES (?, ?)').run(ALARM_REPORT_CURSOR, OLD - 10);
    old.close();

    const started = performance.now();
    const db = openDatabase(dir);
    const took = performance.now() - started;
    t.teardown(() => db.close());
    t.equal(schemaVersion(db), migrations.length);
    t.same(
      db.prepare('SELECT id FROM alarms WHERE admission_recorded = 1 ORDER BY raised_at').pluck().all(),
      ['open-2', ...Array.from({ length: 10 }, (_, i) => `old-${OLD - 9 + i}`)],
      'the open alarm and those the alarm manager is still owed, nothing else',
    );
    t.equal(
      db.prepare('SELECT count(*) FROM alarms WHERE admission IS NOT NULL').pluck().get(),
      10,
      "the open one found no admission in its bed when it was raised; the owed ones found A's",
    );
    t.ok(took < 5000, `migrated in ${Math.round(took)} ms`);

    // Old rows read again (the cursors moved back): the patient in the bed when the alarm was raised, as before.
    db.prepare('UPDATE outbox_cursors SET synced_through = 0').run();
    const owed = new AlarmReportOutbox(db).owed(2);
    t.same(
      owed.map((o) => [o.event.alarmId, o.patient?.identifier]),
      [
        ['old-1', 'MRN-A'],
        ['old-2', 'MRN-A'],
      ],
    );
    const secret = 'ward-secret-for-migration-test-0123456789';
    const pseudonyms = new Pseudonyms(db, secret);
    const none = { after: 0, through: 0 };
    const { batch } = new BatchBuilder(db, pseudonyms, { gateway: 'gw-t', ward: '3B' }).build(
      { alarms: { after: 0, through: 2 }, obs: none, status: none, audit: none },
      T0,
    );
    t.same(
      batch.alarms.map((a) => a.patient),
      [pseudonyms.ofPatient(1), pseudonyms.ofPatient(1)],
      'and the same in the sync',
    );

    // The open alarm found no admission: raised before B's registration in a bed no patient ever left, it is about
    // B's values and goes on at the start (docs/ALARMS.md), still of no admission: never given to B.
    const store = new AlarmStore(db);
    t.teardown(() => store.close());
    const clock = new ManualClock(T0 + OLD * 60_000 + 5000);
    const h = alarmHarness(
      { limits: { pulse: { high: 130, priority: 'high', delayMs: 0 } } },
      [{ id: 'mon', bed: '2' }],
      [{ name: 'store', onEvent: (e, a) => store.record([[e, a]]) }],
      { patients: new Admissions(db, new AuditLog(db), () => clock.t), restored: store.open(), clock },
    );
    await h.engine.start();
    t.teardown(() => h.engine.stop());
    t.same(h.phases(), [], 'no event at the start');
    t.match(h.open(), [{ id: 'open-2', admission: null, state: 'active' }]);
    t.notOk(h.open()[0].left, 'it did not leave');
    t.match(store.open(), [{ id: 'open-2', admission: null }], 'stored so');
    t.notOk(store.open()[0].left);
  },
);

t.test('migration 12: where new episodes are kept, empty on a database recorded at version 11', async (t) => {
  const dir = tempDir(t);
  const T0 = Date.UTC(2026, 11, 2, 8, 0);
  const old = databaseAt(dir, 11);
  old
    .prepare("INSERT INTO patients (identifier, authority, first_seen, last_seen) VALUES ('MRN-A', 'HOSP', 0, 0)")
    .run();
  old
    .prepare("INSERT INTO patients (identifier, authority, first_seen, last_seen) VALUES ('MRN-B', 'HOSP', 0, 0)")
    .run();
  // A left bed 1; a new episode began there, its SpO2 alarm was raised, then B was admitted and kept it.
  old
    .prepare(
      "INSERT INTO admissions (patient, bed, admitted_at, admitted_by, discharged_at) VALUES (1, '1', ?, 'nurse', ?)",
    )
    .run(T0, T0 + 60_000);
  old
    .prepare("INSERT INTO admissions (patient, bed, admitted_at, admitted_by) VALUES (2, '1', ?, 'nurse')")
    .run(T0 + 600_000);
  old
    .prepare(
      `INSERT INTO alarms (id, key, bed, device_id, kind, rule, metric, priority, latching, state, message, value, raised_at,
         escalations, admission, admission_recorded)
       VALUES ('a-1', '1:limit:spo2', '1', 'mon', 'physiological', 'limit', 'spo2', 'medium', 0, 'active', 'SpO2 low: 85 %', 85, ?,
         0, NULL, 1)`,
    )
    .run(T0 + 300_000);
  old.close();

  const db = openDatabase(dir);
  t.equal(schemaVersion(db), migrations.length, 'upgraded to the latest version');
  t.same(columns(db, 'bed_episodes'), ['bed', 'began_at']);
  const store = new AlarmStore(db);
  const episodes = new EpisodeStore(db);
  t.teardown(() => {
    episodes.close();
    store.close();
    db.close();
  });
  t.same([...episodes.last()], [], 'no episode before the upgrade is known');
  // The start cannot tell the alarm was kept at B's admission: it leaves, as before the upgrade.
  const clock = new ManualClock(T0 + 900_000);
  const h = alarmHarness(
    { limits: { spo2: { low: 88, priority: 'medium', delayMs: 0 } } },
    [{ id: 'mon', bed: '1' }],
    [{ name: 'store', onEvent: (e, a) => store.record([[e, a]]) }],
    { patients: new Admissions(db, new AuditLog(db), () => clock.t), restored: store.open(), clock, episodes },
  );
  await h.engine.start();
  t.teardown(() => h.engine.stop());
  t.match(
    h.events,
    [{ alarmId: 'a-1', phase: 'cleared', message: /; the patient left the bed$/ }],
    'it leaves at the start',
  );
  // From now on the engine keeps the bed's episodes there.
  episodes.began('1', T0 + 200_000);
  episodes.close();
  t.same(db.prepare('SELECT bed, began_at FROM bed_episodes').all(), [{ bed: '1', began_at: T0 + 200_000 }]);
});

t.test('a limit side other than low or high is refused', async (t) => {
  const db = openDatabase(tempDir(t));
  t.teardown(() => db.close());
  t.throws(
    () =>
      db
        .prepare(
          `INSERT INTO alarm_events (alarm_id, phase, ts, kind, rule, priority, state, message, escalations, limit_side, limit_value)
           VALUES ('a-1', 'raised', 0, 'physiological', 'limit', 'high', 'active', 'x', 0, 'below', 88)`,
        )
        .run(),
    { code: 'SQLITE_CONSTRAINT_CHECK' },
  );
});
