// The analysis on synthetic series with known answers, and (last) whole
// batches through applyMessage against the Firestore emulator.
import t from 'tap';
import { applyMessage } from '../../../cloud/analysis/analyzeReadings.js';
import { closeContext, createContext } from '../../../cloud/context.js';
import type { BatchMessage } from '../../../cloud/ingest/publish.js';
import { buildSegments, segmentId } from '../../../cloud/ingest/segments.js';
import { startFirestore } from '../../../cloud/local/emulators.js';
import { createCloudLogger } from '../../../cloud/log.js';
import { defaults, type CloudSettings } from '../../../cloud/settings.js';
import { alerts, currentState, segments } from '../../../cloud/store/paths.js';
import type { SyncReading } from '../../../shared/sync/wire.js';
import { detectAnomalies } from '../../../cloud/analysis/anomaly.js';
import { addReading, newHourDoc, percentile, summarize, type HourDoc } from '../../../cloud/analysis/hourStats.js';
import { news2, news2Level, scorePulse, scoreRr, scoreSbp, scoreSpo2, scoreTemp } from '../../../shared/news2.js';
import { analyzeSubject, type CloudAlert, type SubjectState } from '../../../cloud/analysis/patientAnalysis.js';
import { assessRisk } from '../../../cloud/analysis/risk.js';
import { mad, median, theilSenPerHour, type Point } from '../../../cloud/analysis/robust.js';
import { ReadingFlag } from '../../../shared/reading.js';
import { HOUR_MS, SLOT_MS } from '../../../cloud/store/paths.js';

/** Deterministic PRNG (mulberry32) and a normal deviate (Box-Muller), so every run sees the same series. */
function rng(seed: number) {
  let a = seed >>> 0;
  const uniform = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
  const normal = () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
  return { uniform, normal };
}

const T0 = Date.UTC(2026, 10, 27, 0, 0, 0);

t.test('NEWS2 rows match the RCP 2017 chart at every boundary', async (t) => {
  const rows: Array<[string, (v: number) => number, Array<[number, number]>]> = [
    [
      'rr',
      scoreRr,
      [
        [8, 3],
        [9, 1],
        [11, 1],
        [12, 0],
        [20, 0],
        [21, 2],
        [24, 2],
        [25, 3],
      ],
    ],
    [
      'spo2 scale 1',
      (v) => scoreSpo2(v, 1),
      [
        [91, 3],
        [92, 2],
        [93, 2],
        [94, 1],
        [95, 1],
        [96, 0],
        [100, 0],
      ],
    ],
    [
      'sbp',
      scoreSbp,
      [
        [90, 3],
        [91, 2],
        [100, 2],
        [101, 1],
        [110, 1],
        [111, 0],
        [219, 0],
        [220, 3],
      ],
    ],
    [
      'pulse',
      scorePulse,
      [
        [40, 3],
        [41, 1],
        [50, 1],
        [51, 0],
        [90, 0],
        [91, 1],
        [110, 1],
        [111, 2],
        [130, 2],
        [131, 3],
      ],
    ],
    [
      'temp',
      scoreTemp,
      [
        [35.0, 3],
        [35.1, 1],
        [36.0, 1],
        [36.1, 0],
        [38.0, 0],
        [38.1, 1],
        [39.0, 1],
        [39.1, 2],
      ],
    ],
  ];
  for (const [name, fn, cases] of rows) for (const [v, want] of cases) t.equal(fn(v), want, `${name} ${v} -> ${want}`);
  const scale2: Array<[number, boolean, number]> = [
    [83, false, 3],
    [84, false, 2],
    [85, true, 2],
    [86, false, 1],
    [87, true, 1],
    [88, true, 0],
    [92, true, 0],
    [93, false, 0],
    [99, false, 0],
    [93, true, 1],
    [94, true, 1],
    [95, true, 2],
    [96, true, 2],
    [97, true, 3],
  ];
  for (const [v, o2, want] of scale2)
    t.equal(scoreSpo2(v, 2, o2), want, `spo2 scale 2 ${v}${o2 ? ' on O2' : ' on air'} -> ${want}`);
  t.equal(scoreRr(20.4), 0, 'a mean of 20.4 is charted as 20');
  t.equal(scoreTemp(38.04), 0, 'temperature rounded to 0.1 first');
});

