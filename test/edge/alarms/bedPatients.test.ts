// Which admission a bed's values belong to, decided without the engine: what
// a bed forgets when its admission changes and which of its alarms stay, when
// a reading starts a new episode, and from when readings are no longer a
// previous patient's.
import t from 'tap';
import {
  BedPatients,
  NEW_EPISODE_GAP_MS,
  type AlarmAbout,
  type BedAdmissions,
} from '../../../edge/alarms/bedPatients.js';

const T0 = Date.parse('2026-11-27T09:00:00Z');

/** Beds and their admissions as the database has them, and when each bed's last patient left. */
function directory(admitted: Record<string, number> = {}, departed: Record<string, number> = {}): BedAdmissions {
  return {
    get: (bed) => (admitted[bed] === undefined ? undefined : { admission: admitted[bed] }),
    current: () => Object.entries(admitted).map(([bed, admission]) => ({ bed, admission })),
    departed: () => new Map(Object.entries(departed)),
  };
}

function started(admitted: Record<string, number> = {}, departed: Record<string, number> = {}): BedPatients {
  const patients = new BedPatients(directory(admitted, departed), T0 - 1000);
  patients.start(T0);
  return patients;
}

t.test('the same admission: nothing changes', async (t) => {
  const patients = started({ '1': 7 });
  t.equal(patients.changed('1', 7, T0 + 1000), undefined);
  t.match(patients.of('1'), { admission: 7, gap: Infinity });
  t.equal(patients.since('1'), -Infinity, 'readings received before are still the patient in it');
});

t.test('a departure: the bed forgets everything, and a silence from then starts a new episode', async (t) => {
  const patients = started({ '1': 7 });
  const left = T0 + 60_000;
  t.equal(patients.changed('1', null, left)?.forget, 'everything');
  t.match(patients.of('1'), { admission: null, vacancy: 'departed', heard: left, gap: NEW_EPISODE_GAP_MS });
  t.equal(patients.since('1'), left, "readings received before the departure were the departed patient's");
  // The bed streams on: each reading is heard, no episode begins.
  t.notOk(patients.startsEpisode(patients.of('1'), left + 5000));
  t.notOk(patients.startsEpisode(patients.of('1'), left + 5000 + NEW_EPISODE_GAP_MS - 1));
  t.equal(patients.of('1').vacancy, 'departed');
  // Then silent for the gap: the next reading starts one.
  const back = left + 5000 + 2 * NEW_EPISODE_GAP_MS;
  t.ok(patients.startsEpisode(patients.of('1'), back));
  t.match(patients.of('1'), { vacancy: 'episode', heard: back, gap: Infinity });
  t.notOk(patients.startsEpisode(patients.of('1'), back + 10 * NEW_EPISODE_GAP_MS), 'once only');
});

t.test('an arrival after a departure without a new episode: everything goes', async (t) => {
  const patients = started({ '1': 7 });
  patients.changed('1', null, T0 + 1000);
  patients.startsEpisode(patients.of('1'), T0 + 2000);
  t.equal(patients.changed('1', 8, T0 + 3000)?.forget, 'everything');
  t.match(patients.of('1'), { admission: 8, vacancy: 'departed', gap: Infinity });
  t.equal(patients.since('1'), T0 + 3000);
  t.notOk(patients.startsEpisode(patients.of('1'), T0 + 3000 + 10 * NEW_EPISODE_GAP_MS), 'no episode while admitted');
});

t.test('an arrival after a new episode: only the spot values go', async (t) => {
  const patients = started({ '1': 7 });
  patients.changed('1', null, T0);
  t.ok(patients.startsEpisode(patients.of('1'), T0 + NEW_EPISODE_GAP_MS));
  t.equal(patients.changed('1', 8, T0 + NEW_EPISODE_GAP_MS + 1000)?.forget, 'spot');
  t.equal(patients.since('1'), T0 + NEW_EPISODE_GAP_MS + 1000);
  t.match(patients.of('1'), { admission: 8, gap: Infinity });
});

t.test('another patient admitted over the one in the bed: everything goes', async (t) => {
  const patients = started({ '1': 7 });
  t.equal(patients.changed('1', 8, T0 + 1000)?.forget, 'everything');
  t.match(patients.of('1'), { admission: 8, gap: Infinity });
});

