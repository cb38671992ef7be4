// A bed's values belong to the patient in it. When that patient leaves the
// bed (discharge, transfer, another admitted over them) the next one starts
// with nothing of theirs: values, NEWS2, rate history, running condition
// delays, physiological alarms. The same patient (a new name, a merged
// identifier, the nurse's entries) keeps everything, and values taken while
// the bed had no patient are the incoming patient's. Changes come over the
// bus, as the API and the ADT feed send them.
import t, { type Test } from 'tap';
import type { PatientContext } from '../../../edge/alarms/bedNews2.js';
import { PATIENT_LEFT } from '../../../edge/alarms/engine.js';
import type { CommittedItem } from '../../../edge/ingest/types.js';
import { alarmHarness, type Harness } from '../../helpers/alarms.js';

async function started(t: Test, ...args: Parameters<typeof alarmHarness>): Promise<Harness> {
  const h = alarmHarness(...args);
  await h.engine.start();
  t.teardown(() => h.engine.stop());
  return h;
}

/** The bed's patient is now `admission` (undefined: none), with the nurse's entries in `entries`. */
function place(h: Harness, bed: string, admission: number | undefined, entries: Partial<PatientContext> = {}): void {
  if (admission === undefined) {
    h.admissions.delete(bed);
    h.patients.delete(bed);
  } else {
    h.admissions.set(bed, admission);
    h.patients.set(bed, { id: `p${admission}`, spo2Scale: 1, onOxygen: null, consciousness: null, ...entries });
  }
  h.bus.emit('patient.changed', { bed });
}

/** A spot blood pressure of 100 (2 points) and a temperature of 38.5 (1), then a minute of RR 16, SpO2 97, pulse 70 (0). */
function monitor(h: Harness, deviceId = 'mon-1'): void {
  h.obs(deviceId, { nibp_sys: 100, temp: 38.5 });
  for (let i = 0; i < 60; i++) {
    h.obs(deviceId, { rr: 16, spo2: 97, pr: 70 });
    h.advance(1000);
  }
}

t.test('discharge, then another patient: nothing of the first in NEWS2, the bed view or the vitals', async (t) => {
  const h = await started(t);
  place(h, '1', 1);
  monitor(h);
  t.match(h.engine.bed('1').news2, { parts: { sbp: 2, temp: 1 } });

  place(h, '1', undefined);
  t.same(h.engine.bed('1').vitals, {}, 'the bed view holds nothing once the patient has gone');
  t.equal(h.engine.bed('1').news2, null);
  t.equal(h.engine.vitalsOf('1').latest.size, 0, 'nor the retained vitals');

  h.advance(600_000);
  place(h, '1', 2);
  for (let i = 0; i < 10; i++) {
    h.obs('mon-1', { rr: 16, spo2: 97, pr: 70 });
    h.advance(1000);
  }
  const news2 = h.engine.bed('1').news2;
  t.match(news2, { score: 0, stale: [] });
  t.ok(
    news2?.missing.includes('sbp') && news2.missing.includes('temp'),
    "the first patient's spot values are not the second's",
  );
  t.notOk('nibp_sys' in h.engine.bed('1').vitals);
  t.notOk(h.engine.vitalsOf('1').latest.has('temp'));
});

t.test('another patient admitted over the one in the bed: the same as a discharge between them', async (t) => {
  const h = await started(t);
  place(h, '1', 1);
  monitor(h);
  place(h, '1', 2);
  t.same(h.engine.bed('1').vitals, {});
  h.obs('mon-1', { rr: 16, spo2: 97, pr: 70 });
  t.match(h.engine.bed('1').news2, { score: 0 });
  t.same(h.engine.bed('1').news2?.missing, ['oxygen', 'sbp', 'consciousness', 'temp']);
});