t.test('NEWS2 aggregate, response bands and missing inputs', async (t) => {
  const full = news2({ rr: 18, spo2: 97, oxygen: false, sbp: 120, pulse: 80, consciousness: 'A', temp: 37 });
  t.same([full.score, full.level, full.missing], [0, 'low', []]);
  const three = news2({ rr: 26, spo2: 97, oxygen: false, sbp: 120, pulse: 80, consciousness: 'A', temp: 37 });
  t.same([three.score, three.level, three.anyThree], [3, 'low-medium', true], 'a single 3 is low-medium');
  t.equal(
    news2({ rr: 22, spo2: 95, oxygen: true, sbp: 120, pulse: 80, consciousness: 'A', temp: 37 }).level,
    'medium',
    '2+1+2 = 5',
  );
  const high = news2({ rr: 26, spo2: 93, sbp: 95, pulse: 125, consciousness: 'V', temp: 39.5, oxygen: true });
  t.same([high.score, high.level], [3 + 2 + 2 + 2 + 3 + 2 + 2, 'high']);
  const partial = news2({ rr: 18, pulse: 80 });
  t.same(partial.missing, ['spo2', 'oxygen', 'sbp', 'consciousness', 'temp'], 'names every missing input');
  t.same(
    [news2Level(4, false), news2Level(5, false), news2Level(6, true), news2Level(7, false)],
    ['low', 'medium', 'medium', 'high'],
  );
});

t.test('robust statistics', async (t) => {
  t.equal(median([3, 1, 2]), 2);
  t.equal(median([4, 1, 2, 3]), 2.5);
  t.equal(mad([1, 1, 2, 2, 4, 6, 9]), 1);
  t.ok(Number.isNaN(median([])));
});

t.test('Theil-Sen recovers a planted trend within tolerance, despite outliers', async (t) => {
  const cases = [6, -4, 0, 1.5];
  for (const slope of cases) {
    const r = rng(42 + slope * 10);
    const points: Point[] = [];
    for (let i = 0; i < 48; i++) {
      const tMs = T0 + i * SLOT_MS;
      let v = 80 + slope * ((i * SLOT_MS) / HOUR_MS) + r.normal();
      if (i % 11 === 5) v += 25; // motion artifacts that a least-squares fit would follow
      points.push({ t: tMs, v });
    }
    const est = theilSenPerHour(points);
    t.ok(Math.abs(est - slope) <= 0.5, `planted ${slope}/h, estimated ${est.toFixed(2)}/h (tolerance 0.5)`);
  }
});

t.test('anomaly detector finds planted anomalies: precision and recall over 40 series', async (t) => {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  for (let seed = 1; seed <= 40; seed++) {
    const r = rng(seed);
    const planted = new Set<number>();
    while (planted.size < 4) planted.add(12 + Math.floor(r.uniform() * 60));
    const series: Point[] = [];
    for (let i = 0; i < 72; i++) {
      // 5-minute means of heart rate: baseline 78, noise sd 1.2 /min; anomalies of 6-16 /min either way,
      // so the smallest sit near the detector's limit (3.5 x the 2 /min scale floor = 7 /min) and some are missed.
      const shift = planted.has(i) ? (r.uniform() < 0.5 ? -1 : 1) * (6 + 10 * r.uniform()) : 0;
      series.push({ t: T0 + i * SLOT_MS, v: 78 + 1.2 * r.normal() + shift });
    }
    const found = new Set(detectAnomalies(series, 'hr', 12).map((a) => (a.t - T0) / SLOT_MS));
    for (const i of found) {
      if (planted.has(i)) tp++;
      else fp++;
    }
    for (const i of planted) if (!found.has(i)) fn++;
  }
  const precision = tp / (tp + fp);
  const recall = tp / (tp + fn);
  t.comment(
    `anomaly detection on 40 synthetic heart-rate series (160 planted): precision ${precision.toFixed(3)}, recall ${recall.toFixed(3)} (tp ${tp}, fp ${fp}, fn ${fn})`,
  );
  t.ok(precision >= 0.95, `precision ${precision.toFixed(3)} >= 0.95`);
  t.ok(recall >= 0.8, `recall ${recall.toFixed(3)} >= 0.8`);
  t.ok(
    recall < 1,
    'anomalies below the detection limit are missed (the test can tell a blind detector from a good one)',
  );
});

