// NEWS2's oxygen input: an admitted patient for whom nobody has recorded air
// or oxygen is scored with oxygen named missing, never as on air; the nurse's
// entry (either way) or a device measuring delivered oxygen fills it. Read
// through the real admissions table, so the default of its column is tested.
import t from 'tap';
import { alarmConfigSchema } from '../../../edge/alarms/config.js';
import { bedNews2 } from '../../../edge/alarms/bedNews2.js';
import { BedVitals } from '../../../edge/alarms/vitals.js';
import { Admissions } from '../../../edge/patients/admissions.js';
import { AuditLog } from '../../../edge/store/auditLog.js';
import { openDatabase } from '../../../edge/store/database.js';
import { tempDir } from '../../helpers/env.js';

const config = alarmConfigSchema.parse({}).news2;
const NOW = Date.UTC(2026, 10, 27, 9, 0, 0);

function vitals(values: Record<string, number>): BedVitals {
  const v = new BedVitals(3_600_000);
  for (const [code, value] of Object.entries(values))
    v.record(code, { value, ts: NOW - 1000, deviceId: 'pox-1', flags: 0 });
  return v;
}

t.test('oxygen unrecorded for an admitted patient: named missing, not scored as air', async (t) => {
  const db = openDatabase(tempDir(t));
  t.teardown(() => db.close());
  const admissions = new Admissions(db, new AuditLog(db), () => NOW);
  admissions.admit({ bed: '1', identifier: 'MRN-1' }, 'biomed');
  admissions.updateSettings('1', { spo2Scale: 2 }, 'nurse-ann');
  const patient = admissions.atBed('1');
  t.equal(patient?.onOxygen, null, 'an admission says nothing of oxygen until the nurse records it');

  // Scale 2, SpO2 97: 0 points on air, 3 on oxygen (+2 for the oxygen itself).
  const bed = vitals({ spo2: 97, rr: 16, pr: 72 });
  const unknown = bedNews2(bed, patient, config, NOW);
  t.ok(unknown.missing.includes('oxygen'), 'oxygen is a missing input');
  t.notOk('oxygen' in unknown.parts, 'and scores nothing, as if it were air');

  admissions.updateSettings('1', { onOxygen: false }, 'nurse-ann');
  const air = bedNews2(bed, admissions.atBed('1'), config, NOW);
  t.notOk(air.missing.includes('oxygen'), 'air, once recorded, is an input');
  t.equal(air.parts.oxygen, 0);

  admissions.updateSettings('1', { onOxygen: true }, 'nurse-ann');
  const o2 = bedNews2(bed, admissions.atBed('1'), config, NOW);
  t.same([o2.parts.oxygen, o2.parts.spo2], [2, 3], 'oxygen recorded: 2 points, and SpO2 97 on scale 2 scores 3');
  t.equal(o2.score - air.score, 5, 'the 5 points an unrecorded oxygen status would have hidden');

  admissions.updateSettings('1', { spo2Scale: 1 }, 'nurse-ann');
  t.equal(admissions.atBed('1')?.onOxygen, true, 'another setting leaves the oxygen entry alone');
});

t.test('a device measuring delivered oxygen fills the input; no patient and no device leave it missing', async (t) => {
  t.equal(
    bedNews2(vitals({ spo2: 95, fio2: 40 }), undefined, config, NOW).parts.oxygen,
    2,
    'FiO2 above 21 % is oxygen',
  );
  t.equal(
    bedNews2(
      vitals({ spo2: 95, o2_flow: 2 }),
      { id: 'p', spo2Scale: 1, onOxygen: null, consciousness: null },
      config,
      NOW,
    ).parts.oxygen,
    2,
    'a flow is oxygen, whatever the record',
  );
  t.ok(
    bedNews2(vitals({ spo2: 95 }), undefined, config, NOW).missing.includes('oxygen'),
    'no patient, no device: missing',
  );
});
