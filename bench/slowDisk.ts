// Slow disk: a real daemon whose data directory's fsyncs are made slow by the
// power-cut harness (test/powercut/), as on eMMC and SD cards (50-500 ms). At
// each delay: the acknowledged rate, PUBACK latency, and the latency from a
// device's publish to the alarm event on the ward topic, which must not follow
// the disk. `npm run bench:slowdisk`; not part of `npm test`.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt, { type MqttClient } from 'mqtt';
import { stringify } from 'yaml';
import { hashPassword } from '../edge/auth/password.js';
import { RUN_FILE } from '../edge/gateway.js';
import { PowerCutDir } from '../test/powercut/harness.js';
import { monitorVitals } from './monitorVitals.js';

const ROOT =
  [new URL('..', import.meta.url), new URL('../..', import.meta.url)]
    .map((u) => fileURLToPath(u))
    .find((p) => !p.endsWith('/dist/')) ?? '';

export interface SlowDiskFigures {
  fsyncDelayMs: number;
  offeredPerSecond: number;
  acknowledgedPerSecond: number;
  pubackP50: number;
  pubackP99: number;
  alarms: number;
  alarmP50: number;
  alarmP99: number;
  alarmMax: number;
}

export interface SlowDiskOptions {
  fsyncDelayMs: number;
  beds?: number;
  /** Messages per bed per second (8 readings each). */
  hz?: number;
  seconds?: number;
  /** Top-level config sections merged into the daemon's (e.g. jobs). */
  config?: Record<string, unknown>;
}

const quantile = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;

