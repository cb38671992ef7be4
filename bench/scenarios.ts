// Scenario scoring: the labelled scenario suite (simulators/) played through
// the edge's validator and alarm engine on a simulated clock, one bed per
// scenario, several seeds. Per scenario: was each labelled event met by the
// right alarm, how long after its start, and how many alarms came where none
// belonged; beside plain threshold alarms on the same streams.
import { fileURLToPath } from 'node:url';
import { alarmConfigSchema } from '../edge/alarms/config.js';
import { AlarmEngine } from '../edge/alarms/engine.js';
import { defaultLimits } from '../edge/alarms/limits.js';
import type { AlarmEvent } from '../edge/alarms/types.js';
import { EventBus } from '../edge/bus.js';
import { createLogger } from '../edge/log.js';
import { parseDeviceStatus } from '../shared/deviceStatus.js';
import { parseObservation } from '../shared/observation.js';
import type { Emission } from '../simulators/bed.js';
import { bedDevices, silenceLimitS } from '../simulators/devices.js';
import type { ScenarioLabel } from '../simulators/labels.js';
import { malformedMqtt } from '../simulators/malformed.js';
import { parseScript } from '../simulators/scenarios.js';
import { Ward } from '../simulators/ward.js';
import { plainThresholdAlarms, type WardSample } from './noisyWard.js';

const SUITE: ReadonlyArray<{ name: string; script: string; oximeter?: 'masimo' | 'nonin'; hours: number }> = [
  { name: 'stable', script: 'stable', hours: 6 },
  { name: 'sepsis', script: 'sepsis@30m/4h', hours: 6 },
  { name: 'desat', script: 'desat@20m/3m', hours: 1 },
  { name: 'artifact', script: 'artifact@10m/1h', hours: 1.5 },
  { name: 'sensor-off', script: 'sensor-off@10m/2m', oximeter: 'masimo', hours: 0.5 },
  { name: 'unplug', script: 'unplug@10m/3m', oximeter: 'nonin', hours: 0.5 },
  { name: 'battery', script: 'battery@0/2h', hours: 2 },
  { name: 'malformed', script: 'malformed@10m/10m', hours: 0.5 },
  { name: 'blip', script: 'blip@10m/30s', hours: 0.5 },
];
const SEEDS = [1, 2, 3, 4, 5];
/** An alarm within this long after a labelled event's end still belongs to it (recovery, hysteresis). */
const GRACE_S = 300;
const START = Date.parse('2026-11-27T00:00:00Z');

interface Raised {
  t: number;
  kind: string;
  rule: string;
  metric: string | null;
}

/** One bed's run through the engine; returns the engine's alarms, plain alarms and the labels. */
function play(script: string, seed: number, hours: number, oximeter?: 'masimo' | 'nonin') {
  const devices = bedDevices('1', 'mqtt', oximeter);
  const ward = new Ward({
    seed,
    duration: Math.round(hours * 3600),
    plans: [{ bed: '1', devices, script: parseScript(script) }],
  });
  let now = START;
  const raised: Raised[] = [];
  const engine = new AlarmEngine({
    config: alarmConfigSchema.parse({}),
    devices: devices.map((d) => ({ id: d.id, bed: '1', silentAfterMs: silenceLimitS(d.transport) * 1000 })),
    bus: new EventBus(createLogger('silent')),
    patients: { atBed: () => undefined, get: () => undefined },
    sinks: [
      {
        name: 'score',
        onEvent: (e: AlarmEvent) =>
          void (
            e.phase === 'raised' &&
            raised.push({ t: (e.ts - START) / 1000, kind: e.kind, rule: e.rule, metric: e.metric })
          ),
      },
    ],
    log: createLogger('silent'),
    clock: { now: () => now, every: () => () => {} },
  });
  const samples: WardSample[] = [];
  const queued = new Map<string, Emission[]>();
  let seq = 0;
  let rejected = 0;
  const deliver = (e: Emission) => {
    const ts = START + e.t * 1000;
    const policy = { now, maxFutureMs: 300_000 };
    if (e.type === 'obs' || e.type === 'malformed') {
      const payload =
        e.type === 'obs' ? JSON.stringify({ seq: ++seq, ts, obs: e.obs }) : malformedMqtt(e.variant, ++seq, ts);
      const parsed = parseObservation(payload, policy);
      if (!parsed.ok) return void rejected++;
      const item = {
        kind: 'obs' as const,
        source: 'mqtt' as const,
        receivedTs: now,
        deviceId: e.deviceId,
        seq: parsed.seq,
        ts: parsed.ts,
        digest: Buffer.alloc(8),
        readings: parsed.readings,
      };
      engine.onCommitted([{ item, result: { outcome: 'stored', readings: parsed.readings.length, bed: '1' } }]);
      const values: Record<string, number> = {};
      const flags: Record<string, number> = {};
      for (const r of parsed.readings) {
        values[r.code] = r.value;
        flags[r.code] = r.flags;
      }
      samples.push({ t: e.t, bed: '1', values, flags });
    } else if (e.type === 'status') {
      const status = parseDeviceStatus(JSON.stringify({ ...e.status, ts }), policy);
      if ('code' in status) return void rejected++;
      engine.onCommitted([
        {
          item: { kind: 'status', source: 'mqtt', receivedTs: now, deviceId: e.deviceId, status },
          result: { outcome: 'status' },
        },
      ]);
    }
  };
  for (const second of ward.stream()) {
    now = START + (second[0]?.t ?? 0) * 1000;
    for (const e of second) {
      const blip = queued.get(e.deviceId);
      if (e.type === 'offline' && e.cause === 'blip') queued.set(e.deviceId, []);
      else if (e.type === 'online' && blip) {
        // The reconnect burst: everything measured during the blip, now, in order.
        queued.delete(e.deviceId);
        blip.forEach(deliver);
      } else if (blip) blip.push(e);
      else deliver(e);
    }
    engine.tick();
  }
  // Plain thresholds see every value the validator accepted, artifacts included (they have no gate).
  const limits = Object.fromEntries(
    defaultLimits.map((l) => [
      l.metric,
      { ...(l.low !== null && { low: l.low }), ...(l.high !== null && { high: l.high }) },
    ]),
  );
  const plain = plainThresholdAlarms(samples, limits).map((a) => ({
    t: a.t,
    kind: 'physiological',
    rule: 'limit',
    metric: a.metric,
  }));
  return { raised, plain, labels: ward.labels(1, null).events, rejected };
}

