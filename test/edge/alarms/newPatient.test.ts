// A bed's values belong to the patient in it. When that patient leaves the
// bed (discharge, transfer, another admitted over them) the next one starts
// with nothing of theirs: values, NEWS2, rate history, running condition
// delays, physiological alarms (a latched one stays, theirs, until a person
// acknowledges it). The same patient (a new name, a merged identifier, the
// nurse's entries) keeps everything. Continuous values taken while the bed
// had no patient are the incoming patient's when the bed was silent for a
// while after the last departure (a new episode), spot values never; a bed
// that never had a patient keeps what it has. A physiological alarm is the
// admission's in the bed when it was raised, or none's, for ever: whenever
// the bed's admission changes, those of another admission leave, except those
// of none about values the admission keeps. Changes come over the bus, as the
// API and the ADT feed send them.
import t, { type Test } from 'tap';
import type { PatientContext } from '../../../edge/alarms/bedNews2.js';
import { NEW_EPISODE_GAP_MS, PATIENT_LEFT } from '../../../edge/alarms/engine.js';
import type { CommittedItem } from '../../../edge/ingest/types.js';
import type { Alarm, AlarmEvent } from '../../../edge/alarms/types.js';
import { alarmHarness, alarmStoreOnDisk, type Harness } from '../../helpers/alarms.js';

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

t.test('monitoring before the first admission: the patient keeps those values and their alarms', async (t) => {
  const h = await started(t, { news2: { delayMs: 0 } });
  h.obs('mon-1', { rr: 26, spo2: 95, pr: 120, nibp_sys: 100 });
  const alarm = h.open().find((a) => a.rule === 'news2');
  t.match(alarm, { admission: null }, "NEWS2 alarm raised with no patient admitted: nobody's");
  // The ADT feed's A01 brings the patient with the entries the nurse recorded (oxygen, confusion).
  place(h, '1', 1, { onOxygen: true, consciousness: { value: 'C', at: h.clock.t } });
  t.match(h.engine.bed('1').vitals, { nibp_sys: { value: 100 } }, 'a bed that never had a patient keeps its values');
  t.match(
    h.engine.bed('1').news2,
    { score: 13, parts: { sbp: 2, oxygen: 2, consciousness: 3 } },
    'scored again at the admission, not at the next reading or tick',
  );
  t.same(
    h
      .open()
      .filter((a) => a.rule === 'news2')
      .map((a) => [a.id === alarm!.id, a.state, a.admission, a.left ?? false, a.value]),
    [[true, 'active', null, false, 13]],
    'the alarm of no admission goes on, about the same values: none raised afresh',
  );

  // Discharged, the bed silent (devices off, the bed made up), then monitored again before the next admission.
  place(h, '1', undefined);
  h.advance(NEW_EPISODE_GAP_MS);
  h.obs('mon-1', { spo2: 96, temp: 36.5 });
  place(h, '1', 2);
  t.same(
    Object.keys(h.engine.bed('1').vitals),
    ['spo2'],
    "only the continuous values since the bed was silent: a spot value taken with no patient is nobody's",
  );
});