/** One measurement on a fresh daemon whose fsyncs take `fsyncDelayMs`. */
export async function measureSlowDisk(options: SlowDiskOptions): Promise<SlowDiskFigures> {
  const { fsyncDelayMs, beds = 8, hz = 5, seconds = 8, config = {} } = options;
  const dir = mkdtempSync(join(tmpdir(), 'wardgate-slowdisk-'));
  const harness = new PowerCutDir(join(dir, 'data'), dir);
  harness.setFaults({ fsyncDelayMs });
  const password = (name: string) => `${name}-bench-password`;
  const devices = await Promise.all(
    Array.from({ length: beds }, async (_, i) => ({
      id: `mon-${i + 1}`,
      bed: String(i + 1),
      secretHash: await hashPassword(password(`mon-${i + 1}`), { logN: 10 }),
    })),
  );
  const users = [
    { name: 'station', role: 'viewer', secretHash: await hashPassword(password('station'), { logN: 10 }) },
  ];
  const file = join(dir, 'wardgate.yaml');
  writeFileSync(
    file,
    stringify({
      ward: '3B',
      mqtt: { host: '127.0.0.1', port: 0 },
      http: { host: '127.0.0.1', port: 0 },
      gateway: { dataDir: './data' },
      devices,
      users,
      log: { level: 'error' },
      ...config,
    }),
  );
  const child = spawn(process.execPath, [join(ROOT, 'bin/wardgate.js'), 'edge', '--config', file], {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, ...harness.env() },
  });
  const clients: MqttClient[] = [];
  try {
    const port = await mqttPortOf(harness.root, child.pid!);
    const connect = (name: string) =>
      mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, {
        clientId: name,
        username: name,
        password: password(name),
        reconnectPeriod: 0,
      });
    const station = await connect('station');
    clients.push(station);
    await station.subscribeAsync('wardgate/ward/3B/alarms', { qos: 1 });
    const sentAt = new Map<string, number>();
    const alarmLatencies: number[] = [];
    station.on('message', (_topic, payload) => {
      const event = JSON.parse(payload.toString()) as { phase: string; bed: string; metric: string };
      if (event.phase !== 'raised' || event.metric !== 'nibp_sys') return;
      const t0 = sentAt.get(event.bed);
      if (t0 !== undefined) alarmLatencies.push(performance.now() - t0);
      sentAt.delete(event.bed);
    });
    const monitors = await Promise.all(devices.map((d) => connect(d.id)));
    clients.push(...monitors);
    const pubacks: number[] = [];
    let sent = 0;
    let acked = 0;
    const critical = new Set<number>();
    const period = 1000 / hz;
    const started = performance.now();
    for (let tick = 0; tick < seconds * hz; tick++) {
      for (let i = 0; i < beds; i++) {
        const wait = started + tick * period + (i * period) / beds - performance.now();
        if (wait > 1) await new Promise((r) => setTimeout(r, wait));
        // A bed whose last message was critical gets a normal one (the alarm clears); otherwise one in five turns critical.
        const isCritical = !critical.has(i) && (tick + i) % 5 === 0;
        const t0 = performance.now();
        if (isCritical) {
          critical.add(i);
          sentAt.set(String(i + 1), t0);
        } else critical.delete(i);
        sent++;
        monitors[i].publish(
          `wardgate/devices/mon-${i + 1}/obs`,
          monitorVitals(tick + 1, isCritical ? 80 : 120),
          { qos: 1 },
          (err) => {
            if (err) return;
            acked++;
            pubacks.push(performance.now() - t0);
          },
        );
      }
    }
    const elapsed = (performance.now() - started) / 1000;
    const ackedInTime = acked;
    // Waits for what is in flight, so that the latencies include the slowest.
    const deadline = Date.now() + 10_000 + fsyncDelayMs * 10;
    while (acked < sent && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 300));
    pubacks.sort((a, b) => a - b);
    alarmLatencies.sort((a, b) => a - b);
    return {
      fsyncDelayMs,
      offeredPerSecond: Math.round(sent / elapsed),
      acknowledgedPerSecond: Math.round(ackedInTime / elapsed),
      pubackP50: Math.round(quantile(pubacks, 0.5)),
      pubackP99: Math.round(quantile(pubacks, 0.99)),
      alarms: alarmLatencies.length,
      alarmP50: Number(quantile(alarmLatencies, 0.5).toFixed(1)),
      alarmP99: Number(quantile(alarmLatencies, 0.99).toFixed(1)),
      alarmMax: Number((alarmLatencies[alarmLatencies.length - 1] ?? NaN).toFixed(1)),
    };
  } finally {
    await Promise.all(clients.map((c) => c.endAsync(true)));
    child.kill('SIGKILL');
    await new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r(null) : child.once('exit', r)));
    rmSync(dir, { recursive: true, force: true });
  }
}

async function mqttPortOf(dataDir: string, pid: number): Promise<number> {
  for (let i = 0; i < 600; i++) {
    try {
      const info = JSON.parse(readFileSync(join(dataDir, RUN_FILE), 'utf8')) as {
        pid: number;
        ports: { mqtt: number };
      };
      if (info.pid === pid) return info.ports.mqtt;
    } catch {
      // not yet written
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('wardgate did not start');
}

/**
 * Each delay twice: as configured by default, and with the storage job (whose
 * WAL measure is a PASSIVE checkpoint on the event loop: two syncs, every 30 s)
 * moved out of the run, which shows what is left besides that known stall.
 */
export async function runSlowDiskBench(
  log: (line: string) => void = console.log,
): Promise<Array<SlowDiskFigures & { storageJob: string }>> {
  const figures: Array<SlowDiskFigures & { storageJob: string }> = [];
  for (const fsyncDelayMs of [0, 20, 100, 500]) {
    for (const storageJob of ['default', 'hourly']) {
      const config = storageJob === 'hourly' ? { jobs: { storage: '0 0 * * * *' } } : {};
      const f = { ...(await measureSlowDisk({ fsyncDelayMs, seconds: 10, config })), storageJob };
      log(JSON.stringify(f));
      figures.push(f);
    }
  }
  return figures;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await runSlowDiskBench();
