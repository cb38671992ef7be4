// A limit alarm's event leaves the ward with the limit it crossed, as the
// store recorded it; any other alarm's without one, so that every batch the
// edge builds is one the cloud accepts.
import t from 'tap';
import { Outbox } from '../../../edge/store/outbox.js';
import { BatchBuilder } from '../../../edge/sync/batchBuilder.js';
import { Pseudonyms } from '../../../edge/sync/pseudonyms.js';
import { encodeBatch, decodeBatchBody } from '../../../shared/sync/codec.js';
import { validateBatch } from '../../../shared/sync/validate.js';
import { isRejection } from '../../../shared/timestamp.js';
import { alarmStoreOnDisk } from '../../helpers/alarms.js';
import { raisedAlarm } from '../../helpers/raisedAlarm.js';

const NOW = Date.now();

t.test("a limit alarm's event carries its limit on the wire; a technical one none", async (t) => {
  const { db, store } = alarmStoreOnDisk(t);
  store.record([
    raisedAlarm(NOW, {
      id: 'a-spo2',
      kind: 'physiological',
      rule: 'limit',
      metric: 'spo2',
      priority: 'high',
      value: 85,
      limit: { side: 'low', value: 88 },
    }),
    raisedAlarm(NOW, { id: 'a-battery', kind: 'technical', rule: 'battery', value: 18 }),
    raisedAlarm(NOW, { id: 'a-news2', kind: 'physiological', rule: 'news2', value: 7 }),
  ]);
  // Rows the engine never writes: a technical event with limit columns, a limit without its bound. Neither may quarantine a batch.
  const insert = db.prepare(
    `INSERT INTO alarm_events (alarm_id, phase, ts, bed, device_id, kind, rule, metric, priority, state, message, value, escalations, limit_side, limit_value)
     VALUES (?, 'raised', ?, '1', 'pox-1', ?, ?, 'spo2', 'low', 'active', 'x', 18, 0, ?, ?)`,
  );
  insert.run('a-odd-technical', NOW, 'technical', 'battery', 'low', 20);
  insert.run('a-odd-limit', NOW, 'physiological', 'limit', 'low', null);

  const builder = new BatchBuilder(db, new Pseudonyms(db, 'ward-secret-for-limit-test-0123456789'), {
    gateway: 'gw-t',
    ward: '3B',
  });
  const plan = builder.plan(new Outbox(db).plannedThrough(), 100)!;
  const { batch } = builder.build(plan.ranges, NOW);
  t.same(
    batch.alarms.map((a) => [a.alarmId, a.kind, a.limit]),
    [
      ['a-spo2', 'physiological', { side: 'low', value: 88 }],
      ['a-battery', 'technical', undefined],
      ['a-news2', 'physiological', undefined],
      ['a-odd-technical', 'technical', undefined],
      ['a-odd-limit', 'physiological', undefined],
    ],
  );
  t.same(
    batch.alarms.map((a) => 'limit' in a),
    [true, false, false, false, false],
    'absent, never null',
  );
  const decoded = decodeBatchBody(encodeBatch(batch));
  const valid = validateBatch(decoded.ok && decoded.json, { now: NOW, maxFutureMs: 300_000 });
  t.notOk(isRejection(valid), 'the cloud accepts the batch');
  t.same(!isRejection(valid) && valid.alarms[0].limit, { side: 'low', value: 88 }, 'and reads the limit back');
});

t.test("a limit goes only beside its alarm's code: a pulse limit alarm leaves with neither", async (t) => {
  const { db, store } = alarmStoreOnDisk(t);
  const limitAlarm = (id: string, metric: string, value: number, limit: { side: 'low' | 'high'; value: number }) =>
    raisedAlarm(NOW, { id, kind: 'physiological', rule: 'limit', metric, priority: 'medium', value, limit });
  store.record([
    limitAlarm('a-pulse', 'pulse', 150, { side: 'high', value: 131 }),
    limitAlarm('a-spo2', 'spo2', 85, { side: 'low', value: 88 }),
  ]);
  // A row the engine never writes: a rate alarm with limit columns. The cloud refuses a limit on it.
  db.prepare(
    `INSERT INTO alarm_events (alarm_id, phase, ts, bed, device_id, kind, rule, metric, priority, state, message, value, escalations, limit_side, limit_value)
     VALUES ('a-odd-rate', 'raised', ?, '1', 'pox-1', 'physiological', 'rate', 'pr', 'low', 'active', 'x', 120, 0, 'high', 131)`,
  ).run(NOW);

  const builder = new BatchBuilder(db, new Pseudonyms(db, 'ward-secret-for-limit-test-0123456789'), {
    gateway: 'gw-t',
    ward: '3B',
  });
  const { batch } = builder.build(builder.plan(new Outbox(db).plannedThrough(), 100)!.ranges, NOW);
  t.same(
    batch.alarms.map((a) => [a.alarmId, a.condition, a.code, a.value, a.limit]),
    [
      ['a-pulse', 'limit', undefined, 150, undefined],
      ['a-spo2', 'limit', 'spo2', 85, { side: 'low', value: 88 }],
      ['a-odd-rate', 'rate', 'pr', 120, undefined],
    ],
  );
  t.same(
    batch.alarms.map((a) => ['code' in a, 'limit' in a]),
    [
      [false, false],
      [true, true],
      [true, false],
    ],
    'absent keys, not undefined values',
  );
  const decoded = decodeBatchBody(encodeBatch(batch));
  const valid = validateBatch(decoded.ok && decoded.json, { now: NOW, maxFutureMs: 300_000 });
  t.notOk(isRejection(valid), `the cloud accepts the batch${isRejection(valid) ? `: ${valid.message}` : ''}`);
});
