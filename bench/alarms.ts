// Alarm benchmarks:
// 1. latency from a device's publish to the alarm event on the ward topic,
//    through a real daemon, at a 30-bed ward's load (8 metrics per bed at 1 Hz)
//    and at ten times that;
// 2. how quiet the engine is: alarms per 1,000 readings on a noisy simulated
//    ward, beside plain threshold alarms on the same streams, and whether the
//    real deteriorations are still caught.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt, { type MqttClient } from 'mqtt';
import { stringify } from 'yaml';
import { alarmConfigSchema } from '../edge/alarms/config.js';
import { AlarmEngine } from '../edge/alarms/engine.js';
import { defaultLimits } from '../edge/alarms/limits.js';
import type { AlarmEvent } from '../edge/alarms/types.js';
import { hashPassword } from '../edge/auth/password.js';
import { EventBus } from '../edge/bus.js';
import { RUN_FILE } from '../edge/gateway.js';
import { createLogger } from '../edge/log.js';
import { metric } from '../shared/codes.js';
import { noisyWard, plainThresholdAlarms } from './noisyWard.js';
import { monitorVitals } from './monitorVitals.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BEDS = 30;

export interface LatencyFigures {
  load: string;
  messagesPerSecond: number;
  readingsPerSecond: number;
  alarms: number;
  p50: number;
  p99: number;
  max: number;
}