t.test("after a departure, what the bed sends on without a break is not the next patient's", async (t) => {
  const h = await started(t, { limits: { spo2: { priority: 'medium', delayMs: 0 } } });
  place(h, '1', 1);
  h.obs('mon-1', { rr: 16, spo2: 97, pr: 70 });
  place(h, '1', undefined);
  // The departing patient still attached: a last blood pressure and temperature, an SpO2 alarm.
  h.advance(30_000);
  h.obs('mon-1', { nibp_sys: 100, temp: 38.5, spo2: 85 });
  h.advance(NEW_EPISODE_GAP_MS - 1000);
  h.obs('mon-1', { rr: 16, spo2: 85, pr: 70 });
  t.match(h.engine.bed('1').vitals, { nibp_sys: { value: 100 } }, 'shown while the bed has no patient');
  const [alarm] = h.open();
  t.match(alarm, { rule: 'limit', metric: 'spo2', admission: null }, 'raised after the departure: of no admission');
  const before = h.events.length;
  place(h, '1', 2);
  t.same(h.engine.bed('1').vitals, {}, 'the bed streamed on since the departure: forgotten at the admission');
  t.equal(h.engine.bed('1').news2, null);
  t.same(
    h.events
      .slice(before)
      .map((e) => `${e.phase}:${e.rule}`)
      .sort(),
    ['cleared:limit', 'cleared:news2'],
    'and its alarms ended (SpO2 85 and the blood pressure: NEWS2 5)',
  );
  h.obs('mon-1', { rr: 16, spo2: 97, pr: 70 });
  t.ok(h.engine.bed('1').news2?.missing.includes('sbp'), "the first patient's blood pressure is not in NEWS2");

  // Once the bed is silent for the gap, what comes next is a new episode: kept for the next admission.
  place(h, '1', undefined);
  h.obs('mon-1', { nibp_sys: 100 });
  h.advance(NEW_EPISODE_GAP_MS);
  h.obs('mon-1', { temp: 37 });
  t.same(Object.keys(h.engine.bed('1').vitals), ['temp'], 'what came before the silence is forgotten at once');
  h.advance(60_000);
  h.obs('mon-1', { rr: 16 });
  place(h, '1', 3);
  t.same(
    Object.keys(h.engine.bed('1').vitals),
    ['rr'],
    "the new episode's continuous values are the incoming patient's, its spot values not",
  );

  // A bed never occupied since the start keeps everything, as before.
  h.obs('mon-2', { nibp_sys: 120 });
  place(h, '2', 4);
  t.match(h.engine.bed('2').vitals, { nibp_sys: { value: 120 } });
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
  const latched = h.open().find((a) => a.rule === 'limit')!;
  const before = h.events.length;
  place(h, '1', undefined);
  const ended = h.events.slice(before);
  t.same(
    ended.map((e) => `${e.phase}:${e.rule}`).sort(),
    ['latched:news2', 'updated:limit'],
    'each condition ends as if it had cleared: the active high NEWS2 alarm latches, the latched pulse stays latched',
  );
  t.ok(
    ended.every((e) => e.message.endsWith(`; ${PATIENT_LEFT}`)),
    'saying why',
  );
  t.same(
    h
      .open()
      .map((a) => `${a.rule}:${a.state}`)
      .sort(),
    ['limit:latched', 'news2:latched', 'sensor:active'],
    'nobody has seen them: they stay until a person acknowledges them; the sensor is still off',
  );
  t.match(h.engine.bed('1').alarms, [{ message: new RegExp(`; ${PATIENT_LEFT}$`) }], 'shown on the bed, saying why');
  // The next patient: the same pulse condition raises an alarm of its own, never the first one's.
  place(h, '1', 2);
  const second = h.events.length;
  h.status('mon-1', { sensor: 'ok' });
  h.obs('mon-1', { rr: 16, spo2: 97, pr: 150 });
  const own = h.open().find((a) => a.rule === 'limit' && a.id !== latched.id);
  t.match(own, { state: 'active', admission: 2 }, "the second patient's pulse alarm");
  t.match(
    h.open().find((a) => a.id === latched.id),
    { state: 'latched', admission: 1 },
    'the first one is not re-activated',
  );
  for (let i = 0; i < 300; i++) {
    h.obs('mon-1', { rr: 16, spo2: 97, pr: 72 });
    h.advance(1000);
  }
  t.ok(
    h.events.slice(second).every((e) => e.phase !== 'updated'),
    'nor updated',
  );
  // The nurse acknowledges the first patient's alarms: over.
  for (const alarm of h.open().filter((a) => a.admission === 1)) h.engine.acknowledge(alarm.id, 'nurse');
  t.same(
    h.open().map((a) => `${a.rule}:${a.state}:${a.admission}`),
    ['limit:latched:2'],
    "only the second patient's (latched: high) is open",
  );
});

t.test('an acknowledged alarm, or one that does not latch, clears at once when its patient leaves', async (t) => {
  const h = await started(t, {
    limits: { pulse: { priority: 'high', delayMs: 0 }, spo2: { priority: 'medium', delayMs: 0 } },
  });
  place(h, '1', 1);
  h.obs('mon-1', { pr: 150, spo2: 85 });
  h.engine.acknowledge(h.open().find((a) => a.metric === 'pulse')!.id, 'nurse');
  const before = h.events.length;
  place(h, '1', undefined);
  t.same(
    h.events
      .slice(before)
      .map((e) => `${e.phase}:${e.metric}`)
      .sort(),
    ['cleared:pulse', 'cleared:spo2'],
  );
  t.same(h.open(), []);
});

/** SpO2 below 88 (medium: does not latch), pulse above 130 (high: latches), blood pressure below 90 (spot), at once. */
const LIMITS = {
  limits: {
    spo2: { low: 88, priority: 'medium', delayMs: 0 },
    pulse: { high: 130, priority: 'high', delayMs: 0 },
    nibp_sys: { low: 90, priority: 'medium', delayMs: 0 },
  },
};

/** The bed's open limit alarms, sorted, as `metric:state:admission:left`. */
function limitAlarms(h: Harness): string[] {
  return h
    .open()
    .filter((a) => a.rule === 'limit')
    .map((a) => `${a.metric}:${a.state}:${a.admission}:${a.left === true ? 'left' : 'own'}`)
    .sort();
}