t.test('anomaly detector: a stable series raises nothing; too little baseline judges nothing', async (t) => {
  const r = rng(7);
  const stable = Array.from({ length: 72 }, (_, i) => ({ t: T0 + i * SLOT_MS, v: 97 + 0.3 * r.normal() }));
  t.same(detectAnomalies(stable, 'spo2', 0), []);
  const short = Array.from({ length: 11 }, (_, i) => ({ t: T0 + i * SLOT_MS, v: i === 10 ? 70 : 97 }));
  t.same(detectAnomalies(short, 'spo2', 0), [], 'fewer than 12 baseline points');
  t.same(detectAnomalies(stable, 'infusion_rate', 0), [], 'metrics without a scale floor are not judged');
});

t.test('hourly statistics: known answers', async (t) => {
  const doc = newHourDoc('3B', T0, 0);
  const values = [70, 72, 72, 74, 76, 80, 90, 60, 72, 74];
  values.forEach((v, i) =>
    addReading(doc, { subject: 'bed-1', bed: '1', patient: null, code: 'hr', ts: T0 + i * 60_000, value: v, flags: 0 }),
  );
  addReading(doc, {
    subject: 'bed-1',
    bed: '1',
    patient: null,
    code: 'hr',
    ts: T0,
    value: 400,
    flags: ReadingFlag.artifact,
  });
  const s = summarize(doc.p['bed-1'].m.hr, 'hr');
  t.same([s.count, s.excluded, s.mean, s.min, s.max, s.p50, s.p05, s.p95], [10, 1, 74, 60, 90, 72, 60, 90]);
  t.equal(s.sd, 7.6, 'sample sd of the ten values: sqrt(520 / 9)');
  t.equal(percentile(doc.p['bed-1'].m.hr, 'hr', 75), 76);
  const m = doc.p['bed-1'].m.hr;
  t.same([m.q[0], m.q[1]], [5, 5], 'two 5-minute slots of five readings');
});

function ward(slots: Array<Record<string, number>>, start = T0): HourDoc[] {
  const docs = new Map<number, HourDoc>();
  slots.forEach((vals, i) => {
    for (let s = 0; s < SLOT_MS; s += 60_000) {
      const ts = start + i * SLOT_MS + s;
      const hour = Math.floor(ts / HOUR_MS) * HOUR_MS;
      if (!docs.has(hour)) docs.set(hour, newHourDoc('3B', ts, 0));
      for (const [code, value] of Object.entries(vals))
        addReading(docs.get(hour)!, { subject: 'bed-7', bed: '7', patient: null, code, ts, value, flags: 0 });
    }
  });
  return [...docs.values()];
}

t.test('patient analysis: a stable patient raises nothing and stays low risk', async (t) => {
  const r = rng(3);
  const slots = Array.from({ length: 36 }, () => ({
    hr: 76 + r.normal(),
    spo2: 97 + 0.4 * r.normal(),
    rr: 16 + 0.5 * r.normal(),
    nibp_sys: 122 + 2 * r.normal(),
    temp: 36.8 + 0.05 * r.normal(),
  }));
  const asOf = T0 + 36 * SLOT_MS;
  const { state, alerts } = analyzeSubject('3B', 'bed-7', ward(slots), asOf, undefined, { bed: '7', patient: null });
  t.same(alerts, []);
  t.equal(state.news2.score, 0);
  t.equal(state.risk.level, 'low');
  t.same(state.news2.missing, ['oxygen', 'consciousness'], 'devices never give consciousness or oxygen here');
  t.ok(Math.abs(state.trends.hr) < 1, `hr trend ${state.trends.hr}/h is flat`);
});