t.test('a bed that never had a patient keeps what it holds at its first admission', async (t) => {
  const patients = started();
  const bed = patients.of('4');
  t.match(bed, { admission: null, vacancy: 'never', heard: T0, gap: Infinity });
  t.notOk(patients.startsEpisode(bed, T0 + 10 * NEW_EPISODE_GAP_MS), 'silence tells nothing there');
  t.equal(patients.changed('4', 3, T0 + 20 * NEW_EPISODE_GAP_MS)?.forget, 'nothing');
  t.equal(patients.since('4'), -Infinity);
  t.equal(patients.of('4'), bed, 'the same object the engine holds for the bed');
  t.equal(bed.admission, 3);
  // A bed first heard of at a change: it had no admission since the start.
  t.equal(patients.changed('5', 2, T0 + 1000)?.forget, 'nothing');
  t.equal(patients.changed('6', null, T0 + 1000), undefined, 'still none: nothing changes');
});

t.test('which open alarms of the bed stay at a change: those about values the admission keeps', async (t) => {
  /** An alarm of `admission` raised at `raisedAt` by `rule` on `metric`. */
  const alarm = (admission: number | null, raisedAt: number, metric: string | null, rule = 'limit'): AlarmAbout => ({
    admission,
    raisedAt,
    metric,
    rule,
  });
  // A bed that never had a patient: every alarm of no admission is the incoming patient's.
  const never = started().changed('4', 3, T0 + 60_000)!;
  t.equal(never.bed, '4');
  for (const kept of [alarm(null, T0 - 5000, 'spo2'), alarm(null, T0, 'nibp_sys'), alarm(null, T0, 'news2', 'news2')])
    t.ok(never.keeps(kept), `${kept.metric} raised before the admission stays`);
  t.notOk(never.keeps(alarm(2, T0, 'spo2')), "another admission's leaves");
  t.ok(never.keeps(alarm(3, T0, 'spo2')), "the admission's own stays");

  // A new episode after a departure: continuous alarms raised since it began stay, nothing else.
  const patients = started({ '1': 7 });
  patients.changed('1', null, T0);
  const began = T0 + NEW_EPISODE_GAP_MS;
  t.ok(patients.startsEpisode(patients.of('1'), began));
  t.equal(patients.of('1').episodeAt, began);
  const episode = patients.changed('1', 8, began + 30_000)!;
  t.equal(episode.forget, 'spot');
  t.ok(episode.keeps(alarm(null, began, 'spo2')), 'raised as the episode began');
  t.ok(episode.keeps(alarm(null, began + 10_000, 'pulse', 'rate')), 'a rate alarm on a continuous metric');
  t.notOk(episode.keeps(alarm(null, began - 1, 'spo2')), 'raised before the episode: the departed patient may be its');
  t.notOk(episode.keeps(alarm(null, began + 10_000, 'nibp_sys')), 'a spot metric: forgotten');
  t.notOk(episode.keeps(alarm(null, began + 10_000, 'temp')));
  t.notOk(episode.keeps(alarm(null, began + 10_000, 'news2', 'news2')), 'NEWS2 counted the forgotten spot values');
  t.notOk(episode.keeps(alarm(null, began + 10_000, null)));
  t.notOk(episode.keeps(alarm(7, began + 10_000, 'spo2')), "the departed patient's");

  // The next departure: every alarm of no admission leaves, the ones kept at the admission too.
  const departure = patients.changed('1', null, began + 60_000)!;
  t.equal(departure.forget, 'everything');
  t.notOk(departure.keeps(alarm(null, began, 'spo2')), 'kept at the admission, about the patient who leaves');
  t.notOk(departure.keeps(alarm(8, began + 40_000, 'spo2')));

  // Streamed on since a departure, or another patient admitted over one: nothing of no admission stays.
  const streamed = started({ '1': 7 });
  streamed.changed('1', null, T0);
  streamed.startsEpisode(streamed.of('1'), T0 + 1000);
  t.notOk(streamed.changed('1', 8, T0 + 2000)!.keeps(alarm(null, T0 + 1000, 'spo2')));
  t.notOk(
    started({ '1': 7 })
      .changed('1', 8, T0)!
      .keeps(alarm(null, T0 - 1000, 'spo2')),
  );
});

