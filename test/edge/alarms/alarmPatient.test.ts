// A physiological alarm is the admission's in its bed when it was raised, or
// nobody's, for every event it has: the end of the previous patient's alarm,
// which comes when (or after) they leave the bed, goes to the hospital's alarm
// manager (PCD-04 PID-3) and to the cloud (the pseudonym) under that patient,
// not under the one admitted after them nor under nobody; one raised while the
// bed had no admitted patient goes with the bed only, and is never given to
// the next patient, restart or not; a transfer does not take the old bed's
// alarms from their patient. The engine, the admissions, the store, the alarm
// manager's outbox and the sync's batch are the real ones, on one disk.
import t, { type Test } from 'tap';
import { NEW_EPISODE_GAP_MS, PATIENT_LEFT } from '../../../edge/alarms/engine.js';
import { Admissions } from '../../../edge/patients/admissions.js';
import { AdtRecorder, type Placement } from '../../../edge/patients/adtRecorder.js';
import { AdtStore } from '../../../edge/store/adtStore.js';
import { AlarmReportOutbox } from '../../../edge/store/alarmReportOutbox.js';
import { AuditLog } from '../../../edge/store/auditLog.js';
import { EpisodeStore } from '../../../edge/store/episodeStore.js';
import { Outbox } from '../../../edge/store/outbox.js';
import { BatchBuilder } from '../../../edge/sync/batchBuilder.js';
import { Pseudonyms } from '../../../edge/sync/pseudonyms.js';
import { alarmHarness, alarmStoreOnDisk, ManualClock, type Harness } from '../../helpers/alarms.js';

const WARD_SECRET = 'ward-secret-for-alarm-patient-test-0123456789';