t.test('A02: one patient moves out of bed 1 into bed 2, whose patient leaves; each bed forgets its own', async (t) => {
  const h = await started(t);
  place(h, '1', 1);
  place(h, '2', 2);
  monitor(h, 'mon-1');
  h.obs('mon-2', { nibp_sys: 150, rr: 16, spo2: 97, pr: 70 });
  // As the ADT feed applies it: bed 2's admission ends, admission 1 moves there, both beds are told.
  h.admissions.delete('2');
  h.patients.delete('2');
  h.admissions.set('2', 1);
  h.patients.set('2', h.patients.get('1')!);
  h.admissions.delete('1');
  h.patients.delete('1');
  h.bus.emit('patient.changed', { bed: '2' });
  h.bus.emit('patient.changed', { bed: '1' });
  t.same(h.engine.bed('1').vitals, {}, 'bed 1: its patient left');
  t.same(h.engine.bed('2').vitals, {}, "bed 2: the leaving patient's values are not the newcomer's");
  h.obs('mon-2', { rr: 16, spo2: 97, pr: 70 });
  t.notOk('nibp_sys' in h.engine.bed('2').vitals);
  t.ok(h.engine.bed('2').news2?.missing.includes('sbp'));
});

t.test('the same patient keeps everything, an open NEWS2 alarm included; NEWS2 is scored again', async (t) => {
  const changes: Array<[string, (h: Harness) => void, Record<string, unknown>]> = [
    // A08: a new name for the same admission.
    ['a new name (A08)', (h) => place(h, '1', 1), { score: 8 }],
    // A40: the admission now points to the surviving identifier's patient.
    ['a merged identifier (A40)', (h) => place(h, '1', 1, { id: 'p9' }), { score: 8 }],
    ['the nurse records oxygen', (h) => place(h, '1', 1, { onOxygen: true }), { score: 10, parts: { oxygen: 2 } }],
    ['the nurse records scale 2', (h) => place(h, '1', 1, { spo2Scale: 2 }), { score: 7, parts: { spo2: 0 } }],
  ];
  for (const [what, change, scored] of changes)
    await t.test(what, async (t) => {
      const h = await started(t, { news2: { delayMs: 0 } });
      place(h, '1', 1);
      // RR 26 (3) + SpO2 95 (1) + pulse 120 (2) + SBP 100 (2) = 8: a high NEWS2 alarm.
      h.obs('mon-1', { rr: 26, spo2: 95, pr: 120, nibp_sys: 100 });
      const alarm = h.open().find((a) => a.rule === 'news2');
      t.match(alarm, { priority: 'high', state: 'active' });
      const events = h.events.length;
      change(h);
      t.match(h.engine.bed('1').vitals, { nibp_sys: { value: 100 }, rr: { value: 26 } }, 'values kept');
      t.match(h.engine.bed('1').news2, scored, 're-scored with the entries');
      t.equal(h.open().find((a) => a.rule === 'news2')?.id, alarm!.id, 'the NEWS2 alarm is still open');
      t.notOk(
        h.events.slice(events).some((e) => e.phase === 'cleared'),
        'nothing cleared',
      );
    });
});

t.test('monitoring before the admission: the incoming patient keeps those values and alarms', async (t) => {
  const h = await started(t, { news2: { delayMs: 0 } });
  h.obs('mon-1', { rr: 26, spo2: 95, pr: 120, nibp_sys: 100 });
  const alarm = h.open().find((a) => a.rule === 'news2');
  t.ok(alarm, 'NEWS2 alarm raised with no patient admitted');
  // The ADT feed's A01 brings the patient with the entries the nurse recorded (oxygen, confusion).
  place(h, '1', 1, { onOxygen: true, consciousness: { value: 'C', at: h.clock.t } });
  t.match(h.engine.bed('1').vitals, { nibp_sys: { value: 100 } });
  t.match(
    h.engine.bed('1').news2,
    { score: 13, parts: { sbp: 2, oxygen: 2, consciousness: 3 } },
    'scored again at the admission, not at the next reading or tick',
  );
  t.equal(h.open().find((a) => a.rule === 'news2')?.id, alarm!.id);
  t.notOk(h.events.some((e) => e.phase === 'cleared'));

  // Discharged, then monitored again while empty, then the next patient: only the values since the discharge.
  place(h, '1', undefined);
  h.advance(60_000);
  h.obs('mon-1', { temp: 36.5 });
  place(h, '1', 2);
  t.same(Object.keys(h.engine.bed('1').vitals), ['temp']);
});

