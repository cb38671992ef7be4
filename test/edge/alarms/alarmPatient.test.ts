// A physiological alarm is the patient's whose values raised it, for every
// event it has: the end of the previous patient's alarm, which comes when (or
// after) they leave the bed, goes to the hospital's alarm manager (PCD-04
// PID-3) and to the cloud (the pseudonym) under that patient, not under the one
// admitted after them nor under nobody; and a transfer does not take the old
// bed's alarms from their patient. The engine, the admissions, the store, the
// alarm manager's outbox and the sync's batch are the real ones, on one disk.
import t, { type Test } from 'tap';
import { PATIENT_LEFT } from '../../../edge/alarms/engine.js';
import { Admissions } from '../../../edge/patients/admissions.js';
import { AdtStore } from '../../../edge/store/adtStore.js';
import { AlarmReportOutbox } from '../../../edge/store/alarmReportOutbox.js';
import { AuditLog } from '../../../edge/store/auditLog.js';
import { Outbox } from '../../../edge/store/outbox.js';
import { BatchBuilder } from '../../../edge/sync/batchBuilder.js';
import { Pseudonyms } from '../../../edge/sync/pseudonyms.js';
import { alarmHarness, alarmStoreOnDisk, ManualClock } from '../../helpers/alarms.js';

const WARD_SECRET = 'ward-secret-for-alarm-patient-test-0123456789';

/** Bed 1 (mon-1) and bed 2 (mon-2), an SpO2 alarm at once below 88 (medium) and a pulse one above 130 (high). */
function ward(t: Test) {
  const { db, store } = alarmStoreOnDisk(t);
  const clock = new ManualClock();
  const admissions = new Admissions(db, new AuditLog(db), () => clock.t);
  const outbox = new AlarmReportOutbox(db);
  outbox.cursor();
  const h = alarmHarness(
    {
      limits: { spo2: { low: 88, priority: 'medium', delayMs: 0 }, pulse: { high: 130, priority: 'high', delayMs: 0 } },
    },
    undefined,
    [{ name: 'store', onEvent: (event, alarm) => store.record([[event, alarm]]) }],
    { patients: admissions, clock },
  );
  t.teardown(() => h.engine.stop());
  const changed = (...beds: string[]) => {
    for (const bed of beds) h.bus.emit('patient.changed', { bed });
  };
  const admit = (bed: string, identifier: string) => {
    const { patient } = admissions.admit({ bed, identifier, authority: 'HOSP' }, 'nurse');
    changed(bed);
    return patient;
  };
  /** Who each recorded event is reported under: the PCD-04's PID-3 and the sync batch's pseudonym. */
  const reported = () => {
    const pseudonyms = new Pseudonyms(db, WARD_SECRET);
    const builder = new BatchBuilder(db, pseudonyms, { gateway: 'gw-t', ward: '3B' });
    const plan = builder.plan(new Outbox(db).plannedThrough(), 1000)!;
    const { batch } = builder.build(plan.ranges, clock.t);
    const owed = outbox.owed(1000);
    t.equal(batch.alarms.length, owed.length);
    // Technical alarms (a device silent while the bed was empty) are the device's, under whoever is in its bed then.
    return owed.flatMap((o, i) =>
      o.event.kind !== 'physiological'
        ? []
        : [
            {
              event: `${o.event.phase}:${o.event.metric}`,
              mrn: o.patient?.identifier,
              pseudonym: batch.alarms[i].patient,
            },
          ],
    );
  };
  const pseudonymOf = (patient: number) => new Pseudonyms(db, WARD_SECRET).ofPatient(patient);
  return { db, h, admissions, admit, changed, reported, pseudonymOf };
}

