// Who did it leaves the ward by name only when the name is a configured user
// or device (or the gateway's own): a failed login records whatever was typed
// as the user name, often a password or an MRN, and that stays on the ward.
import t from 'tap';
import { gunzipSync } from 'node:zlib';
import { openDatabase } from '../../../edge/store/database.js';
import { Outbox } from '../../../edge/store/outbox.js';
import { BatchBuilder } from '../../../edge/sync/batchBuilder.js';
import { Pseudonyms } from '../../../edge/sync/pseudonyms.js';
import { encodeBatch } from '../../../shared/sync/codec.js';
import { validateBatch } from '../../../shared/sync/validate.js';
import { WITHHELD } from '../../../shared/sync/wardText.js';
import { isRejection } from '../../../shared/timestamp.js';
import { tempDir } from '../../helpers/env.js';

const WARD_SECRET = 'ward-secret-for-audit-actor-test-0123456789';
const NOW = Date.now();

t.test('an actor that is not a configured name travels as withheld', async (t) => {
  const db = openDatabase(tempDir(t));
  t.teardown(() => db.close());
  const insertAlarm = db.prepare(
    "INSERT INTO alarm_events (alarm_id, phase, ts, bed, kind, rule, metric, priority, state, message, value, escalations, by) VALUES (?, ?, ?, '12', 'physiological', 'spo2_low', 'spo2', 'high', 'active', 'SpO2 low', 85, 0, ?)",
  );
  insertAlarm.run('a-1', 'acknowledged', NOW - 950, 'nurse-ann');
  insertAlarm.run('a-2', 'acknowledged', NOW - 940, 'S3cretPass');
  const audit = db.prepare('INSERT INTO audit (ts, actor, action, target, detail) VALUES (?, ?, ?, ?, ?)');
  const rows: Array<[string, string]> = [
    ['hunter2', 'login-failed'], // a password typed into the name field
    ['MRN1234567', 'login-failed'], // a patient's number
    ['nurse-ann', 'login'],
    ['mon-1', 'acknowledge'],
    ['wardgate', 'storage.drop-unsynced'],
    ['cloud', 'config.pull'],
    ['local-admin', 'admit'],
    ['anonymous', 'acknowledge'],
    ['adt', 'admit'],
  ];
  rows.forEach(([actor, action], i) =>
    audit.run(NOW - 900 + i, actor, action, null, JSON.stringify({ via: 'dashboard' })),
  );

  const builder = new BatchBuilder(db, new Pseudonyms(db, WARD_SECRET), { gateway: 'gw-t', ward: '3B' }, [
    'nurse-ann',
    'mon-1',
  ]);
  const plan = builder.plan(new Outbox(db).plannedThrough(), 100)!;
  const { batch } = builder.build(plan.ranges, NOW);
  t.same(
    batch.audit?.map((e) => e.actor),
    [WITHHELD, WITHHELD, 'nurse-ann', 'mon-1', 'wardgate', 'cloud', 'local-admin', 'anonymous', 'adt'],
  );
  t.same(
    batch.alarms.map((a) => a.by),
    ['nurse-ann', WITHHELD],
    "an acknowledger's name travels only when configured",
  );
  const body = gunzipSync(encodeBatch(batch)).toString('utf8');
  for (const clear of ['hunter2', 'MRN1234567', 'S3cretPass']) t.notMatch(body, clear, `${clear} is not in the batch`);
  t.notOk(
    isRejection(validateBatch(JSON.parse(body), { now: NOW, maxFutureMs: 300_000 })),
    'the cloud accepts the withheld actor',
  );

  const unconfigured = new BatchBuilder(db, new Pseudonyms(db, WARD_SECRET), { gateway: 'gw-t', ward: '3B' }).build(
    plan.ranges,
    NOW,
  ).batch;
  t.same(
    unconfigured.audit?.map((e) => e.actor).slice(0, 4),
    [WITHHELD, WITHHELD, WITHHELD, WITHHELD],
    'without the configured names nothing typed travels',
  );
});
