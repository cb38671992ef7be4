// An audit detail with a nested value (patient settings carry objects) must
// still make a batch the cloud accepts: the nested value travels as the
// withheld marker, a word the cloud's validator takes, not as '[object]',
// which it refuses and which would quarantine every batch carrying the entry.
import t from 'tap';
import { openDatabase } from '../../../edge/store/database.js';
import { Outbox } from '../../../edge/store/outbox.js';
import { BatchBuilder } from '../../../edge/sync/batchBuilder.js';
import { Pseudonyms } from '../../../edge/sync/pseudonyms.js';
import { validateBatch } from '../../../shared/sync/validate.js';
import { WITHHELD } from '../../../shared/sync/wardText.js';
import { isRejection } from '../../../shared/timestamp.js';
import { tempDir } from '../../helpers/env.js';

const NOW = Date.now();

t.test('a nested audit detail value travels as withheld and the batch is valid', async (t) => {
  const db = openDatabase(tempDir(t));
  t.teardown(() => db.close());
  const detail = { scale2: true, limits: { spo2: { low: 88 } }, devices: ['mon-1', 'mon-2'], via: 'api' };
  db.prepare('INSERT INTO audit (ts, actor, action, target, detail) VALUES (?, ?, ?, ?, ?)').run(
    NOW - 500,
    'nurse-ann',
    'patient-settings',
    'bed:12',
    JSON.stringify(detail),
  );
  const builder = new BatchBuilder(
    db,
    new Pseudonyms(db, 'ward-secret-for-audit-detail-test-0123456789'),
    { gateway: 'gw-t', ward: '3B' },
    ['nurse-ann'],
  );
  const plan = builder.plan(new Outbox(db).plannedThrough(), 100)!;
  const { batch } = builder.build(plan.ranges, NOW);
  t.same(batch.audit?.[0].detail, { scale2: true, limits: WITHHELD, devices: WITHHELD, via: 'api' });
  const checked = validateBatch(JSON.parse(JSON.stringify(batch)), { now: NOW, maxFutureMs: 300_000 });
  t.notOk(isRejection(checked), `the cloud accepts the batch: ${isRejection(checked) ? checked.message : 'valid'}`);
});