t.test('a bed whose patient left before the start: the silence counts from the start', async (t) => {
  const patients = started({ '1': 7 }, { '2': T0 - 60_000 });
  t.match(patients.of('2'), { admission: null, vacancy: 'departed', heard: T0, gap: NEW_EPISODE_GAP_MS });
  t.match(patients.of('1'), { admission: 7, vacancy: 'never', gap: Infinity });
  t.notOk(patients.startsEpisode(patients.of('2'), T0 + NEW_EPISODE_GAP_MS - 1));
  t.equal(patients.changed('2', 9, T0 + NEW_EPISODE_GAP_MS)?.forget, 'everything', 'it streamed on since the start');
  // Known at the start only as departed, its first change: everything goes.
  const other = started({}, { '3': T0 - 60_000 });
  t.equal(other.changed('3', 9, T0 + 1000)?.forget, 'everything');
});

t.test('a bed with a patient now that one left before: not departed, its admission is what counts', async (t) => {
  const patients = started({ '1': 7 }, { '1': T0 - 60_000 });
  t.match(patients.of('1'), { admission: 7, vacancy: 'never', gap: Infinity });
  t.equal(patients.changed('1', null, T0 + 1000)?.forget, 'everything');
});

t.test('which open alarms restored from the last run stay at the start', async (t) => {
  const LEFT = T0 - 60_000;
  // Bed 1: admission 7, never a departure; 2: admission 8, one left before; 3: none, one left; 4: none, never one.
  const patients = started({ '1': 7, '2': 8 }, { '2': LEFT, '3': LEFT });
  const alarm = (admission: number | null, raisedAt: number): AlarmAbout => ({
    admission,
    raisedAt,
    metric: 'spo2',
    rule: 'limit',
  });
  const cases: ReadonlyArray<[string, AlarmAbout, boolean, string]> = [
    ['1', alarm(7, LEFT), true, "the bed's admission's"],
    ['1', alarm(6, LEFT), false, "another admission's: its patient left while the daemon was down"],
    ['1', alarm(null, LEFT - 1000), true, 'none, in a bed whose patient is its first: kept at the admission'],
    ['2', alarm(8, LEFT + 1000), true, "the bed's admission's"],
    [
      '2',
      alarm(null, LEFT + 1000),
      false,
      'none, in a bed a patient left before: whose values it was about is unknown',
    ],
    ['2', alarm(null, LEFT - 1000), false, 'none, raised before the last departure'],
    ['3', alarm(null, LEFT - 1000), false, 'none, raised before its patient left while the daemon was down'],
    ['3', alarm(null, LEFT), false, 'none, raised as its patient left'],
    ['3', alarm(null, LEFT + 1000), true, 'none, raised after the last departure: the bed has no patient still'],
    ['3', alarm(7, LEFT - 1000), false, 'of an admission, in a bed with none'],
    ['4', alarm(null, T0 - 3_600_000), true, 'none, in a bed that never had a patient, however old'],
    ['5', alarm(null, T0 - 1000), true, 'none, in a bed the start did not name'],
  ];
  for (const [bed, restored, stays, why] of cases)
    t.equal(patients.keepsAtStart(bed, restored), stays, `bed ${bed}: ${why}`);
});

t.test('a new episode is kept where the next start reads it, once per departure', async (t) => {
  const kept: Array<[string, number]> = [];
  const episodes = { began: (bed: string, at: number) => kept.push([bed, at]), last: () => new Map<string, number>() };
  const patients = new BedPatients(directory({ '1': 7 }), T0, episodes);
  patients.start(T0);
  patients.changed('1', null, T0);
  patients.startsEpisode(patients.of('1'), T0 + 1000);
  t.same(kept, [], 'the bed streamed on: no episode');
  const began = T0 + 1000 + NEW_EPISODE_GAP_MS;
  patients.startsEpisode(patients.of('1'), began);
  patients.startsEpisode(patients.of('1'), began + 10 * NEW_EPISODE_GAP_MS);
  t.same(kept, [['1', began]]);
  // A bed that never had a patient starts no episode, however long its silence.
  patients.startsEpisode(patients.of('4'), T0 + 100 * NEW_EPISODE_GAP_MS);
  t.same(kept, [['1', began]]);
});

