// Alarm scenarios on a controllable clock: delays, hysteresis, latching,
// escalation, acknowledgement, NEWS2, artifacts and technical conditions.
import t from 'tap';
import { ReadingFlag } from '../../../shared/reading.js';
import { alarmConfigSchema } from '../../../edge/alarms/config.js';
import { alarmView, eventView } from '../../../edge/alarms/outputs.js';
import { alarmHarness } from '../../helpers/alarms.js';

t.test('a brief dip below the limit, shorter than the condition delay, raises nothing', async (t) => {
  const h = alarmHarness();
  for (let i = 0; i < 10; i++) {
    h.obs('mon-1', { spo2: 88 });
    h.advance(1000);
  }
  h.obs('mon-1', { spo2: 97 });
  h.advance(30_000);
  t.same(h.events, []);
});

t.test(
  'a sustained breach raises one alarm when the delay has passed, and clears when the value recovers',
  async (t) => {
    const h = alarmHarness();
    const start = h.clock.t;
    for (let i = 0; i < 170; i++) {
      h.obs('mon-1', { spo2: 88 });
      h.advance(1000);
    }
    t.same(h.phases(), ['raised:limit:spo2:medium'], 'one alarm in nearly three minutes of breach');
    t.equal(h.events[0].ts - start, 15_000, 'raised exactly at the 15 s condition delay');
    t.match(h.events[0], {
      bed: '1',
      deviceId: 'mon-1',
      kind: 'physiological',
      message: 'SpO2 low: 88 % (limit <= 91)',
      value: 88,
    });
    h.obs('mon-1', { spo2: 96 });
    t.same(h.phases().slice(1), ['cleared:limit:spo2:medium']);
  },
);

t.test('oscillating around the limit: one alarm, thanks to hysteresis', async (t) => {
  const h = alarmHarness();
  for (let i = 0; i < 20; i++) {
    h.obs('mon-1', { spo2: 90 });
    h.advance(1000);
  }
  // Back and forth across 91, never above 93 (limit + hysteresis 2).
  for (let i = 0; i < 60; i++) {
    h.obs('mon-1', { spo2: i % 2 ? 90 : 93 });
    h.advance(1000);
  }
  t.same(h.phases(), ['raised:limit:spo2:medium']);
  h.obs('mon-1', { spo2: 94 });
  t.same(h.phases(), ['raised:limit:spo2:medium', 'cleared:limit:spo2:medium']);
});

t.test('high-priority alarms latch until acknowledged', async (t) => {
  const h = alarmHarness({ limits: { pulse: { priority: 'high', delayMs: 5000 } } });
  for (let i = 0; i < 10; i++) {
    h.obs('mon-1', { hr: 150 });
    h.advance(1000);
  }
  h.obs('mon-1', { hr: 80 });
  t.same(
    h.phases(),
    ['raised:limit:pulse:high', 'latched:limit:pulse:high'],
    'the cause cleared; the alarm stays latched',
  );
  t.equal(h.open()[0].state, 'latched');
  h.engine.acknowledge(h.open()[0].id, 'nurse-ann');
  t.same(h.phases().slice(2), ['acknowledged:limit:pulse:high', 'cleared:limit:pulse:high']);
  t.equal(h.events[2].by, 'nurse-ann');
  t.same(h.open(), []);
});

t.test('acknowledged: silenced until the condition clears; no duplicate while it holds', async (t) => {
  const h = alarmHarness();
  for (let i = 0; i < 20; i++) {
    h.obs('mon-1', { rr: 30 });
    h.advance(1000);
  }
  const [alarm] = h.open();
  t.equal(h.engine.acknowledge(alarm.id, 'nurse-ann')?.state, 'acknowledged');
  t.equal(
    h.engine.acknowledge(alarm.id, 'nurse-bob')?.acknowledgedBy,
    'nurse-ann',
    'a second acknowledgement changes nothing',
  );
  t.equal(h.engine.acknowledge('no-such-alarm', 'nurse-ann'), undefined);
  for (let i = 0; i < 600; i++) {
    h.obs('mon-1', { rr: 30 });
    h.advance(1000);
  }
  t.same(h.phases(), ['raised:limit:rr:medium', 'acknowledged:limit:rr:medium'], 'no escalation, no second alarm');
  h.obs('mon-1', { rr: 16 });
  t.same(h.phases().at(-1), 'cleared:limit:rr:medium');
});