t.test("the previous patient's alarms end when they leave the bed; the device's technical alarms stay", async (t) => {
  const h = await started(t, { limits: { pulse: { priority: 'high', delayMs: 0 } }, news2: { delayMs: 0 } });
  place(h, '1', 1);
  // RR 24 (2) + SpO2 95 (1) + pulse 150 (3) + SBP 100 (2) = 8, then pulse 80: NEWS2 5, still open.
  h.obs('mon-1', { rr: 24, spo2: 95, pr: 150, nibp_sys: 100 });
  h.obs('mon-1', { pr: 80 });
  h.status('mon-1', { sensor: 'off' });
  h.advance(15_000);
  t.match(
    h
      .open()
      .map((a) => `${a.rule}:${a.state}`)
      .sort(),
    ['limit:latched', 'news2:active', 'sensor:active'],
    'a latched high pulse, the NEWS2 alarm, and the sensor off',
  );
  const before = h.events.length;
  place(h, '1', undefined);
  const ended = h.events.slice(before);
  t.same(
    ended.map((e) => `${e.phase}:${e.rule}`).sort(),
    ['cleared:limit', 'cleared:news2'],
    'each physiological alarm ends with an event',
  );
  t.ok(
    ended.every((e) => e.message.endsWith(`; ${PATIENT_LEFT}`)),
    'saying why',
  );
  t.same(
    h.open().map((a) => a.rule),
    ['sensor'],
    'the sensor is still off',
  );
  // The next patient is well: nothing of the first raises again, latched or escalated.
  place(h, '1', 2);
  h.status('mon-1', { sensor: 'ok' });
  for (let i = 0; i < 300; i++) {
    h.obs('mon-1', { rr: 16, spo2: 97, pr: 72 });
    h.advance(1000);
  }
  t.same(
    h.events.slice(before + 2).map((e) => `${e.phase}:${e.rule}`),
    ['cleared:sensor'],
  );
});

t.test('a condition delay and the rate history do not run on from one patient to the next', async (t) => {
  const h = await started(t);
  place(h, '1', 1);
  // Ten minutes of pulse 70, then ten seconds of SpO2 88: the 15 s condition delay is running.
  for (let i = 0; i < 600; i += 10) {
    h.obs('mon-1', { pr: 70 });
    h.advance(10_000);
  }
  for (let i = 0; i < 10; i++) {
    h.obs('mon-1', { spo2: 88 });
    h.advance(1000);
  }
  place(h, '1', 2);
  // The next patient: pulse 105 (35 above the first's 70) and SpO2 88, for ten seconds.
  for (let i = 0; i < 10; i++) {
    h.obs('mon-1', { spo2: 88, pr: 105 });
    h.advance(1000);
  }
  t.same(h.phases(), [], 'no delay carried over');
  for (let i = 0; i < 180; i++) {
    h.obs('mon-1', { spo2: 88, pr: 105 });
    h.advance(1000);
  }
  t.same(
    h.phases(),
    ['raised:limit:spo2:medium'],
    'the SpO2 alarm after its own delay; no pulse rise against the first patient',
  );
  t.equal(h.events[0].ts - h.clock.t, -175_000, '15 s into the second patient');
});

t.test("a reading received before the patient left, evaluated only at its commit, is not the next one's", async (t) => {
  // An HL7 device bound to no bed: the store names its bed, so its readings are evaluated at their commit.
  const h = await started(t, {}, [{ id: 'hl7-mon' }]);
  place(h, '1', 1);
  const item = (receivedTs: number, seq: number, value: number): CommittedItem => ({
    item: {
      kind: 'obs',
      source: 'hl7',
      receivedTs,
      deviceId: 'hl7-mon',
      seq,
      ts: receivedTs,
      digest: Buffer.alloc(8),
      readings: [{ code: 'nibp_sys', value, unit: 'mm[Hg]', ts: receivedTs, flags: 0 }],
    },
    result: { outcome: 'stored', readings: 1, bed: '1' },
  });
  h.engine.onCommitted([item(h.clock.t - 1000, 1, 100)]);
  t.match(h.engine.bed('1').vitals, { nibp_sys: { value: 100 } });
  const received = h.clock.t;
  h.advance(1000);
  place(h, '1', undefined);
  h.engine.onCommitted([item(received, 2, 95)]);
  t.same(h.engine.bed('1').vitals, {}, 'received while the first patient was in the bed');
  h.engine.onCommitted([item(h.clock.t, 3, 130)]);
  t.match(h.engine.bed('1').vitals, { nibp_sys: { value: 130 } }, "received after: the incoming patient's");
});
