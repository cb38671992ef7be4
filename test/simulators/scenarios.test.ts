// The simulator's labels must tell the truth about its own stream: each
// labelled event really happens after its labelled start (and not before),
// and the whole stream is a pure function of the seed.
import t from 'tap';
import { news2 } from '../../shared/news2.js';
import { parseDeviceStatus } from '../../shared/deviceStatus.js';
import { parseObservation } from '../../shared/observation.js';
import type { Emission } from '../../simulators/bed.js';
import { bedDevices } from '../../simulators/devices.js';
import { malformedMqtt } from '../../simulators/malformed.js';
import { parseScript } from '../../simulators/scenarios.js';
import { Ward, demoPlans } from '../../simulators/ward.js';

function ward(script: string, seed: number, duration: number, oximeter?: 'masimo' | 'nonin') {
  return new Ward({
    seed,
    duration,
    plans: [{ bed: '1', devices: bedDevices('1', 'mqtt', oximeter), script: parseScript(script) }],
  });
}

function all(w: Ward): Emission[] {
  return [...w.stream()].flat();
}

t.test('the same seed plays the same ward; another seed, other patients', async (t) => {
  const a = all(new Ward({ seed: 7, duration: 900, plans: demoPlans() }));
  const b = all(new Ward({ seed: 7, duration: 900, plans: demoPlans() }));
  const c = all(new Ward({ seed: 8, duration: 900, plans: demoPlans() }));
  t.same(a, b);
  t.ok(a.length > 8 * 900, 'every bed emits every second');
  t.not(JSON.stringify(a), JSON.stringify(c));
  const base = (s: number) => new Ward({ seed: s, duration: 1, plans: demoPlans() }).beds.map((bed) => bed.baseline);
  t.not(base(1)[0].hr, base(2)[0].hr, 'baselines differ between seeds');
  t.not(base(1)[0].hr, base(1)[1].hr, 'and between the beds of one ward');
});

t.test('a labelled deterioration crosses NEWS2 5 only after its labelled start', async (t) => {
  for (const seed of [1, 2, 3, 4]) {
    const w = ward('sepsis@30m/4h', seed, 6 * 3600);
    const [label] = w.labels(1, null).events;
    t.equal(label.start, 1800);
    t.same(label.expect, { alarm: true, kind: 'physiological', rule: 'news2', metric: 'news2' });
    const last: Record<string, number> = {};
    let before = 0;
    let crossed: number | undefined;
    for (const e of all(w)) {
      if (e.type !== 'obs') continue;
      for (const o of e.obs) if (o.value !== null) last[String(o.code)] = o.value;
      const { score } = news2({ rr: last.rr, spo2: last.spo2, pulse: last.pr, sbp: last.nibp_sys, temp: last.temp });
      if (e.t < label.start) before = Math.max(before, score);
      else if (crossed === undefined && score >= 5) crossed = e.t;
    }
    t.ok(before < 5, `seed ${seed}: NEWS2 below 5 before the onset (max ${before})`);
    t.ok(
      crossed !== undefined && crossed > label.start && crossed < label.end,
      `seed ${seed}: NEWS2 >= 5 at ${crossed} s, after the onset`,
    );
  }
});

t.test('desaturation: SpO2 at or below 91 % within a minute of the label, never before', async (t) => {
  const w = ward('desat@10m/3m', 5, 1200);
  const [label] = w.labels(1, null).events;
  const spo2 = all(w).flatMap((e) =>
    e.type === 'obs' ? e.obs.filter((o) => o.code === 'spo2').map((o) => ({ t: e.t, v: o.value! })) : [],
  );
  t.notOk(
    spo2.some((s) => s.t < label.start && s.v <= 91),
    'no low SpO2 before',
  );
  const low = spo2.filter((s) => s.t >= label.start && s.t <= label.end && s.v <= 91);
  t.ok(low.length > 100 && low[0].t - label.start < 60, `low from ${low[0]?.t} s`);
});

t.test('battery: the low-battery label is where the reported charge reaches 20 %', async (t) => {
  const w = ward('battery@0/1h', 1, 3600);
  const [label] = w.labels(1, null).events;
  const charge = all(w).flatMap((e) =>
    e.type === 'status' && e.status.battery !== undefined ? [{ t: e.t, v: e.status.battery }] : [],
  );
  t.notOk(charge.some((c) => c.t < label.start && c.v <= 20));
  t.ok(
    charge.find((c) => c.t >= label.start && c.t < label.start + 60 && c.v <= 20),
    'reported within the next status period',
  );
});

t.test('sensor off, unplug and blip happen exactly in their windows, on the labelled device', async (t) => {
  const w = ward('sensor-off@2m/1m+unplug@5m/2m', 3, 600, 'masimo');
  const [off, unplug] = w.labels(1, null).events;
  t.equal(off.deviceId, 'pox-1');
  t.same(
    unplug.expect,
    { alarm: true, kind: 'technical', rule: 'device-silent', metric: null },
    'a serial cable silent 2 min: device silent',
  );
  const pox = all(w).filter((e) => e.deviceId === 'pox-1');
  const spo2At = (s: number) => pox.find((e) => e.t === s && e.type === 'obs');
  t.match(spo2At(off.start + 1), { obs: [{ code: 'spo2', value: null }] });
  t.match(spo2At(off.end + 1), { obs: [{ code: 'spo2', value: Number }] });
  t.match(
    pox.find((e) => e.type === 'status' && e.t === off.start),
    { status: { sensor: 'off' } },
  );
  t.notOk(
    pox.some((e) => e.type === 'obs' && e.t >= unplug.start && e.t < unplug.end),
    'nothing while unplugged',
  );
  t.same(
    pox.filter((e) => e.type === 'offline' || e.type === 'online').map((e) => [e.type, e.t]),
    [
      ['offline', 300],
      ['online', 420],
    ],
  );
  const blip = ward('blip@1m/30s', 3, 200);
  t.same(blip.labels(1, null).events[0].expect, { alarm: false }, 'a 30 s blip is under the silence limit');
  t.ok(
    all(blip).some((e) => e.type === 'obs' && e.t === 75),
    'a blip keeps measuring (the device queues)',
  );
});

t.test('every malformed message is refused by the gateway validator, with a reason', async (t) => {
  const w = ward('malformed@0/5m', 2, 300);
  const bad = all(w).filter((e) => e.type === 'malformed');
  t.ok(bad.length >= 15, `${bad.length} malformed messages`);
  for (const [i, e] of bad.entries()) {
    const result = parseObservation(malformedMqtt(e.type === 'malformed' ? e.variant : 0, i + 1, Date.now()), {
      now: Date.now(),
      maxFutureMs: 300_000,
    });
    t.equal(result.ok, false);
  }
  const status = all(w).find((e) => e.type === 'status');
  t.ok(
    status &&
      status.type === 'status' &&
      !('code' in parseDeviceStatus(JSON.stringify(status.status), { now: 0, maxFutureMs: 0 })),
  );
});

t.test('scripts: kinds, times and mistakes', async (t) => {
  t.same(parseScript('sepsis@10m/4h+desat@30m/90s'), [
    { kind: 'sepsis', at: 600, duration: 14400 },
    { kind: 'desat', at: 1800, duration: 90 },
  ]);
  t.throws(() => parseScript('sepsis@soon'), { code: 'WG_ERR_USAGE' });
  t.throws(() => parseScript('flu'), { code: 'WG_ERR_USAGE' });
  t.throws(() => parseScript('desat@1m/0s'), { code: 'WG_ERR_USAGE' });
});