t.test('unacknowledged alarms escalate, then repeat, up to the maximum', async (t) => {
  const h = alarmHarness({ escalation: { medium: 60_000, repeatMs: 30_000, maxEscalations: 2 } });
  for (let i = 0; i < 300; i++) {
    h.obs('mon-1', { nibp_sys: 85 });
    h.advance(1000);
  }
  const escalations = h.events.filter((e) => e.phase === 'escalated');
  t.same(
    escalations.map((e) => e.ts - h.events[0].ts),
    [60_000, 90_000],
  );
  t.same(
    escalations.map((e) => e.escalations),
    [1, 2],
  );
});

t.test('artifacts and unreliable readings never trigger physiological alarms', async (t) => {
  const h = alarmHarness();
  for (let i = 0; i < 120; i++) {
    h.obs('mon-1', { spo2: 60, hr: 0 }, { spo2: ReadingFlag.unreliable, hr: ReadingFlag.artifact });
    h.advance(1000);
  }
  t.same(h.events, []);
  t.equal(h.engine.bed('1').vitals.spo2.value, 60, 'still shown as the latest value');
});

t.test('rate of change: motion spikes neither start nor anchor a trend', async (t) => {
  const h = alarmHarness();
  for (let i = 0; i < 900; i++) {
    // A steady pulse of 70 with a 3-second spike to 160 or 35 every 100 seconds.
    h.obs('mon-1', { pr: i % 100 < 3 ? (i % 200 < 100 ? 160 : 35) : 70 });
    h.advance(1000);
  }
  t.same(h.events, []);
});

t.test('rate of change: pulse rising 30 /min within 10 minutes', async (t) => {
  const h = alarmHarness();
  for (let i = 0; i <= 600; i += 10) {
    h.obs('mon-1', { pr: 70 + Math.round((Math.min(i, 480) / 480) * 35) }); // 70 -> 105 over 8 minutes, then stays
    h.advance(10_000);
  }
  t.same(h.phases(), ['raised:rate:pulse:low']);
  t.match(h.events[0].message, /Pulse rose 3\d \/min within \d+ min \(now 10\d\)/);
});

t.test('rate of change: a rule pulled on a metric no rule watched has its history from the update', async (t) => {
  const h = alarmHarness();
  const spo2Falling = { metric: 'spo2', change: -5, windowMs: 600_000, priority: 'low', delayMs: 0 };
  // Ten minutes of SpO2 97 before the rule exists: no history of it is kept.
  for (let i = 0; i < 600; i += 10) {
    h.obs('mon-1', { spo2: 97 });
    h.advance(10_000);
  }
  h.engine.updateConfig(alarmConfigSchema.parse({ rateOfChange: [spo2Falling] }));
  // At once a fall to 92: the last minute has no earlier values to be compared with.
  for (let i = 0; i < 60; i += 10) {
    h.obs('mon-1', { spo2: 92 });
    h.advance(10_000);
  }
  t.same(h.phases(), [], 'no baseline yet');
  // A baseline from the update on (three minutes of 97), then the fall.
  for (let i = 0; i < 180; i += 10) {
    h.obs('mon-1', { spo2: 97 });
    h.advance(10_000);
  }
  for (let i = 0; i < 60; i += 10) {
    h.obs('mon-1', { spo2: 92 });
    h.advance(10_000);
  }
  t.same(h.phases(), ['raised:rate:spo2:low']);
});

t.test('NEWS2: aggregate >= 7 raises a high-priority alarm naming missing inputs', async (t) => {
  const h = alarmHarness();
  // RR 26 (3) + SpO2 95 (1) + pulse 120 (2) + SBP 100 (2) = 8; no patient admitted, so oxygen and consciousness are unknown.
  for (let i = 0; i < 90; i++) {
    h.obs('mon-1', { rr: 26 - (i % 2), spo2: 95, pr: 120 });
    if (i === 0) h.obs('mon-1', { nibp_sys: 100 });
    h.advance(1000);
  }
  const news2 = h.events.find((e) => e.rule === 'news2');
  t.match(news2, {
    phase: 'raised',
    priority: 'high',
    value: 8,
    message: 'NEWS2 8: emergency response (oxygen missing, consciousness missing, temp missing)',
  });
  t.match(h.engine.bed('1').news2, {
    score: 8,
    level: 'high',
    missing: ['oxygen', 'consciousness', 'temp'],
    stale: [],
  });
  // The score rises further: the open alarm says so, without a new event.
  h.obs('mon-1', { rr: 26, spo2: 91, pr: 135 });
  t.match(
    h.open().find((a) => a.rule === 'news2'),
    { value: 11, message: /^NEWS2 11: emergency response/ },
  );
  t.equal(h.events.filter((e) => e.rule === 'news2').length, 1);
});

