// Free text stays on the ward: a bed label that could be a name or an MRN, and
// audit text, leave as a keyed stand-in or `withheld`, so the batch is one the
// cloud accepts (not quarantined) and nothing of the clear text is in it.
import t from 'tap';
import { gunzipSync } from 'node:zlib';
import { openDatabase } from '../../../edge/store/database.js';
import { Outbox } from '../../../edge/store/outbox.js';
import { BatchBuilder } from '../../../edge/sync/batchBuilder.js';
import { Pseudonyms } from '../../../edge/sync/pseudonyms.js';
import { encodeBatch } from '../../../shared/sync/codec.js';
import { validateBatch } from '../../../shared/sync/validate.js';
import { isRejection } from '../../../shared/timestamp.js';
import { tempDir } from '../../helpers/env.js';

const WARD_SECRET = 'ward-secret-for-free-text-test-0123456789';
const NOW = Date.now();

t.test('names and MRNs in bed labels and audit text do not leave the ward', async (t) => {
  const db = openDatabase(tempDir(t));
  t.teardown(() => db.close());
  const beds = ['John Smith', 'MRN 1234567', '12A'];
  beds.forEach((bed, i) =>
    db.prepare("INSERT INTO devices (device_id, bed, source) VALUES (?, ?, 'mqtt')").run(`mon-${i + 1}`, bed),
  );
  const insert = db.prepare(
    "INSERT INTO observations (device, seq, ts, received_ts, bed, digest, readings) VALUES (?, ?, ?, ?, ?, x'00', ?)",
  );
  beds.forEach((bed, i) => insert.run(i + 1, 1, NOW - 1000, NOW - 1000, bed, JSON.stringify([['spo2', 95, 0]])));
  db.prepare(
    "INSERT INTO alarm_events (alarm_id, phase, ts, bed, kind, rule, metric, priority, state, message, value, escalations) VALUES ('a-1', 'raised', ?, 'John Smith', 'physiological', 'spo2_low', 'spo2', 'high', 'active', 'SpO2 low', 85, 0)",
  ).run(NOW - 900);
  const audit = db.prepare('INSERT INTO audit (ts, actor, action, target, detail) VALUES (?, ?, ?, ?, ?)');
  audit.run(
    NOW - 800,
    'nurse-ann',
    'admit',
    'bed:MRN 1234567',
    JSON.stringify({ admission: 4, note: 'John Smith, DOB 1984-02-12', via: 'dashboard' }),
  );
  audit.run(NOW - 700, 'nurse-ann', 'note', 'patient:1234567', null);

  const pseudonyms = new Pseudonyms(db, WARD_SECRET);
  const builder = new BatchBuilder(db, pseudonyms, { gateway: 'gw-t', ward: '3B' });
  const plan = builder.plan(new Outbox(db).plannedThrough(), 100)!;
  const { batch } = builder.build(plan.ranges, NOW);
  const body = gunzipSync(encodeBatch(batch)).toString('utf8');
  for (const clear of ['John', 'Smith', '1234567', '1984']) t.notMatch(body, clear, `${clear} is not in the batch`);

  t.notOk(
    isRejection(validateBatch(JSON.parse(body), { now: NOW, maxFutureMs: 300_000 })),
    'the cloud accepts the batch: nothing is quarantined',
  );
  const wireBeds = batch.readings.map((r) => r.bed);
  t.equal(wireBeds[2], '12A', 'a label in the vocabulary travels as it is');
  t.match(wireBeds[0], /^x-[0-9a-f]{12}$/, 'a name travels as a keyed stand-in');
  t.not(wireBeds[0], wireBeds[1], 'two labels, two stand-ins: their beds stay apart in the cloud');
  t.equal(batch.alarms[0].bed, wireBeds[0], 'the same label, the same stand-in, in every stream');
  t.equal(
    new BatchBuilder(db, new Pseudonyms(db, WARD_SECRET), { gateway: 'gw-t', ward: '3B' }).build(plan.ranges, NOW + 1)
      .batch.batchId,
    batch.batchId,
    'rebuilt: the same batch',
  );
  t.not(
    new Pseudonyms(db, 'another-ward-secret-0123456789abcdef').forBedLabel('John Smith'),
    wireBeds[0],
    'keyed by the ward secret',
  );
  t.same(
    batch.audit?.map((e) => e.target),
    [`bed:${wireBeds[1]}`, 'withheld'],
  );
  t.same(
    batch.audit?.[0].detail,
    { admission: 4, note: 'withheld', via: 'dashboard' },
    "a program's words travel, free text is withheld",
  );
});