t.test('monitored before the registration: its alarms are the patient admitted, and go on', async (t) => {
  const h = await started(t, LIMITS);
  h.obs('mon-1', { spo2: 85, pr: 150 });
  h.advance(1000);
  const before = h.open().filter((a) => a.rule === 'limit');
  t.same(limitAlarms(h), ['pulse:active:null:own', 'spo2:active:null:own'], 'raised with no patient admitted');
  const events = h.events.length;
  place(h, '1', 1);
  t.same(
    h.events.slice(events).filter((e) => e.rule === 'limit'),
    [],
    'nothing ends or latches at the admission: nobody left the bed',
  );
  for (const alarm of before)
    t.match(
      h.open().find((a) => a.id === alarm.id),
      { key: alarm.key, state: 'active', admission: null, message: alarm.message },
      `${alarm.metric}: the same alarm, still of no admission, saying nothing of a departure`,
    );
  t.notOk(
    h.open().some((a) => a.left || a.message.endsWith(PATIENT_LEFT)),
    'none left',
  );
  // The next low readings: the open alarms hold, none is raised for the admission.
  h.obs('mon-1', { spo2: 84, pr: 152 });
  h.advance(1000);
  t.equal(h.open().filter((a) => a.rule === 'limit').length, 2, 'no second alarm for the same condition');
  t.same(
    h.events.slice(events).filter((e) => e.rule === 'limit' && e.phase === 'raised'),
    [],
  );
  // The conditions clear: the non-latching one ends, the latching one latches, each by its condition.
  h.obs('mon-1', { spo2: 97, pr: 80 });
  t.same(limitAlarms(h), ['pulse:latched:null:own']);
  t.notOk(
    h.events.slice(events).some((e) => e.message.endsWith(PATIENT_LEFT)),
    'no event says the patient left',
  );
  // The nurse acknowledges it: over.
  h.engine.acknowledge(h.open().find((a) => a.metric === 'pulse')!.id, 'nurse');
  t.same(limitAlarms(h), []);
});

t.test('an alarm kept at the admission leaves when that patient leaves the bed', async (t) => {
  const h = await started(t, LIMITS);
  h.obs('mon-1', { spo2: 85, pr: 150 });
  place(h, '1', 1);
  h.obs('mon-1', { nibp_sys: 80 });
  t.same(limitAlarms(h), ['nibp_sys:active:1:own', 'pulse:active:null:own', 'spo2:active:null:own']);
  place(h, '1', undefined);
  t.same(limitAlarms(h), ['pulse:latched:null:left'], 'the latching one stays until acknowledged; the others end');
  t.ok(
    h.events
      .filter((e) => e.rule === 'limit' && e.phase === 'cleared')
      .every((e) => e.message.endsWith(`; ${PATIENT_LEFT}`)),
    'saying why',
  );
});

t.test('a new episode before the admission: its continuous alarms go on, spot ones and older ones leave', async (t) => {
  const h = await started(t, LIMITS);
  place(h, '1', 1);
  place(h, '1', undefined);
  // The departing patient still attached: a pulse of 150, then the devices are taken off.
  h.obs('mon-1', { pr: 150 });
  h.engine.acknowledge(h.open().find((a) => a.metric === 'pulse')!.id, 'nurse');
  h.advance(NEW_EPISODE_GAP_MS);
  // The next patient monitored before the registration: a new episode.
  h.obs('mon-1', { spo2: 85, pr: 150, nibp_sys: 80 });
  h.advance(1000);
  const spo2 = h.open().find((a) => a.metric === 'spo2')!;
  t.same(
    limitAlarms(h),
    ['nibp_sys:active:null:own', 'pulse:acknowledged:null:own', 'spo2:active:null:own'],
    "the pulse alarm raised before the episode, then the episode's",
  );
  const events = h.events.length;
  place(h, '1', 2);
  t.same(
    h.events
      .slice(events)
      .filter((e) => e.rule === 'limit')
      .map((e) => `${e.phase}:${e.metric}:${e.message.endsWith(`; ${PATIENT_LEFT}`)}`)
      .sort(),
    ['cleared:nibp_sys:true', 'cleared:pulse:true'],
    'the spot alarm and the one from before the episode leave',
  );
  t.match(
    h.open().find((a) => a.metric === 'spo2'),
    { id: spo2.id, state: 'active', admission: null },
  );
  h.obs('mon-1', { spo2: 84, pr: 150, nibp_sys: 80 });
  t.same(
    limitAlarms(h),
    ['nibp_sys:active:2:own', 'pulse:active:2:own', 'spo2:active:null:own'],
    "the SpO2 alarm holds on; the admission's own pulse and blood pressure alarms are raised afresh",
  );
});

