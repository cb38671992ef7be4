// Admissions on a real database, as the ward uses them through the command
// line and the dashboard: admit, the nurse's NEWS2 entries, discharge and
// re-admission, what a bed without a patient answers, the audit trail of each
// change (never with the patient's identifier or name), and a restart that
// finds the same patients in the same beds.
import t, { type Test } from 'tap';
import { Admissions } from '../../../edge/patients/admissions.js';
import { AuditLog, type AuditEntry } from '../../../edge/store/auditLog.js';
import { openDatabase, type Db } from '../../../edge/store/database.js';
import { tempDir } from '../../helpers/env.js';

const T0 = Date.UTC(2026, 11, 2, 8, 0, 0);

interface Ward {
  dir: string;
  db: Db;
  audit: AuditLog;
  admissions: Admissions;
  /** The clock the admissions read; tests move it on. */
  clock: { now: number };
}

function ward(t: Test, dir = tempDir(t)): Ward {
  const db = openDatabase(dir);
  t.teardown(() => {
    if (db.open) db.close();
  });
  const audit = new AuditLog(db);
  const clock = { now: T0 };
  return { dir, db, audit, admissions: new Admissions(db, audit, () => clock.now), clock };
}

/** The audit trail, oldest first. */
const trail = (w: Ward): AuditEntry[] => w.audit.recent(1000).reverse();

t.test('admit: the bed shows the patient, with NEWS2 defaults until the nurse records them', async (t) => {
  const w = ward(t);
  t.equal(w.admissions.get('7'), undefined, 'an empty bed');
  t.equal(w.admissions.atBed('7'), undefined);

  const a = w.admissions.admit(
    { bed: '7', identifier: 'MRN-100234', authority: 'RX1', displayName: 'Ann Example' },
    'nurse-ann',
  );
  t.match(a, {
    bed: '7',
    displayName: 'Ann Example',
    admittedAt: T0,
    source: 'manual',
    spo2Scale: 1,
    onOxygen: null,
    consciousness: null,
  });
  t.same(w.admissions.get('7'), a);
  t.same(
    w.admissions.atBed('7'),
    { id: String(a.patient), spo2Scale: 1, onOxygen: null, consciousness: null },
    'what NEWS2 sees: oxygen not recorded yet',
  );

  w.admissions.admit({ bed: '12', identifier: 'MRN-100235' }, 'nurse-ann');
  w.admissions.admit({ bed: '2', identifier: 'MRN-100236' }, 'nurse-ann');
  t.same(
    w.admissions.current().map((x) => x.bed),
    ['2', '7', '12'],
    'beds in ward order, not text order',
  );
  t.equal(w.admissions.get('12')!.displayName, null, 'a name is optional');
});

t.test('an occupied bed and a patient already in another bed are refused, and nothing is written', async (t) => {
  const w = ward(t);
  const first = w.admissions.admit({ bed: '7', identifier: 'MRN-1' }, 'nurse-ann');
  const entries = trail(w).length;

  t.throws(() => w.admissions.admit({ bed: '7', identifier: 'MRN-2' }, 'nurse-ann'), {
    code: 'WG_ERR_CONFLICT',
    field: 'bed',
  });
  t.throws(() => w.admissions.admit({ bed: '8', identifier: 'MRN-1' }, 'nurse-ann'), {
    code: 'WG_ERR_CONFLICT',
    field: 'identifier',
    message: /bed 7/,
  });
  t.same(w.admissions.get('7'), first, 'bed 7 keeps its patient');
  t.equal(w.admissions.get('8'), undefined, 'bed 8 stays empty');
  t.equal(trail(w).length, entries, 'no audit entry for a refused admission');
  t.equal(
    (w.db.prepare('SELECT count(*) AS n FROM admissions').get() as { n: number }).n,
    1,
    'no admission row left behind',
  );

  const other = w.admissions.admit({ bed: '8', identifier: 'MRN-1', authority: 'OTHER-HOSPITAL' }, 'nurse-ann');
  t.not(other.patient, first.patient, 'the same number from another authority is another patient');
});

t.test('settings: each entry is kept with its time, the others stay as they were', async (t) => {
  const w = ward(t);
  w.admissions.admit({ bed: '7', identifier: 'MRN-1' }, 'nurse-ann');

  w.clock.now = T0 + 60_000;
  let a = w.admissions.updateSettings('7', { onOxygen: false }, 'nurse-ann');
  t.equal(a.onOxygen, false, 'air, recorded (no longer missing for NEWS2)');
  t.equal(a.consciousness, null);

  w.clock.now = T0 + 120_000;
  a = w.admissions.updateSettings('7', { consciousness: 'V', spo2Scale: 2 }, 'nurse-bob');
  t.match(a, { spo2Scale: 2, onOxygen: false, consciousness: { value: 'V', at: T0 + 120_000 } });

  w.clock.now = T0 + 180_000;
  a = w.admissions.updateSettings('7', { onOxygen: true }, 'nurse-bob');
  t.match(
    a,
    { spo2Scale: 2, onOxygen: true, consciousness: { value: 'V', at: T0 + 120_000 } },
    'consciousness keeps the time it was assessed',
  );
  t.same(w.admissions.atBed('7'), {
    id: String(a.patient),
    spo2Scale: 2,
    onOxygen: true,
    consciousness: { value: 'V', at: T0 + 120_000 },
  });

  a = w.admissions.updateSettings('7', {}, 'nurse-bob');
  t.match(a, { spo2Scale: 2, onOxygen: true, consciousness: { value: 'V' } }, 'an empty change changes nothing');
});