/** Bed 1 (mon-1) and bed 2 (mon-2), an SpO2 alarm at once below 88 (medium) and a pulse one above 130 (high). */
function ward(t: Test) {
  const { db, store } = alarmStoreOnDisk(t);
  const clock = new ManualClock();
  let admissions = new Admissions(db, new AuditLog(db), () => clock.t);
  const outbox = new AlarmReportOutbox(db);
  outbox.cursor();
  // Where new episodes are kept, as the alarm service opens it at each start and closes it at each stop.
  let episodes = new EpisodeStore(db);
  t.teardown(() => episodes.close());
  const engine = () => {
    const h = alarmHarness(
      {
        limits: {
          spo2: { low: 88, priority: 'medium', delayMs: 0 },
          pulse: { high: 130, priority: 'high', delayMs: 0 },
        },
      },
      undefined,
      [{ name: 'store', onEvent: (event, alarm) => store.record([[event, alarm]]) }],
      { patients: admissions, clock, restored: store.open(), episodes },
    );
    t.teardown(() => h.engine.stop());
    return h;
  };
  let h: Harness = engine();
  const changed = (...beds: string[]) => {
    for (const bed of beds) h.bus.emit('patient.changed', { bed });
  };
  const admit = (bed: string, identifier: string) => {
    const { patient } = admissions.admit({ bed, identifier, authority: 'HOSP' }, 'nurse');
    changed(bed);
    return patient;
  };
  /**
   * The daemon stops and starts again on the same disk: the admissions and open alarms as stored, after what
   * `whileDown` changed meanwhile (the ADT feed keeps writing while the alarm engine is down).
   */
  const restart = async (whileDown?: (admissions: Admissions) => void) => {
    await h.engine.stop();
    episodes.close();
    episodes = new EpisodeStore(db);
    admissions = new Admissions(db, new AuditLog(db), () => clock.t);
    if (whileDown) {
      whileDown(admissions);
      admissions.reload();
    }
    h = engine();
    await h.engine.start();
    return h;
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
  let controlId = 0;
  /** The ADT feed's A02 for `identifier`: to `placement` (another bed of the ward, or elsewhere). */
  const a02 = (identifier: string, placement: Placement) =>
    new AdtRecorder(db, new AuditLog(db), () => clock.t).apply(
      'HIS',
      {
        event: 'A02',
        controlId: `A02-${++controlId}`,
        eventTs: clock.t,
        patient: { identifier, authority: 'HOSP' },
        digest: `digest-${controlId}`,
      },
      placement,
    );
  return {
    db,
    get h() {
      return h;
    },
    get admissions() {
      return admissions;
    },
    admit,
    a02,
    changed,
    restart,
    reported,
    pseudonymOf,
  };
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

t.test(
  "an alarm raised before the admission is nobody's: reported with the bed only, never the patient's",
  async (t) => {
    const w = ward(t);
    await w.h.engine.start();
    w.h.obs('mon-1', { spo2: 85 });
    w.h.advance(1000);
    w.admit('1', 'MRN-A');
    w.h.obs('mon-1', { spo2: 97 });
    t.same(w.reported(), [
      { event: 'raised:spo2', mrn: undefined, pseudonym: undefined },
      { event: 'cleared:spo2', mrn: undefined, pseudonym: undefined },
    ]);
  },
);

/** Bed 1 never had a patient: SpO2 85 and pulse 150 raise alarms of no admission, kept at A's admission. */
async function keptAtAdmission(w: ReturnType<typeof ward>) {
  await w.h.engine.start();
  w.h.obs('mon-1', { spo2: 85, pr: 150 });
  const kept = w.h.open();
  w.h.advance(1000);
  w.admit('1', 'MRN-A');
  w.h.obs('mon-1', { spo2: 84, pr: 152 });
  w.h.advance(1000);
  return kept;
}

/** The limit alarms open, sorted, as `metric:state:admission:left`. */
function limitAlarms(w: ReturnType<typeof ward>): string[] {
  return w.h
    .open()
    .map((a) => `${a.metric}:${a.state}:${a.admission}:${a.left === true ? 'left' : 'own'}`)
    .sort();
}

t.test(
  'raised before the registration in a bed that never had a patient, still admitted at a restart: the alarms go on',
  async (t) => {
    const w = ward(t);
    const kept = await keptAtAdmission(w);
    t.same(limitAlarms(w), ['pulse:active:null:own', 'spo2:active:null:own'], 'the same alarms, no second ones');
    await w.restart();
    t.same(w.h.events, [], 'nothing ends, latches or leaves at the start');
    for (const alarm of kept)
      t.match(
        w.h.open().find((a) => a.id === alarm.id),
        { key: alarm.key, raisedAt: alarm.raisedAt, state: 'active', admission: null, left: undefined },
        `${alarm.metric}: the same alarm, still of no admission`,
      );
    // The next low readings: the open alarms hold, none is raised for the admission.
    w.h.obs('mon-1', { spo2: 83, pr: 155 });
    t.same(limitAlarms(w), ['pulse:active:null:own', 'spo2:active:null:own'], 'no second alarm for the same condition');
    t.same(w.h.events, []);
    w.h.obs('mon-1', { spo2: 97, pr: 80 });
    t.same(limitAlarms(w), ['pulse:latched:null:own'], 'each ends with its condition');
    t.same(
      w.reported().filter((r) => !r.event.startsWith('escalated')),
      [
        { event: 'raised:spo2', mrn: undefined, pseudonym: undefined },
        { event: 'raised:pulse', mrn: undefined, pseudonym: undefined },
        { event: 'cleared:spo2', mrn: undefined, pseudonym: undefined },
        { event: 'latched:pulse', mrn: undefined, pseudonym: undefined },
      ],
      'with the bed only',
    );
  },
);

const DOWNTIME_DEPARTURES: ReadonlyArray<[string, (w: ReturnType<typeof ward>, admissions: Admissions) => void]> = [
  ['discharged (A03 or the command line)', (_w, admissions) => admissions.discharge('1', 'nurse')],
  ['moved to another bed of the ward (A02)', (w) => w.a02('MRN-A', { kind: 'bed', bed: '2' })],
  ['moved to another ward (A02)', (w) => w.a02('MRN-A', { kind: 'elsewhere' })],
];

for (const [how, depart] of DOWNTIME_DEPARTURES)
  t.test(
    `kept at the admission, the patient ${how} while the daemon was down: the alarms leave at the start`,
    async (t) => {
      const w = ward(t);
      await keptAtAdmission(w);
      await w.restart((admissions) => depart(w, admissions));
      t.equal(w.admissions.get('1'), undefined, 'bed 1 has no patient');
      t.same(
        w.h.events.map((e) => `${e.phase}:${e.metric}:${e.message.endsWith(`; ${PATIENT_LEFT}`)}`).sort(),
        ['cleared:spo2:true', 'latched:pulse:true'],
        'they end as at a departure, saying why',
      );
      t.same(limitAlarms(w), ['pulse:latched:null:left'], 'the high one stays latched until acknowledged');
      // The next patient's values in bed 1 are not the left alarm's.
      w.h.obs('mon-1', { pr: 150 });
      t.same(limitAlarms(w), ['pulse:active:null:own', 'pulse:latched:null:left']);
    },
  );

/** Bed 1's first patient leaves; its devices are taken off, then the next patient is monitored before the registration. */
function newEpisode(w: ReturnType<typeof ward>): void {
  w.admit('1', 'MRN-A');
  w.admissions.discharge('1', 'nurse');
  w.changed('1');
  w.h.advance(NEW_EPISODE_GAP_MS);
}

t.test(
  'a bed that had a patient before: an alarm kept at the admission after a new episode stays kept at a restart',
  async (t) => {
    const w = ward(t);
    await w.h.engine.start();
    newEpisode(w);
    w.h.obs('mon-1', { spo2: 85 });
    const [alarm] = w.h.open();
    w.h.advance(1000);
    w.admit('1', 'MRN-B');
    w.h.obs('mon-1', { spo2: 84 });
    t.match(w.h.open(), [{ id: alarm.id, state: 'active', admission: null }], 'kept at the admission');
    await w.restart();
    t.match(w.h.open(), [{ id: alarm.id, state: 'active', admission: null }], 'still kept: nobody left');
    t.notOk(w.h.open()[0].left);
    t.same(w.h.events, [], 'nothing leaves or ends at the restart');
    w.h.obs('mon-1', { spo2: 83 });
    t.match(w.h.open(), [{ id: alarm.id, admission: null }], 'the condition goes on in the same alarm: no second one');
    t.same(w.h.phases(), []);
    w.h.obs('mon-1', { spo2: 97 });
    t.same(w.h.open(), [], 'it ends with its condition');
    t.match(w.h.events, [{ alarmId: alarm.id, phase: 'cleared' }]);
    t.notMatch(w.h.events[0].message, PATIENT_LEFT);
    t.same(w.reported(), [
      { event: 'raised:spo2', mrn: undefined, pseudonym: undefined },
      { event: 'cleared:spo2', mrn: undefined, pseudonym: undefined },
    ]);
  },
);

t.test('an alarm kept after a new episode leaves when that patient leaves while the daemon is down', async (t) => {
  const w = ward(t);
  await w.h.engine.start();
  newEpisode(w);
  w.h.obs('mon-1', { spo2: 85 });
  w.h.advance(1000);
  w.admit('1', 'MRN-B');
  w.h.advance(1000);
  await w.restart((admissions) => admissions.discharge('1', 'adt'));
  t.same(w.h.open(), []);
  t.match(w.h.events, [{ phase: 'cleared', message: new RegExp(`; ${PATIENT_LEFT}$`) }]);
});

t.test('a bed that streamed on since its patient left: its alarm leaves at a restart as before', async (t) => {
  const w = ward(t);
  await w.h.engine.start();
  // An episode long before, kept with its bed: then B is admitted, and leaves.
  newEpisode(w);
  w.h.obs('mon-1', { spo2: 97 });
  w.admit('1', 'MRN-B');
  w.h.advance(60_000);
  w.admissions.discharge('1', 'nurse');
  w.changed('1');
  // B's monitor is still attached and streams on without a break: their SpO2 of 85.
  for (let i = 0; i < 30; i++) {
    w.h.obs('mon-1', { spo2: 85 });
    w.h.advance(1000);
  }
  const [alarm] = w.h.open();
  t.match(alarm, { metric: 'spo2', state: 'active', admission: null });
  // C is admitted while the daemon is down: the start alone decides.
  await w.restart((admissions) => admissions.admit({ bed: '1', identifier: 'MRN-C', authority: 'HOSP' }, 'adt'));
  t.same(w.h.open(), [], "B's alarm is not C's");
  t.match(w.h.events, [{ alarmId: alarm.id, phase: 'cleared', message: new RegExp(`; ${PATIENT_LEFT}$`) }]);
});

t.test(
  'a patient moved to a bed another one left, monitored there before the A02: the alarms kept at the move stay at a restart',
  async (t) => {
    const w = ward(t);
    await w.h.engine.start();
    // A is admitted to bed 1; bed 2's patient leaves and its devices are taken off.
    w.admit('1', 'MRN-A');
    w.admit('2', 'MRN-X');
    w.admissions.discharge('2', 'nurse');
    w.changed('2');
    w.h.advance(3_600_000);
    // A is wheeled into bed 2 and monitored there before the A02 arrives: a new episode, alarms of no admission.
    w.h.obs('mon-2', { spo2: 85, pr: 150 });
    const kept = w.h.open();
    w.h.advance(1000);
    w.a02('MRN-A', { kind: 'bed', bed: '2' });
    w.admissions.reload();
    w.changed('1', '2');
    w.h.obs('mon-2', { spo2: 84, pr: 152 });
    t.same(limitAlarms(w), ['pulse:active:null:own', 'spo2:active:null:own'], 'kept at the move');
    w.h.advance(1000);
    await w.restart();
    t.same(w.h.events, [], 'nothing ends, latches or leaves at the start');
    t.same(
      w.h.open().map((a) => a.id),
      kept.map((a) => a.id),
      'the same alarms',
    );
    t.same(limitAlarms(w), ['pulse:active:null:own', 'spo2:active:null:own']);
    w.h.obs('mon-2', { spo2: 83, pr: 155 });
    t.same(w.h.events, [], 'no second alarm for the same condition');
  },
);

t.test(
  'a patient moved out of the bed after its new episode and back while the daemon was down: the alarm leaves',
  async (t) => {
    const w = ward(t);
    await w.h.engine.start();
    w.admit('1', 'MRN-A');
    w.admit('2', 'MRN-X');
    w.admissions.discharge('2', 'nurse');
    w.changed('2');
    w.h.advance(3_600_000);
    w.h.obs('mon-2', { spo2: 85 });
    w.h.advance(1000);
    w.a02('MRN-A', { kind: 'bed', bed: '2' });
    w.admissions.reload();
    w.changed('1', '2');
    w.h.advance(1000);
    // While the daemon is down, A goes back to bed 1 and returns to bed 2: the bed was left after the episode.
    await w.restart(() => {
      w.a02('MRN-A', { kind: 'bed', bed: '1' });
      w.a02('MRN-A', { kind: 'bed', bed: '2' });
    });
    t.same(w.h.open(), [], 'whose values it was about is unknown');
    t.match(w.h.events, [{ phase: 'cleared', metric: 'spo2', message: new RegExp(`; ${PATIENT_LEFT}$`) }]);
  },
);

/** The pulse alarms open, oldest first, as `admission:state:left`, and who each was reported under. */
function pulseAlarms(w: ReturnType<typeof ward>) {
  return w.h
    .open()
    .filter((a) => a.metric === 'pulse')
    .sort((a, b) => a.raisedAt - b.raisedAt)
    .map((a) => `${a.admission}:${a.state}:${a.left === true ? 'left' : 'own'}`);
}

t.test(
  'an A03 on a bed not seen since the start, an alarm, an A01 of another patient, a restart: the alarm stays left',
  async (t) => {
    const w = ward(t);
    // Bed 1's patient was admitted before this start; the engine has not heard from the bed since.
    w.admissions.admit({ bed: '1', identifier: 'MRN-A', authority: 'HOSP' }, 'adt');
    await w.h.engine.start();
    w.admissions.discharge('1', 'adt');
    w.changed('1');
    // The departing patient still attached: a pulse of 150.
    w.h.obs('mon-1', { pr: 150 });
    const [alarm] = w.h.open();
    t.match(alarm, { metric: 'pulse', state: 'active', admission: null }, 'raised with no patient in the bed');
    w.h.advance(30_000);
    const b = w.admit('1', 'MRN-B');
    t.same(pulseAlarms(w), ['null:latched:left']);
    await w.restart();
    t.match(
      w.h.open().find((a) => a.id === alarm.id),
      { state: 'latched', left: true, admission: null, message: new RegExp(`; ${PATIENT_LEFT}$`) },
      'still left after the restart, saying why',
    );
    w.h.obs('mon-1', { pr: 150 });
    w.h.obs('mon-1', { pr: 70 });
    t.same(
      pulseAlarms(w),
      ['null:latched:left', `${w.admissions.get('1')!.admission}:latched:own`],
      "B's pulse raises B's own alarm; the left one is not re-activated",
    );
    const reported = w.reported().filter((r) => !r.event.startsWith('escalated'));
    t.same(
      reported,
      [
        { event: 'raised:pulse', mrn: undefined, pseudonym: undefined },
        { event: 'latched:pulse', mrn: undefined, pseudonym: undefined },
        { event: 'raised:pulse', mrn: 'MRN-B', pseudonym: w.pseudonymOf(b) },
        { event: 'latched:pulse', mrn: 'MRN-B', pseudonym: w.pseudonymOf(b) },
      ],
      'the left alarm with the bed only, never under B',
    );
  },
);

t.test('A03, then A13 (the discharge cancelled), then a restart: the left alarm stays left', async (t) => {
  const w = ward(t);
  await w.h.engine.start();
  const a = w.admit('1', 'MRN-A');
  const first = w.admissions.get('1')!.admission;
  w.h.obs('mon-1', { pr: 150 });
  w.h.advance(1000);
  w.admissions.discharge('1', 'adt');
  w.changed('1');
  // A13: the patient is back in the bed, under a new admission; their pulse is still 150.
  w.admit('1', 'MRN-A');
  const again = w.admissions.get('1')!.admission;
  w.h.advance(1000);
  w.h.obs('mon-1', { pr: 150 });
  t.same(pulseAlarms(w), [`${first}:latched:left`, `${again}:active:own`]);
  await w.restart();
  t.equal(w.h.events.length, 0, 'nothing ends or leaves at the restart');
  t.same(pulseAlarms(w), [`${first}:latched:left`, `${again}:active:own`], 'each as it was');
  w.h.obs('mon-1', { pr: 70 });
  t.same(
    pulseAlarms(w),
    [`${first}:latched:left`, `${again}:latched:own`],
    "the condition moves the second admission's alarm, never the left one",
  );
  t.ok(
    w.reported().every((r) => r.mrn === 'MRN-A' && r.pseudonym === w.pseudonymOf(a)),
    'all of them the same patient',
  );
});

t.test(
  "a restart just after a discharge, the departed patient still attached, then an admission: nothing of theirs is the next patient's",
  async (t) => {
    const w = ward(t);
    await w.h.engine.start();
    w.admit('1', 'MRN-A');
    w.h.obs('mon-1', { spo2: 97, pr: 80, nibp_sys: 120 });
    w.admissions.discharge('1', 'adt');
    w.changed('1');
    await w.restart();
    // The monitor streams on without a break: the departed patient's pulse of 150.
    for (let i = 0; i < 60; i++) {
      w.h.obs('mon-1', { spo2: 97, pr: 150, nibp_sys: 118 });
      w.h.advance(1000);
    }
    t.match(
      w.h.open().filter((a) => a.metric === 'pulse'),
      [{ state: 'active', admission: null }],
    );
    const b = w.admit('1', 'MRN-B');
    t.same(w.h.engine.bed('1').vitals, {}, 'their values are not adopted');
    t.equal(w.h.engine.bed('1').news2, null);
    t.same(pulseAlarms(w), ['null:latched:left'], 'nor their alarm');
    w.h.obs('mon-1', { pr: 72 });
    t.same(pulseAlarms(w), ['null:latched:left'], 'which no reading of the next patient moves');
    t.notOk(
      w.reported().some((r) => r.mrn === 'MRN-B' || r.pseudonym === w.pseudonymOf(b)),
      'nothing reported under the next patient',
    );
  },
);