t.test('NEWS2 inputs go stale: a blood pressure from five hours ago no longer counts', async (t) => {
  const h = alarmHarness();
  h.obs('mon-1', { nibp_sys: 100 });
  h.advance(5 * 3600_000, () => h.obs('mon-1', { rr: 16, spo2: 97, pr: 70 }));
  t.match(h.engine.bed('1').news2, { score: 0, stale: ['sbp'] });
});

t.test('NEWS2 is scored again only when an input scores other points, and always when one goes stale', async (t) => {
  const h = alarmHarness({ news2: { delayMs: 0 } });
  // RR 26 (3) + SpO2 95 (1) + pulse 120 (2) + SBP 100 (2) = 8.
  h.obs('mon-1', { rr: 26, spo2: 95, pr: 120, nibp_sys: 100 });
  t.same(h.phases(), ['raised:news2:news2:high']);
  const scored = h.engine.bed('1').news2;
  // Pulse 120 to 125 and RR 26 to 28 stay in their bands: the same score, nothing new.
  h.advance(1000, () => h.obs('mon-1', { rr: 28, spo2: 95, pr: 125 }));
  t.equal(h.engine.bed('1').news2, scored, 'values within their bands leave the score as it was');
  // SpO2 95 to 93: one more point, at once.
  h.obs('mon-1', { rr: 26, spo2: 93, pr: 120 });
  t.match(h.engine.bed('1').news2, { score: 9, parts: { spo2: 2 } });
  t.match(
    h.open().find((a) => a.rule === 'news2'),
    { value: 9 },
  );
  // The monitor falls silent: with no reading to score, the tick finds RR, SpO2 and pulse stale after
  // five minutes, the score falls to the blood pressure's 2 and the alarm (high: latching) latches.
  h.advance(301_000);
  t.match(h.engine.bed('1').news2, { score: 2, stale: ['rr', 'spo2', 'pulse'] });
  const latched = h.open().find((a) => a.rule === 'news2');
  t.match(latched, { state: 'latched' });
  h.engine.acknowledge(latched!.id, 'nurse-ann');
  t.notOk(
    h.open().some((a) => a.rule === 'news2'),
    'seen, the latched alarm is over',
  );
  // Rules pulled from the cloud that put the urgent threshold at 2: the same inputs, scored again at the next tick.
  h.engine.updateConfig(alarmConfigSchema.parse({ news2: { mediumAt: 2, delayMs: 0 } }));
  h.advance(1000);
  t.same(h.phases().slice(-1), ['raised:news2:news2:medium']);
});

t.test('NEWS2 scale 2 and oxygen come from the patient; limits follow the scale', async (t) => {
  const h = alarmHarness();
  h.patients.set('1', { id: 'p1', spo2Scale: 2, onOxygen: false, consciousness: { value: 'A', at: h.clock.t } });
  for (let i = 0; i < 60; i++) {
    h.obs('mon-1', { spo2: 88 });
    h.advance(1000);
  }
  t.same(h.events, [], 'SpO2 88 on air scores 0 on scale 2: no limit alarm');
  h.patients.set('1', { id: 'p1', spo2Scale: 2, onOxygen: true, consciousness: { value: 'A', at: h.clock.t } });
  h.engine.patientChanged('1');
  t.match(h.engine.bed('1').news2?.parts, { spo2: 0, oxygen: 2, consciousness: 0 });
});

t.test('per-bed limits override the ward defaults', async (t) => {
  const h = alarmHarness({ beds: { '2': { limits: { spo2: { low: 85 } } } } });
  for (let i = 0; i < 30; i++) {
    h.obs('mon-1', { spo2: 88 });
    h.obs('mon-2', { spo2: 88 });
    h.advance(1000);
  }
  t.same(
    h.events.map((e) => e.bed),
    ['1'],
  );
});

t.test('a limit alarm says which limit it crossed, as data; other alarms carry no limit', async (t) => {
  const h = alarmHarness({ limits: { nibp_sys: { high: 180 } } }, [
    { id: 'mon-1', bed: '1', silentAfterMs: 30_000 },
    { id: 'nibp-1', bed: '1', silentAfterMs: 0 },
  ]);
  for (let i = 0; i < 20; i++) {
    h.obs('mon-1', { spo2: 89 });
    h.advance(1000);
  }
  h.obs('nibp-1', { nibp_sys: 190 });
  t.same(h.phases(), ['raised:limit:spo2:medium', 'raised:limit:nibp_sys:medium']);
  t.same(h.events[0].limit, { side: 'low', value: 91 });
  t.same(h.events[1].limit, { side: 'high', value: 180 });
  t.same(eventView(h.events[0]).limit, { side: 'low', value: 91 }, 'in the MQTT event');
  t.same(
    alarmView(h.open().find((a) => a.metric === 'nibp_sys')!).limit,
    { side: 'high', value: 180 },
    'in the open alarms',
  );
  h.advance(31_000);
  const silent = h.events.find((e) => e.rule === 'device-silent');
  t.ok(silent, 'the monitor went silent');
  t.notOk('limit' in silent!, 'a technical alarm has no limit key at all');
});