const matches = (a: Raised, l: ScenarioLabel) =>
  l.expect.alarm &&
  a.kind === l.expect.kind &&
  (l.expect.rule === null || a.rule === l.expect.rule) &&
  a.t >= l.start &&
  a.t <= l.end + GRACE_S;

/** Alarms that belong to no labelled event that expects one. */
function falseAlarms(alarms: readonly Raised[], labels: readonly ScenarioLabel[]): number {
  return alarms.filter(
    (a) => !labels.some((l) => l.expect.alarm && l.expect.kind === a.kind && a.t >= l.start && a.t <= l.end + GRACE_S),
  ).length;
}

export interface ScenarioScore {
  scenario: string;
  runs: number;
  expected: number;
  caught: number;
  medianDelayS: number | null;
  falseAlarms: number;
  plainCaught: number | null;
  plainMedianDelayS: number | null;
  plainFalseAlarms: number;
  rejected: number;
}

const median = (xs: number[]) => (xs.length ? [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] : null);

export async function runScenarioBench(log: (line: string) => void = console.log): Promise<Record<string, unknown>> {
  const scores: ScenarioScore[] = [];
  for (const s of SUITE) {
    const delays: number[] = [];
    const plainDelays: number[] = [];
    let expected = 0,
      caught = 0,
      fa = 0,
      plainCaught = 0,
      plainFa = 0,
      rejected = 0,
      physiological = 0;
    for (const seed of SEEDS) {
      const run = play(s.script, seed, s.hours, s.oximeter);
      rejected += run.rejected;
      fa += falseAlarms(run.raised, run.labels);
      plainFa += falseAlarms(run.plain, run.labels);
      for (const l of run.labels.filter((x) => x.expect.alarm)) {
        expected++;
        const hit = run.raised.find((a) => matches(a, l));
        if (hit) {
          caught++;
          delays.push(hit.t - l.start);
        }
        if (l.expect.alarm && l.expect.kind === 'physiological') {
          physiological++;
          // Plain thresholds have no NEWS2: any of their limit alarms during the event counts for them.
          const plainHit = run.plain.find((a) => a.t >= l.start && a.t <= l.end + GRACE_S);
          if (plainHit) {
            plainCaught++;
            plainDelays.push(plainHit.t - l.start);
          }
        }
      }
    }
    const score: ScenarioScore = {
      scenario: s.name,
      runs: SEEDS.length,
      expected,
      caught,
      medianDelayS: median(delays),
      falseAlarms: fa,
      plainCaught: physiological ? plainCaught : null,
      plainMedianDelayS: median(plainDelays),
      plainFalseAlarms: plainFa,
      rejected,
    };
    scores.push(score);
    const delay = score.medianDelayS === null ? '-' : `${Math.round(score.medianDelayS)} s`;
    const plain =
      score.plainCaught === null
        ? `plain thresholds: ${plainFa} false`
        : `plain: ${plainCaught}/${physiological} caught, median ${score.plainMedianDelayS === null ? '-' : `${Math.round(score.plainMedianDelayS)} s`}, ${plainFa} false`;
    log(
      `${s.name.padEnd(11)} ${String(s.hours).padStart(4)} h x ${SEEDS.length} seeds: wardgate ${caught}/${expected} caught, median ${delay} after onset, ${fa} false alarms; ${plain}${rejected ? `; ${rejected} messages refused` : ''}`,
    );
  }
  return {
    method: 'in-process alarm engine on a simulated clock; one bed per scenario; seeds 1-5',
    graceSeconds: GRACE_S,
    scenarios: scores,
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await runScenarioBench();