t.test('a restart: alarms of a patient who left while the daemon was down end as when they leave', async (t) => {
  const { store } = alarmStoreOnDisk(t);
  const sink = { name: 'store', onEvent: (event: AlarmEvent, alarm: Alarm) => store.record([[event, alarm]]) };
  const config = { limits: { pulse: { priority: 'high', delayMs: 0 }, spo2: { priority: 'medium', delayMs: 0 } } };
  const first = alarmHarness(config, undefined, [sink]);
  await first.engine.start();
  place(first, '1', 1);
  place(first, '2', 2);
  first.obs('mon-1', { pr: 150, spo2: 85 });
  first.obs('mon-2', { spo2: 85 });
  await first.engine.stop();

  // While it was down: bed 1's patient discharged and another admitted; bed 2's stays.
  const next = alarmHarness(config, undefined, [sink], { restored: store.open(), clock: first.clock });
  next.admissions.set('1', 3);
  next.admissions.set('2', 2);
  await next.engine.start();
  t.teardown(() => next.engine.stop());
  t.same(
    next.events.map((e) => `${e.phase}:${e.bed}:${e.metric}`),
    ['latched:1:pulse', 'cleared:1:spo2'],
    "bed 1: the high alarm latches under its patient, the other clears; bed 2's stays",
  );
  t.same(
    next
      .open()
      .map((a) => `${a.bed}:${a.metric}:${a.state}:${a.admission}`)
      .sort(),
    ['1:pulse:latched:1', '2:spo2:active:2'],
  );
  next.obs('mon-1', { pr: 150 });
  t.equal(next.open().filter((a) => a.metric === 'pulse').length, 2, "the new patient's pulse raises its own alarm");

  // Restarted again: the left alarm is still left (its key is the new patient's alarm's too).
  await next.engine.stop();
  const third = alarmHarness(config, undefined, [sink], { restored: store.open(), clock: first.clock });
  third.admissions.set('1', 3);
  third.admissions.set('2', 2);
  await third.engine.start();
  t.teardown(() => third.engine.stop());
  t.same(third.events, [], 'nothing ends again');
  t.equal(
    third
      .open()
      .find((a) => a.admission === 1)!
      .message.split(PATIENT_LEFT).length,
    2,
    'and says why once',
  );
  third.obs('mon-1', { pr: 70 });
  t.same(
    third
      .open()
      .map((a) => `${a.bed}:${a.metric}:${a.state}:${a.admission}`)
      .sort(),
    ['1:pulse:latched:1', '1:pulse:latched:3', '2:spo2:active:2'],
    "the new patient's alarm latches as its own; the left one is untouched",
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

t.test("a spot-check ward: the departing patient's last observations never reach the next patient", async (t) => {
  // A spot monitor minutes apart (never silent), and an oximeter put on when someone is in the bed.
  const devices = [
    { id: 'spot-1', bed: '1', silentAfterMs: 0 },
    { id: 'pox-1', bed: '1', silentAfterMs: 0 },
  ];
  const h = await started(t, {}, devices);
  place(h, '1', 1);
  h.obs('spot-1', { nibp_sys: 130, nibp_dia: 80, nibp_map: 97 });
  h.advance(600_000);
  place(h, '1', undefined);
  // A minute after the discharge, the nurse's last round still on the departing patient.
  h.advance(60_000);
  h.obs('spot-1', { nibp_sys: 100, temp: 38.5 });
  h.advance(1_200_000);
  place(h, '1', 2);
  t.same(h.engine.bed('1').vitals, {}, "the new patient's bed view has none of them");
  t.equal(h.engine.bed('1').news2, null);
  t.equal(h.engine.vitalsOf('1').latest.size, 0);
  h.obs('pox-1', { spo2: 97, pr: 70 });
  const news2 = h.engine.bed('1').news2;
  t.ok(news2?.missing.includes('sbp') && news2.missing.includes('temp'), 'nor NEWS2');

  // After a silence of the gap too (a new episode): a spot value taken while the bed had no patient is nobody's.
  place(h, '1', undefined);
  h.advance(NEW_EPISODE_GAP_MS + 60_000);
  h.obs('spot-1', { nibp_sys: 100, nibp_dia: 60, nibp_map: 73, temp: 38.5 });
  h.advance(60_000);
  h.obs('pox-1', { spo2: 96, pr: 72 });
  place(h, '1', 3);
  t.same(Object.keys(h.engine.bed('1').vitals).sort(), ['pr', 'pulse', 'spo2'], 'the continuous values only');
  t.ok(h.engine.bed('1').news2?.missing.includes('sbp'));
});