t.test('a bed without a patient: discharge and settings are refused with the bed named, nothing audited', async (t) => {
  const w = ward(t);
  w.admissions.admit({ bed: '7', identifier: 'MRN-1' }, 'nurse-ann');
  const entries = trail(w).length;
  t.throws(() => w.admissions.discharge('9', 'nurse-ann'), {
    code: 'WG_ERR_NOT_FOUND',
    field: 'bed',
    message: /bed 9/,
  });
  t.throws(() => w.admissions.updateSettings('9', { onOxygen: true }, 'nurse-ann'), {
    code: 'WG_ERR_NOT_FOUND',
    field: 'bed',
    message: /bed 9/,
  });
  t.throws(() => w.admissions.discharge('', 'nurse-ann'), { code: 'WG_ERR_NOT_FOUND', field: 'bed' });
  t.equal(trail(w).length, entries);
  t.equal(w.admissions.current().length, 1, 'the admitted patient is untouched');
});

t.test('discharge, then re-admission: the same patient, a new admission with fresh NEWS2 entries', async (t) => {
  const w = ward(t);
  const first = w.admissions.admit({ bed: '7', identifier: 'MRN-1', displayName: 'Ann Example' }, 'nurse-ann');
  w.admissions.updateSettings('7', { spo2Scale: 2, onOxygen: true, consciousness: 'C' }, 'nurse-ann');

  w.clock.now = T0 + 3_600_000;
  const gone = w.admissions.discharge('7', 'nurse-bob');
  t.equal(gone.admission, first.admission, 'discharge answers with the admission it ended');
  t.equal(w.admissions.get('7'), undefined, 'the bed is free');
  t.equal(w.admissions.atBed('7'), undefined);
  t.throws(
    () => w.admissions.discharge('7', 'nurse-bob'),
    { code: 'WG_ERR_NOT_FOUND' },
    'a second discharge finds nobody',
  );

  w.clock.now = T0 + 7_200_000;
  const again = w.admissions.admit({ bed: '4', identifier: 'MRN-1' }, 'nurse-bob');
  t.equal(again.patient, first.patient, 'the same patient record');
  t.not(again.admission, first.admission, 'a new admission');
  t.match(
    again,
    { bed: '4', admittedAt: T0 + 7_200_000, spo2Scale: 1, onOxygen: null, consciousness: null, displayName: null },
    'nothing carried over from the last stay',
  );

  const other = w.admissions.admit({ bed: '7', identifier: 'MRN-2' }, 'nurse-bob');
  t.equal(other.bed, '7', 'the freed bed takes the next patient');
});

t.test('every change is audited with its actor, bed and source, never with who the patient is', async (t) => {
  const w = ward(t);
  const a = w.admissions.admit(
    { bed: '7', identifier: 'MRN-100234', authority: 'RX1', displayName: 'Ann Example' },
    'nurse-ann',
  );
  w.clock.now = T0 + 1000;
  w.admissions.updateSettings('7', { onOxygen: true, consciousness: 'A' }, 'nurse-bob');
  w.clock.now = T0 + 2000;
  w.admissions.discharge('7', 'biomed');

  t.same(trail(w), [
    {
      ts: T0,
      actor: 'nurse-ann',
      action: 'admit',
      target: 'bed:7',
      detail: { admission: a.admission, source: 'manual' },
    },
    {
      ts: T0 + 1000,
      actor: 'nurse-bob',
      action: 'patient-settings',
      target: 'bed:7',
      detail: { onOxygen: true, consciousness: 'A' },
    },
    {
      ts: T0 + 2000,
      actor: 'biomed',
      action: 'discharge',
      target: 'bed:7',
      detail: { admission: a.admission, source: 'manual', admittedBy: 'manual' },
    },
  ]);
  const stored = JSON.stringify(w.db.prepare('SELECT * FROM audit').all());
  for (const secret of ['MRN-100234', 'Ann Example', 'RX1'])
    t.notOk(stored.includes(secret), `the audit table does not hold ${secret}`);
});

t.test('a restart finds the same patients in the same beds, with their entries', async (t) => {
  const dir = tempDir(t);
  const before = ward(t, dir);
  before.admissions.admit({ bed: '7', identifier: 'MRN-1', displayName: 'Ann Example' }, 'nurse-ann');
  before.clock.now = T0 + 60_000;
  before.admissions.updateSettings('7', { spo2Scale: 2, onOxygen: false, consciousness: 'P' }, 'nurse-ann');
  before.admissions.admit({ bed: '3', identifier: 'MRN-2' }, 'nurse-ann');
  before.admissions.admit({ bed: '5', identifier: 'MRN-3' }, 'nurse-ann');
  before.admissions.discharge('5', 'nurse-ann');
  const current = before.admissions.current();
  before.db.close();

  const after = ward(t, dir);
  t.same(after.admissions.current(), current, 'the same admissions, discharged ones gone');
  t.match(after.admissions.get('7'), { spo2Scale: 2, onOxygen: false, consciousness: { value: 'P', at: T0 + 60_000 } });
  t.throws(
    () => after.admissions.admit({ bed: '3', identifier: 'MRN-9' }, 'nurse-ann'),
    { code: 'WG_ERR_CONFLICT' },
    'an occupied bed is still occupied',
  );
  t.equal(trail(after).length, 5, 'the audit trail survived too: three admissions, the settings, a discharge');
});

t.test('reload: what another writer of the same database did shows once the admissions read again', async (t) => {
  const w = ward(t);
  const feed = new Admissions(w.db, w.audit, () => w.clock.now);
  feed.admit({ bed: '7', identifier: 'MRN-1' }, 'adt');
  t.equal(w.admissions.get('7'), undefined, 'not seen before reading again');
  w.admissions.reload();
  t.match(w.admissions.get('7'), { bed: '7', source: 'manual' });
  feed.discharge('7', 'adt');
  w.admissions.reload();
  t.equal(w.admissions.get('7'), undefined);
});