t.test("another patient admitted over the first: the first one's alarm ends under the first", async (t) => {
  const w = ward(t);
  await w.h.engine.start();
  const a = w.admit('1', 'MRN-A');
  w.h.obs('mon-1', { spo2: 85 });
  w.h.advance(1000);
  // The ADT feed's A01 for B into A's bed ends A's admission and admits B in one change.
  w.admissions.discharge('1', 'adt');
  w.admissions.admit({ bed: '1', identifier: 'MRN-B', authority: 'HOSP' }, 'adt');
  w.changed('1');
  t.same(
    w.reported(),
    [
      { event: 'raised:spo2', mrn: 'MRN-A', pseudonym: w.pseudonymOf(a) },
      { event: 'cleared:spo2', mrn: 'MRN-A', pseudonym: w.pseudonymOf(a) },
    ],
    'not under B, who was in the bed when it ended',
  );
});

t.test("a discharge: the alarm's end is still its patient's", async (t) => {
  const w = ward(t);
  await w.h.engine.start();
  const a = w.admit('1', 'MRN-A');
  w.h.obs('mon-1', { spo2: 85 });
  w.h.advance(1000);
  w.admissions.discharge('1', 'nurse');
  w.changed('1');
  t.same(w.reported(), [
    { event: 'raised:spo2', mrn: 'MRN-A', pseudonym: w.pseudonymOf(a) },
    { event: 'cleared:spo2', mrn: 'MRN-A', pseudonym: w.pseudonymOf(a) },
  ]);
});

t.test("a transfer out: the old bed's alarms keep their patient", async (t) => {
  const w = ward(t);
  await w.h.engine.start();
  const a = w.admit('1', 'MRN-A');
  w.h.obs('mon-1', { spo2: 85 });
  w.h.advance(1000);
  // A02: the admission moves to bed 2; bed 1 has no patient from now on.
  new AdtStore(w.db).move(w.admissions.get('1')!.admission, '2');
  w.admissions.reload();
  w.changed('1', '2');
  t.same(w.reported(), [
    { event: 'raised:spo2', mrn: 'MRN-A', pseudonym: w.pseudonymOf(a) },
    { event: 'cleared:spo2', mrn: 'MRN-A', pseudonym: w.pseudonymOf(a) },
  ]);
});

t.test(
  "a latched alarm of the patient who left: acknowledged under the next one's stay, reported as the first's",
  async (t) => {
    const w = ward(t);
    await w.h.engine.start();
    const a = w.admit('1', 'MRN-A');
    w.h.obs('mon-1', { pr: 150 });
    w.h.advance(1000);
    w.admissions.discharge('1', 'nurse');
    w.changed('1');
    w.h.advance(600_000);
    const b = w.admit('1', 'MRN-B');
    const [left] = w.h.open();
    t.match(left, { rule: 'limit', state: 'latched', message: new RegExp(`; ${PATIENT_LEFT}$`) });
    // B's own pulse alarm, then the nurse acknowledges A's.
    w.h.obs('mon-1', { pr: 140 });
    w.h.engine.acknowledge(left.id, 'nurse');
    const of = (p: number) => ({ mrn: p === a ? 'MRN-A' : 'MRN-B', pseudonym: w.pseudonymOf(p) });
    t.same(
      w.reported().filter((r) => !r.event.startsWith('escalated')),
      [
        { event: 'raised:pulse', ...of(a) },
        { event: 'latched:pulse', ...of(a) },
        { event: 'raised:pulse', ...of(b) },
        { event: 'acknowledged:pulse', ...of(a) },
        { event: 'cleared:pulse', ...of(a) },
      ],
    );
  },
);

t.test("an alarm raised before the admission is the incoming patient's when the values are kept", async (t) => {
  const w = ward(t);
  await w.h.engine.start();
  w.h.obs('mon-1', { spo2: 85 });
  w.h.advance(1000);
  const a = w.admit('1', 'MRN-A');
  w.h.obs('mon-1', { spo2: 97 });
  // Every event not yet reported: a raised event reported before the admission went under nobody.
  t.same(w.reported(), [
    { event: 'raised:spo2', mrn: 'MRN-A', pseudonym: w.pseudonymOf(a) },
    { event: 'cleared:spo2', mrn: 'MRN-A', pseudonym: w.pseudonymOf(a) },
  ]);
});
