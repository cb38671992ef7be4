// The outbox bookkeeping without a network: out-of-order acknowledgements
// advance a cursor only over a contiguous prefix, counters fall once per
// batch, a rebuilt batch has the same id, and no patient identifier is in a body.
import t, { type Test } from 'tap';
import { gunzipSync } from 'node:zlib';
import { openDatabase } from '../../../edge/store/database.js';
import { Outbox } from '../../../edge/store/outbox.js';
import { BatchBuilder } from '../../../edge/sync/batchBuilder.js';
import { Pseudonyms } from '../../../edge/sync/pseudonyms.js';
import { encodeBatch } from '../../../shared/sync/codec.js';
import { patientPseudonym } from '../../../shared/sync/pseudonym.js';
import { tempDir } from '../../helpers/env.js';

const WARD_SECRET = 'ward-secret-for-outbox-test-0123456789';
const NOW = Date.now();

function ward(t: Test) {
  const db = openDatabase(tempDir(t));
  t.teardown(() => db.close());
  db.prepare("INSERT INTO devices (device_id, bed, source) VALUES ('mon-1', '7', 'mqtt')").run();
  db.prepare(
    "INSERT INTO patients (identifier, authority, first_seen, last_seen) VALUES ('MRN-4711', 'HOSP', ?, ?)",
  ).run(NOW, NOW);
  db.prepare("INSERT INTO admissions (patient, bed, admitted_at, admitted_by) VALUES (1, '7', ?, 'nurse-ann')").run(
    NOW - 3_600_000,
  );
  const insert = db.prepare(
    "INSERT INTO observations (device, seq, ts, received_ts, bed, digest, readings) VALUES (1, ?, ?, ?, '7', x'00', ?)",
  );
  for (let i = 1; i <= 30; i++)
    insert.run(
      i,
      NOW - 60_000 + i,
      NOW - 60_000 + i,
      JSON.stringify([
        ['spo2', 95, 0],
        ['pr', 70, 0],
      ]),
    );
  db.prepare("UPDATE counters SET value = 60 WHERE name IN ('readings', 'readings_unsynced')").run();
  db.prepare(
    "INSERT INTO alarm_events (alarm_id, phase, ts, bed, kind, rule, metric, priority, state, message, value, escalations) VALUES ('a-1', 'latched', ?, '7', 'physiological', 'spo2_low', 'spo2', 'high', 'latched', 'SpO2 low', 85, 0)",
  ).run(NOW - 1000);
  const outbox = new Outbox(db);
  const builder = new BatchBuilder(db, new Pseudonyms(db, WARD_SECRET), { gateway: 'gw-t', ward: '3B' });
  return { db, outbox, builder };
}

t.test('alarm events first; a rebuilt batch is the same batch; pseudonyms only', async (t) => {
  const { outbox, builder } = ward(t);
  const plan = builder.plan(outbox.plannedThrough(), 21)!;
  t.same(plan.ranges.alarms, { after: 0, through: 1 }, 'the alarm event leads');
  t.equal(plan.readings, 20, 'then whole observations up to the item bound');
  const a = builder.build(plan.ranges, NOW);
  const b = builder.build(plan.ranges, NOW + 5000);
  t.equal(a.batch.batchId, b.batch.batchId, 'same items, same id');
  t.equal(a.batch.alarms[0].phase, 'latched', 'the engine phase travels as is');
  const body = gunzipSync(encodeBatch(a.batch)).toString('utf8');
  t.notMatch(body, /MRN-4711|4711/, 'the identifier is not in the body');
  t.equal(
    a.batch.readings[0].patient,
    patientPseudonym(WARD_SECRET, 'MRN-4711^^^HOSP'),
    'the admitted patient as a pseudonym',
  );
});

t.test(
  'out-of-order acknowledgements: the cursor advances over the contiguous prefix only, counters once',
  async (t) => {
    const { db, outbox, builder } = ward(t);
    const ids: string[] = [];
    for (let plan = builder.plan(outbox.plannedThrough(), 20); plan; plan = builder.plan(outbox.plannedThrough(), 20)) {
      const built = builder.build(plan.ranges, NOW);
      outbox.record(built.batch.batchId, plan.ranges, plan.items, plan.readings, NOW);
      ids.push(built.batch.batchId);
    }
    const unsynced = () => db.prepare("SELECT value FROM counters WHERE name = 'readings_unsynced'").pluck().get();
    t.equal(ids.length, 4, 'one alarm event and 60 readings in four batches of at most 20');
    t.ok(outbox.acknowledge(ids[2], NOW), 'the third confirmed first');
    t.equal(outbox.cursors().obs, 0, 'cursor stays: the first two are open');
    t.ok(outbox.acknowledge(ids[0], NOW));
    t.equal(outbox.cursors().alarms, 1);
    const afterFirst = outbox.cursors().obs;
    t.ok(afterFirst > 0 && afterFirst < 30, `cursor over the first batch only (${afterFirst})`);
    t.notOk(outbox.acknowledge(ids[0], NOW), 'a second confirmation counts nothing');
    t.ok(outbox.acknowledge(ids[1], NOW));
    t.ok(outbox.cursors().obs > afterFirst, 'the gap closed: the cursor jumps over the second and third');
    t.ok(outbox.acknowledge(ids[3], NOW));
    t.equal(outbox.cursors().obs, 30, 'all confirmed');
    t.equal(unsynced(), 0, 'every reading counted synced exactly once');
    t.equal(outbox.batches().length, 0, 'absorbed batches are gone');
  },
);

t.test('a message with more readings than the item bound goes alone instead of stalling the stream', async (t) => {
  const { db, outbox, builder } = ward(t);
  db.prepare('DELETE FROM alarm_events').run();
  const plan = builder.plan(outbox.plannedThrough(), 1)!;
  t.same(plan.ranges.obs, { after: 0, through: 1 }, 'the first observation (2 readings) with a bound of 1');
  t.equal(plan.readings, 2);
});