t.test(
  'after a departure, an alarm of no admission stays at the start as the admission after a new episode kept it',
  async (t) => {
    const LEFT = T0 - 3_600_000;
    const EPISODE = LEFT + 600_000;
    const ADMITTED = EPISODE + 60_000;
    /** Bed 1 was admitted at `admittedAt` after its patient left at LEFT; its last episode began at `episodeAt`. */
    const start = (episodeAt: number | undefined, admittedAt = ADMITTED) => {
      const directory: BedAdmissions = {
        get: (bed) => (bed === '1' ? { admission: 8 } : undefined),
        current: () => [{ bed: '1', admission: 8, admittedAt }],
        departed: () => new Map([['1', LEFT]]),
      };
      const last = new Map(episodeAt === undefined ? [] : [['1', episodeAt]]);
      const patients = new BedPatients(directory, T0, { began: () => {}, last: () => last });
      patients.start(T0);
      return patients;
    };
    const alarm = (raisedAt: number, metric: string | null, rule = 'limit'): AlarmAbout => ({
      admission: null,
      raisedAt,
      metric,
      rule,
    });
    const cases: ReadonlyArray<[number | undefined, number, AlarmAbout, boolean, string]> = [
      [EPISODE, ADMITTED, alarm(EPISODE + 1000, 'spo2'), true, 'raised since the episode, on a continuous value'],
      [EPISODE, ADMITTED, alarm(EPISODE, 'pulse', 'rate'), true, 'raised as the episode began'],
      [EPISODE, EPISODE, alarm(EPISODE, 'spo2'), true, 'admitted as the episode began'],
      [EPISODE, ADMITTED, alarm(EPISODE - 1, 'spo2'), false, 'raised before the episode'],
      [EPISODE, ADMITTED, alarm(EPISODE + 1000, 'nibp_sys'), false, 'a spot value'],
      [EPISODE, ADMITTED, alarm(EPISODE + 1000, 'temp'), false, 'a spot value'],
      [EPISODE, ADMITTED, alarm(EPISODE + 1000, 'news2', 'news2'), false, 'NEWS2, which counts spot values'],
      [undefined, ADMITTED, alarm(EPISODE + 1000, 'spo2'), false, 'no episode kept: the bed streamed on'],
      [LEFT, ADMITTED, alarm(EPISODE + 1000, 'spo2'), false, 'the episode was at the departure, not after it'],
      [LEFT - 60_000, ADMITTED, alarm(EPISODE + 1000, 'spo2'), false, 'the episode was before the last departure'],
      [EPISODE, EPISODE - 1, alarm(EPISODE + 1000, 'spo2'), false, 'admitted before the episode (moved in)'],
    ];
    for (const [episodeAt, admittedAt, restored, stays, why] of cases)
      t.equal(start(episodeAt, admittedAt).keepsAtStart('1', restored), stays, why);
    t.notOk(
      start(EPISODE).keepsAtStart('1', { ...alarm(EPISODE + 1000, 'spo2'), admission: 6 }),
      "another admission's",
    );
  },
);

t.test('an admission moved into the bed counts from the move, not from its first admission time', async (t) => {
  const LEFT = T0 - 3_600_000;
  const EPISODE = LEFT + 600_000;
  const ADMITTED = LEFT - 3_600_000;
  /** Bed 1's admission 8, admitted at ADMITTED in another bed, came into bed 1 at `arrivedAt` (undefined: not known). */
  const start = (arrivedAt: number | undefined) => {
    const directory: BedAdmissions = {
      get: (bed) => (bed === '1' ? { admission: 8 } : undefined),
      current: () => [{ bed: '1', admission: 8, admittedAt: ADMITTED }],
      departed: () => new Map([['1', LEFT]]),
      arrived: () => new Map(arrivedAt === undefined ? [] : [['1', arrivedAt]]),
    };
    const patients = new BedPatients(directory, T0, { began: () => {}, last: () => new Map([['1', EPISODE]]) });
    patients.start(T0);
    return patients;
  };
  const alarm: AlarmAbout = { admission: null, raisedAt: EPISODE + 1000, metric: 'spo2', rule: 'limit' };
  t.ok(start(EPISODE + 60_000).keepsAtStart('1', alarm), 'moved in after the episode: kept as at the move');
  t.ok(start(EPISODE).keepsAtStart('1', alarm), 'moved in as the episode began');
  t.notOk(start(EPISODE - 1).keepsAtStart('1', alarm), 'moved in before the episode');
  t.notOk(start(undefined).keepsAtStart('1', alarm), 'not known: its admission time, before the episode');
});

t.test('a bed first seen before the start counts from when the engine was built', async (t) => {
  const patients = new BedPatients(directory({ '1': 7 }), T0 - 1000);
  t.match(patients.of('1'), { admission: 7, heard: T0 - 1000 });
});