t.test('technical: device silent past its interval, and back', async (t) => {
  const h = alarmHarness({}, [
    { id: 'mon-1', bed: '1' },
    { id: 'nibp-1', bed: '1', silentAfterMs: 0 },
  ]);
  h.obs('mon-1', { pr: 70 });
  h.obs('nibp-1', { nibp_sys: 120 });
  h.advance(59_000);
  t.same(h.events, []);
  h.advance(2000);
  t.same(h.phases(), ['raised:device-silent::medium'], 'only the continuous device; the spot device may be silent');
  t.match(h.events[0], { kind: 'technical', deviceId: 'mon-1', bed: '1' });
  h.obs('mon-1', { pr: 70 });
  t.same(h.phases().at(-1), 'cleared:device-silent::medium');
});

t.test('technical: sensor off after its delay, low battery with hysteresis', async (t) => {
  const h = alarmHarness();
  h.status('mon-1', { sensor: 'off' });
  h.advance(5000);
  t.same(h.events, [], 'a sensor off for a moment (repositioning) raises nothing');
  h.advance(6000);
  t.same(h.phases(), ['raised:sensor::medium']);
  h.status('mon-1', { sensor: 'ok', battery: 15 });
  t.same(h.phases().slice(1), ['cleared:sensor::medium', 'raised:battery::low']);
  h.status('mon-1', { battery: 22 });
  t.equal(h.open().length, 1, 'within the 5 % hysteresis the battery alarm stays');
  h.status('mon-1', { battery: 30 });
  t.same(h.open(), []);
});

t.test('technical conditions from other features (buffer, cloud)', async (t) => {
  const h = alarmHarness();
  h.engine.setTechnical('gateway:cloud', {
    bed: null,
    deviceId: null,
    rule: 'cloud-unreachable',
    metric: null,
    priority: 'low',
    message: 'Cloud unreachable for 30 min',
    value: null,
  });
  h.engine.setTechnical('gateway:cloud', {
    bed: null,
    deviceId: null,
    rule: 'cloud-unreachable',
    metric: null,
    priority: 'low',
    message: 'Cloud unreachable for 31 min',
    value: null,
  });
  h.engine.setTechnical('gateway:cloud', null);
  t.same(h.phases(), ['raised:cloud-unreachable::low', 'cleared:cloud-unreachable::low']);
});

t.test('an acknowledged alarm whose priority rises needs a person again: active, latching, escalating', async (t) => {
  const h = alarmHarness();
  const report = { bed: '1', deviceId: null, rule: 'news2', metric: 'news2', message: 'NEWS2 5', value: 5 };
  h.engine.setTechnical('1:x', { ...report, priority: 'medium' });
  const [alarm] = h.open();
  h.engine.acknowledge(alarm.id, 'nurse-ann');
  h.advance(10_000);
  h.engine.setTechnical('1:x', { ...report, priority: 'high', message: 'NEWS2 8', value: 8 });
  t.match(h.open()[0], { state: 'active', priority: 'high', latching: true });
  h.advance(61_000);
  t.same(h.phases(), [
    'raised:news2:news2:medium',
    'acknowledged:news2:news2:medium',
    'updated:news2:news2:high',
    'escalated:news2:news2:high',
  ]);
  h.engine.setTechnical('1:x', null);
  t.equal(h.open()[0].state, 'latched', 'now high, it latches when the condition clears');
});

t.test('a device whose every message is refused is still silent', async (t) => {
  const h = alarmHarness();
  h.obs('mon-1', { pr: 70 });
  for (let i = 0; i < 70; i++) {
    h.engine.onCommitted([
      {
        item: {
          kind: 'dead',
          source: 'mqtt',
          receivedTs: h.clock.t,
          deviceId: 'mon-1',
          rejection: { code: 'WG_ERR_SEQ_CONFLICT', message: 'reused seq' },
          raw: Buffer.alloc(0),
        },
        result: { outcome: 'rejected', rejection: { code: 'WG_ERR_SEQ_CONFLICT', message: 'reused seq' } },
      },
    ]);
    h.advance(1000);
  }
  t.same(h.phases(), ['raised:device-silent::medium']);
});