t.test('patient analysis: NEWS2 trajectory follows the chart and alerts on rising bands', async (t) => {
  const phase = (i: number) => (i < 12 ? 0 : i < 18 ? 1 : 2);
  const vitals = [
    { rr: 18, spo2: 97, hr: 80, nibp_sys: 120, temp: 37.0 }, // 0
    { rr: 22, spo2: 95, hr: 105, nibp_sys: 120, temp: 37.0 }, // 2 + 1 + 1 = 4
    { rr: 26, spo2: 93, hr: 125, nibp_sys: 95, temp: 38.5 }, // 3 + 2 + 2 + 2 + 1 = 10
  ];
  const expected = [0, 4, 10];
  const slots = Array.from({ length: 24 }, (_, i) => vitals[phase(i)]);
  const docs = ward(slots);
  let prev: ReturnType<typeof analyzeSubject>['state'] | undefined;
  const raised: string[] = [];
  for (const step of [12, 18, 24]) {
    const { state, alerts } = analyzeSubject('3B', 'bed-7', docs, T0 + step * SLOT_MS - 1, prev, {
      bed: '7',
      patient: null,
    });
    prev = state;
    raised.push(...alerts.filter((a) => a.kind === 'news2').map((a) => a.level));
  }
  const trajectory = prev!.trajectory;
  for (const p of trajectory) {
    const i = (p.t - T0) / SLOT_MS;
    t.equal(p.v, expected[phase(i)], `slot ${i}: NEWS2 ${p.v}`);
  }
  t.equal(prev!.news2.score, 10);
  t.equal(prev!.news2.level, 'high');
  t.same(raised, ['high'], 'one alert when the band rose to high; 4 (low) raised none');
  t.equal(prev!.risk.level, 'high');
  t.ok(prev!.trends.rr > 0, 'rr trending up');
});

t.test('risk: a rising trajectory escalates the band; a flat one does not', async (t) => {
  const rising = Array.from({ length: 12 }, (_, i) => ({ t: T0 + i * SLOT_MS, v: 1 + Math.floor(i / 3) }));
  const r = assessRisk({ score: 4, anyThree: false, missing: [] }, rising);
  t.equal(r.slopePerHour, 4);
  t.equal(r.projected, 8);
  t.equal(r.level, 'high', 'NEWS2 4 rising 4 points/h projects 8: high');
  const flat = assessRisk(
    { score: 4, anyThree: false, missing: ['consciousness'] },
    Array.from({ length: 12 }, (_, i) => ({ t: T0 + i * SLOT_MS, v: 4 })),
  );
  t.same([flat.level, flat.slopePerHour, flat.projected], ['low', 0, 4]);
  t.match(flat.reasons.join('; '), /missing consciousness/);
  t.equal(assessRisk({ score: 5, anyThree: false, missing: [] }, []).slopePerHour, null, 'too few points: no slope');
});