async function startDaemon(dir: string): Promise<{ child: ChildProcess; mqttPort: number }> {
  const devices = await Promise.all(
    Array.from({ length: BEDS }, async (_, i) => ({
      id: `mon-${i + 1}`,
      bed: String(i + 1),
      secretHash: await hashPassword(`mon-${i + 1}-password`, { logN: 10 }),
    })),
  );
  const users = [{ name: 'station', role: 'viewer', secretHash: await hashPassword('station-password', { logN: 10 }) }];
  const file = join(dir, 'wardgate.yaml');
  writeFileSync(
    file,
    stringify({
      ward: '3B',
      mqtt: { port: 0 },
      http: { port: 0 },
      gateway: { dataDir: './data' },
      devices,
      users,
      log: { level: 'error' },
    }),
  );
  const child = spawn(process.execPath, [join(ROOT, 'bin/wardgate.js'), 'edge', '--config', file], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  for (let i = 0; i < 400; i++) {
    try {
      const info = JSON.parse(readFileSync(join(dir, 'data', RUN_FILE), 'utf8')) as {
        pid: number;
        ports: { mqtt: number };
      };
      if (info.pid === child.pid) return { child, mqttPort: info.ports.mqtt };
    } catch {
      // not yet written
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('wardgate did not start');
}

/** Each bed publishes 8 metrics `hz` times a second; one message in ten carries a critical blood pressure. */
async function latencyRun(port: number, hz: number, seconds: number, seqBase: number): Promise<LatencyFigures> {
  const station = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, {
    clientId: 'station',
    username: 'station',
    password: 'station-password',
    reconnectPeriod: 0,
  });
  await station.subscribeAsync('wardgate/ward/3B/alarms', { qos: 1 });
  const sentAt = new Map<string, number>();
  const latencies: number[] = [];
  station.on('message', (_topic, payload) => {
    const event = JSON.parse(payload.toString()) as { phase: string; bed: string; metric: string };
    if (event.phase !== 'raised' || event.metric !== 'nibp_sys') return;
    const t0 = sentAt.get(event.bed);
    if (t0 !== undefined) latencies.push(performance.now() - t0);
    sentAt.delete(event.bed);
  });
  const devices: MqttClient[] = await Promise.all(
    Array.from({ length: BEDS }, (_, i) =>
      mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, {
        clientId: `mon-${i + 1}`,
        username: `mon-${i + 1}`,
        password: `mon-${i + 1}-password`,
        reconnectPeriod: 0,
      }),
    ),
  );
  const critical = new Set<number>();
  let sent = 0;
  const ticks = seconds * hz;
  // Devices are not synchronised: each bed publishes at its own phase within the period.
  const period = 1000 / hz;
  const started = performance.now();
  for (let tick = 0; tick < ticks; tick++) {
    for (let i = 0; i < BEDS; i++) {
      const due = started + tick * period + (i * period) / BEDS;
      const wait = due - performance.now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      // A bed whose last message was critical gets a normal one (the alarm clears); otherwise one in ten turns critical.
      const isCritical = !critical.has(i) && (tick * BEDS + i) % 10 === 3;
      if (isCritical) {
        critical.add(i);
        sentAt.set(String(i + 1), performance.now());
      } else critical.delete(i);
      devices[i].publish(`wardgate/devices/mon-${i + 1}/obs`, monitorVitals(seqBase + tick, isCritical ? 80 : 120), {
        qos: 1,
      });
      sent++;
    }
  }
  await new Promise((r) => setTimeout(r, 500));
  await Promise.all([...devices, station].map((c) => c.endAsync()));
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
  return {
    load: hz === 1 ? '30 beds x 8 metrics at 1 Hz' : `30 beds x 8 metrics at ${hz} Hz (${hz}x)`,
    messagesPerSecond: sent / seconds,
    readingsPerSecond: (sent * 8) / seconds,
    alarms: latencies.length,
    p50: at(0.5),
    p99: at(0.99),
    max: latencies[latencies.length - 1] ?? NaN,
  };
}

export interface QuietFigures {
  beds: number;
  hours: number;
  readings: number;
  engineAlarms: number;
  plainAlarms: number;
  enginePer1000: number;
  plainPer1000: number;
  events: number;
  caught: number;
  meanSecondsToAlarm: number;
  engineFalseAlarms: number;
  plainFalseAlarms: number;
}

/** Runs the labelled noisy ward through the real engine on a simulated clock, and through plain thresholds. */
export function quietRun(seed = 7, hours = 2): QuietFigures {
  const seconds = hours * 3600;
  const { samples, events } = noisyWard({ beds: BEDS, seconds, seed });
  const start = Date.parse('2026-11-27T00:00:00Z');
  let now = start;
  const raised: AlarmEvent[] = [];
  const engine = new AlarmEngine({
    config: alarmConfigSchema.parse({}),
    devices: Array.from({ length: BEDS }, (_, i) => ({ id: `mon-${i + 1}`, bed: String(i + 1) })),
    bus: new EventBus(createLogger('silent')),
    patients: { atBed: () => undefined, get: () => undefined },
    sinks: [
      { name: 'count', onEvent: (e) => void (e.phase === 'raised' && e.kind === 'physiological' && raised.push(e)) },
    ],
    log: createLogger('silent'),
    clock: { now: () => now, every: () => () => {} },
  });
  let seq = 0;
  let index = 0;
  for (let t = 0; t < seconds; t++) {
    now = start + t * 1000;
    while (index < samples.length && samples[index].t === t) {
      const s = samples[index++];
      const readings = Object.entries(s.values).map(([code, value]) => ({
        code,
        value,
        unit: metric(code).unit,
        ts: now,
        flags: s.flags[code] ?? 0,
      }));
      engine.onCommitted([
        {
          item: {
            kind: 'obs',
            source: 'mqtt',
            receivedTs: now,
            deviceId: `mon-${s.bed}`,
            seq: ++seq,
            ts: now,
            digest: Buffer.alloc(8),
            readings,
          },
          result: { outcome: 'stored', readings: readings.length, bed: s.bed },
        },
      ]);
    }
    engine.tick();
  }
  const limits = Object.fromEntries(
    defaultLimits.map((l) => [
      l.metric,
      { ...(l.low !== null && { low: l.low }), ...(l.high !== null && { high: l.high }) },
    ]),
  );
  const plain = plainThresholdAlarms(samples, limits);
  const during = (bed: string, t: number) => events.some((e) => e.bed === bed && t >= e.start && t <= e.end + 60);
  let caught = 0;
  let delaySum = 0;
  for (const e of events) {
    const hit = raised.find(
      (a) => a.bed === e.bed && (a.ts - start) / 1000 >= e.start && (a.ts - start) / 1000 <= e.end,
    );
    if (hit) {
      caught++;
      delaySum += (hit.ts - start) / 1000 - e.start;
    }
  }
  const readings = samples.length * 3;
  return {
    beds: BEDS,
    hours,
    readings,
    engineAlarms: raised.length,
    plainAlarms: plain.length,
    enginePer1000: (raised.length / readings) * 1000,
    plainPer1000: (plain.length / readings) * 1000,
    events: events.length,
    caught,
    meanSecondsToAlarm: caught ? delaySum / caught : NaN,
    engineFalseAlarms: raised.filter((a) => !during(a.bed!, (a.ts - start) / 1000)).length,
    plainFalseAlarms: plain.filter((a) => !during(a.bed, a.t)).length,
  };
}

export async function runAlarmBench(
  log: (line: string) => void = console.log,
): Promise<{ latency: LatencyFigures[]; quiet: QuietFigures }> {
  const dir = mkdtempSync(join(tmpdir(), 'wardgate-alarm-bench-'));
  const { child, mqttPort } = await startDaemon(dir);
  try {
    const latency = [await latencyRun(mqttPort, 1, 30, 0), await latencyRun(mqttPort, 10, 15, 100_000)];
    for (const l of latency) {
      log(
        `${l.load.padEnd(38)} ${Math.round(l.readingsPerSecond)} readings/s: publish to alarm event p50 ${l.p50.toFixed(1)} ms, p99 ${l.p99.toFixed(1)} ms, max ${l.max.toFixed(1)} ms (${l.alarms} alarms)`,
      );
    }
    const quiet = quietRun();
    log(
      `noisy ward, ${quiet.beds} beds x ${quiet.hours} h (${quiet.readings} readings): wardgate ${quiet.engineAlarms} alarms (${quiet.enginePer1000.toFixed(3)} per 1,000 readings, ${quiet.engineFalseAlarms} outside labelled events) ` +
        `vs plain thresholds ${quiet.plainAlarms} (${quiet.plainPer1000.toFixed(3)} per 1,000, ${quiet.plainFalseAlarms} outside); labelled deteriorations caught ${quiet.caught}/${quiet.events}, mean ${quiet.meanSecondsToAlarm.toFixed(0)} s after onset`,
    );
    return { latency, quiet };
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await runAlarmBench();