// Backlogs and sustained changes through applyMessage, against the Firestore
// emulator: segments as ingest stores them, the state and hour documents as the
// transaction reads and writes them.
t.test('analysis of batches in Firestore (emulator)', async (t) => {
  const firestore = await startFirestore();
  t.teardown(() => firestore.stop());
  // The clients take the emulators from the environment, and then never look for credentials.
  // Pub/Sub is not used by applyMessage: its variable names a closed loopback port.
  process.env.FIRESTORE_EMULATOR_HOST = firestore.host;
  process.env.PUBSUB_EMULATOR_HOST = '127.0.0.1:9';
  // No probe of the GCE metadata server (a link-local address) when the client looks for a universe domain.
  process.env.METADATA_SERVER_DETECTION = 'none';
  const settings: CloudSettings = {
    ...defaults,
    projectId: 'wardgate-analysis-test',
    gateways: new Map(),
    apiTokens: [],
    logLevel: 'silent',
  };
  const ctx = createContext(settings, createCloudLogger('silent'));
  t.teardown(() => closeContext(ctx));
  // A recent start, so that the data sits inside any retention window; hour-aligned for readable times.
  const start = Math.floor((Date.now() - 8 * HOUR_MS) / HOUR_MS) * HOUR_MS;
  let n = 1;
  /** Heart rate once a minute from `from` to `to` for each bed, with noise; `hr(bed, t)` is the truth. */
  const readings = (
    beds: string[],
    from: number,
    to: number,
    hr: (bed: string, t: number) => number,
    r = rng(11),
  ): SyncReading[] => {
    const out: SyncReading[] = [];
    for (let ts = from; ts < to; ts += 60_000) {
      for (const bed of beds)
        out.push({
          n: n++,
          device: `mon-${bed}`,
          seq: n,
          code: 'hr',
          value: Math.round((hr(bed, ts) + 0.8 * r.normal()) * 10) / 10,
          unit: '/min',
          ts,
          flags: 0,
          bed,
        });
    }
    return out;
  };
  /** Stores the readings as one batch's segments and analyses that batch, as the Pub/Sub trigger would. */
  const apply = async (wardId: string, list: SyncReading[]) => {
    const batchId = `b${(n++).toString(16).padStart(32, '0')}`;
    const docs = buildSegments(wardId, 'gw-test', batchId, list);
    await Promise.all(docs.map((d, k) => segments(ctx.db, wardId).doc(segmentId(batchId, k)).set(d)));
    const message: BatchMessage = {
      v: 1,
      ward: wardId,
      gateway: 'gw-test',
      batchId,
      segments: docs.map((_, k) => segmentId(batchId, k)),
    };
    await applyMessage(ctx, message);
    return message;
  };
  const anomalyAlerts = async (wardId: string) =>
    (await alerts(ctx.db, wardId).get()).docs.map((d) => d.data() as CloudAlert).filter((a) => a.kind === 'anomaly');

  t.test('a 4-hour backlog in one batch is judged hour by hour: a step at hour 2 is reported at hour 2', async (t) => {
    const step = start + 2 * HOUR_MS;
    // Bed 1: heart rate 78, then 96 from hour 2 on. Bed 2: 78, with 96 for 20 minutes at hour 2 only.
    const hr = (bed: string, ts: number) => (ts >= step && (bed === '1' || ts < step + 20 * 60_000) ? 96 : 78);
    await apply('BL', readings(['1', '2'], start, start + 4 * HOUR_MS, hr));
    const found = await anomalyAlerts('BL');
    const of = (bed: string) =>
      found.filter((a) => a.bed === bed).map((a) => [a.code, new Date(a.ts).toISOString(), a.z! > 0 ? 'up' : 'down']);
    t.same(
      of('1'),
      [['hr', new Date(step).toISOString(), 'up']],
      'the sustained step: one alert, at the slot it began',
    );
    t.same(
      of('2'),
      [['hr', new Date(step).toISOString(), 'up']],
      'the 20-minute step, over long before the backlog ended, is reported too',
    );
  });

  t.test('a change sustained for 3 hours, arriving in 5-minute batches, is one alert', async (t) => {
    const step = start + 3 * HOUR_MS;
    const hr = (_bed: string, ts: number) => (ts >= step ? 96 : 78);
    const r = rng(5);
    for (let from = start; from < step + 3 * HOUR_MS; from += SLOT_MS)
      await apply('SU', readings(['1'], from, from + SLOT_MS, hr, r));
    const found = await anomalyAlerts('SU');
    t.same(
      found.map((a) => [a.code, new Date(a.ts).toISOString()]),
      [['hr', new Date(step).toISOString()]],
      'one event, at its onset',
    );
    const state = (await currentState(ctx.db, 'SU').get()).data() as { p: Record<string, SubjectState> };
    const episode = state.p['bed-1'].episodes?.['hr|up'];
    t.ok(
      episode && episode.start === step && episode.last >= step + 2 * HOUR_MS,
      `the event is kept open while the change lasts (${JSON.stringify(episode)})`,
    );
  });

  t.test('a redelivered backlog raises nothing new; a later separate change is a new event', async (t) => {
    const first = start + 2 * HOUR_MS;
    const second = start + 4 * HOUR_MS;
    // Two 15-minute rises, two hours apart: two events.
    const hr = (_bed: string, ts: number) =>
      (ts >= first && ts < first + 15 * 60_000) || (ts >= second && ts < second + 15 * 60_000) ? 96 : 78;
    const list = readings(['1'], start, start + 5 * HOUR_MS, hr);
    const message = await apply(
      'RD',
      list.filter((x) => x.ts < start + 3 * HOUR_MS),
    );
    await apply(
      'RD',
      list.filter((x) => x.ts >= start + 3 * HOUR_MS),
    );
    const again = await applyMessage(ctx, message);
    t.same([again.redelivered, again.readings], [true, 0], 'the redelivered first batch is recognised');
    const found = await anomalyAlerts('RD');
    t.same(found.map((a) => new Date(a.ts).toISOString()).sort(), [
      new Date(first).toISOString(),
      new Date(second).toISOString(),
    ]);
  });
});
