// One box for a whole floor, at steady state: N beds (30, 300, 1,000), each a
// monitor sending 8 metrics at 1 Hz at its own phase within the second, over
// lean raw-socket connections (simulators/transports/leanMqtt.ts). Measured
// for `wardgate edge` and for a bare aedes broker fed the same load in the
// same run: each broker's CPU (all threads, from /proc) over a window after a
// warm-up, the daemon's RSS, PUBACK latency, and (wardgate) the latency from a
// device's publish to the `raised` event on the ward's alarm topic: each bed
// sends a critical systolic pressure once a minute, the next message clears it.
// The simulator's own CPU is printed too: it must not be the bottleneck.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt from 'mqtt';
import { deviceVerifier, mintDeviceSecret } from '../edge/auth/deviceSecret.js';
import { hashPassword } from '../edge/auth/password.js';
import { LeanMqttConnection } from '../simulators/transports/leanMqtt.js';
import {
  cpuByThread,
  cpuSeconds,
  daemonMetrics,
  mainIsolateMiB,
  rssMiB,
  startBare,
  startWardgate,
  type BrokerChild,
} from './children.js';
import { monitorVitals } from './monitorVitals.js';

const WARD = 'floor';

export interface FloorRun {
  beds: number;
  brokerCpuPercent: number;
  /** The main thread, the busiest other thread (wardgate's ingest writer) and the rest. */
  threadCpuPercent: { main: number; busiestOther: number; rest: number };
  simulatorCpuPercent: number;
  messagesPerSecond: number;
  pubackMs: { p50: number; p99: number; max: number };
  alarmMs?: { count: number; p50: number; p99: number; max: number };
  rssMiB?: number;
  peakRssMiB?: number;
  /** wardgate's main isolate at the end of the window (MiB); the rest of RSS is the writer thread, SQLite and code. */
  mainIsolateMiB?: { heapTotal: number; heapUsed: number; external: number };
  /** wardgate's ingest commits (groups) per second over the window: CPU per message falls as groups grow. */
  commitsPerSecond?: number;
  /** wardgate's commits over the window that took longer than 5 and 10 ms, fsync included (a PUBACK waits for its commit). */
  slowCommits?: { over5ms: number; over10ms: number };
}

export interface FloorFigures {
  beds: number;
  bare: FloorRun;
  wardgate: FloorRun;
}

const quantiles = (values: number[]) => {
  values.sort((a, b) => a - b);
  const at = (q: number) => values[Math.min(values.length - 1, Math.floor(q * values.length))] ?? Number.NaN;
  return { p50: at(0.5), p99: at(0.99), max: values[values.length - 1] ?? Number.NaN };
};

interface Device {
  id: string;
  password: string;
}

/** Drives `devices` at 1 Hz each for warmup + window seconds; measures over the window. */
async function drive(
  broker: BrokerChild,
  devices: readonly Device[],
  station: { user: string; password: string } | undefined,
  warmupS: number,
  windowS: number,
): Promise<FloorRun> {
  const opened = await Promise.all(
    devices.map(async (d) => {
      const { answer, connection } = await LeanMqttConnection.open({
        port: broker.port,
        clientId: d.id,
        username: d.id,
        password: d.password,
      });
      if (!connection) throw new Error(`${d.id}: CONNACK ${answer}`);
      return connection;
    }),
  );
  const alarmSentAt = new Map<string, number>();
  const alarmLatencies: number[] = [];
  let measuring = false;
  const client = station
    ? await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.port}`, {
        clientId: station.user,
        username: station.user,
        password: station.password,
        reconnectPeriod: 0,
      })
    : undefined;
  if (client) {
    await client.subscribeAsync(`wardgate/ward/${WARD}/alarms`, { qos: 1 });
    client.on('message', (_topic, payload) => {
      const event = JSON.parse(payload.toString()) as { phase: string; bed: string; metric: string };
      if (event.phase !== 'raised' || event.metric !== 'nibp_sys') return;
      const t0 = alarmSentAt.get(event.bed);
      alarmSentAt.delete(event.bed);
      if (t0 !== undefined && measuring) alarmLatencies.push(performance.now() - t0);
    });
  }
  const pubacks: number[] = [];
  let sent = 0;
  const seqBase = Date.now();
  const n = devices.length;
  const criticalEvery = n < 100 ? 10 : 60;
  const started = performance.now();
  const end = started + (warmupS + windowS) * 1000;
  const timers: NodeJS.Timeout[] = [];
  const beds = opened.map((conn, i) => {
    let count = 0;
    const topic = `wardgate/devices/${devices[i].id}/obs`;
    return () => {
      if (performance.now() >= end) return;
      count++;
      // Once a minute per bed (every 10 s on a small ward), at its own offset: a critical systolic pressure, cleared by the next message.
      const critical = (count + i) % criticalEvery === 0;
      const t0 = performance.now();
      if (critical) alarmSentAt.set(String(i + 1), t0);
      conn.publish(topic, monitorVitals(seqBase + count, critical ? 80 : 120, Date.now()), () => {
        if (measuring) pubacks.push(performance.now() - t0);
      });
      if (measuring) sent++;
    };
  });
  beds.forEach((send, i) => {
    timers.push(
      setTimeout(
        () => {
          send();
          timers.push(setInterval(send, 1000));
        },
        (i * 1000) / n,
      ),
    );
  });
  await new Promise((r) => setTimeout(r, warmupS * 1000));
  measuring = true;
  const commitCounts = async () => {
    if (broker.httpPort === undefined) return undefined;
    const metrics = await daemonMetrics(broker.httpPort);
    const upTo = (le: string) => metrics.get(`wardgate_commit_duration_seconds_bucket{le="${le}"}`) ?? Number.NaN;
    const all = metrics.get('wardgate_commit_batch_items_count') ?? Number.NaN;
    return { all, over5ms: all - upTo('0.005'), over10ms: all - upTo('0.01') };
  };
  const commitsBefore = await commitCounts();
  const cpuBefore = cpuSeconds(broker.child.pid!);
  const threadsBefore = cpuByThread(broker.child.pid!);
  const simBefore = process.cpuUsage();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, windowS * 1000));
  const seconds = (performance.now() - t0) / 1000;
  const brokerCpu = (cpuSeconds(broker.child.pid!) - cpuBefore) / seconds;
  // The main thread; the busiest other one (the ingest writer thread, when wardgate); all the rest (GC helpers, the thread pool).
  const used = [...cpuByThread(broker.child.pid!)].map(([tid, cpu]) => ({
    main: tid === String(broker.child.pid),
    pct: ((cpu - (threadsBefore.get(tid) ?? 0)) / seconds) * 100,
  }));
  const others = used.filter((u) => !u.main).sort((a, b) => b.pct - a.pct);
  const round = (x: number) => Math.round(x * 100) / 100;
  const threads = {
    main: round(used.find((u) => u.main)?.pct ?? 0),
    busiestOther: round(others[0]?.pct ?? 0),
    rest: round(others.slice(1).reduce((a, u) => a + u.pct, 0)),
  };
  const sim = process.cpuUsage(simBefore);
  measuring = false;
  for (const timer of timers) clearTimeout(timer);
  const rss = rssMiB(broker.child.pid!, 'VmRSS');
  const peak = rssMiB(broker.child.pid!, 'VmHWM');
  const commitsAfter = await commitCounts();
  const isolate = broker.httpPort === undefined ? undefined : mainIsolateMiB(await daemonMetrics(broker.httpPort));
  await new Promise((r) => setTimeout(r, 300));
  for (const c of opened) c.end();
  await client?.endAsync();
  return {
    beds: n,
    brokerCpuPercent: brokerCpu * 100,
    threadCpuPercent: threads,
    simulatorCpuPercent: ((sim.user + sim.system) / 1e6 / seconds) * 100,
    messagesPerSecond: sent / seconds,
    pubackMs: quantiles(pubacks),
    ...(station && { alarmMs: { count: alarmLatencies.length, ...quantiles(alarmLatencies) } }),
    rssMiB: rss,
    peakRssMiB: peak,
    ...(isolate && { mainIsolateMiB: isolate }),
    ...(commitsBefore !== undefined &&
      commitsAfter !== undefined && {
        commitsPerSecond: (commitsAfter.all - commitsBefore.all) / seconds,
        slowCommits: {
          over5ms: commitsAfter.over5ms - commitsBefore.over5ms,
          over10ms: commitsAfter.over10ms - commitsBefore.over10ms,
        },
      }),
  };
}

export async function runFloorBench(
  log: (line: string) => void = console.log,
  sizes = [30, 300, 1000],
): Promise<FloorFigures[]> {
  const windowS = Number(process.env.WARDGATE_BENCH_FLOOR_SECONDS ?? 30);
  // WARDGATE_BENCH_FLOOR_PROF=DIR: a CPU profile of the daemon (other Node options: WARDGATE_BENCH_NODE_ARGS, children.ts).
  const nodeArgs = process.env.WARDGATE_BENCH_FLOOR_PROF
    ? ['--cpu-prof', `--cpu-prof-dir=${process.env.WARDGATE_BENCH_FLOOR_PROF}`]
    : [];
  const figures: FloorFigures[] = [];
  for (const beds of sizes) {
    const devices = Array.from({ length: beds }, (_, i) => ({ id: `mon-${i + 1}`, password: mintDeviceSecret() }));
    const bare = await startBare();
    let b: FloorRun;
    try {
      b = await drive(bare, devices, undefined, 5, windowS);
    } finally {
      await bare.stop();
    }
    const dir = mkdtempSync(join(tmpdir(), 'wardgate-floor-'));
    try {
      const station = { user: 'station', password: mintDeviceSecret() };
      const wardgate = await startWardgate(
        dir,
        {
          ward: WARD,
          mqtt: { port: 0 },
          http: { port: 0 },
          gateway: { dataDir: './data' },
          log: { level: 'error' },
          // WARDGATE_BENCH_FLOOR_GROUP_COMMIT_MS: the daemon's ingest.groupCommitMs (its default otherwise, 3 ms).
          ...(process.env.WARDGATE_BENCH_FLOOR_GROUP_COMMIT_MS && {
            ingest: { groupCommitMs: Number(process.env.WARDGATE_BENCH_FLOOR_GROUP_COMMIT_MS) },
          }),
          devices: devices.map((d, i) => ({ id: d.id, bed: String(i + 1), secretHash: deviceVerifier(d.password) })),
          users: [
            { name: station.user, role: 'viewer', secretHash: await hashPassword(station.password, { logN: 12 }) },
          ],
        },
        nodeArgs,
      );
      let w: FloorRun;
      try {
        w = await drive(wardgate, devices, station, 10, windowS);
      } finally {
        await wardgate.stop();
      }
      figures.push({ beds, bare: b, wardgate: w });
      const a = w.alarmMs!;
      log(
        `${String(beds).padStart(5)} beds (${Math.round(w.messagesPerSecond)} msg/s, ${Math.round(w.commitsPerSecond ?? 0)} commits/s, ` +
          `${w.slowCommits?.over5ms ?? '?'} over 5 ms, ${w.slowCommits?.over10ms ?? '?'} over 10 ms): CPU wardgate ${w.brokerCpuPercent.toFixed(1)} % vs bare ${b.brokerCpuPercent.toFixed(1)} % of a core ` +
          `(simulator ${w.simulatorCpuPercent.toFixed(1)} %); RSS ${w.rssMiB!.toFixed(0)} MiB (peak ${w.peakRssMiB!.toFixed(0)}; bare ${b.rssMiB!.toFixed(0)}); ` +
          `PUBACK p50 ${w.pubackMs.p50.toFixed(2)} p99 ${w.pubackMs.p99.toFixed(2)} max ${w.pubackMs.max.toFixed(1)} ms (bare p99 ${b.pubackMs.p99.toFixed(2)}); ` +
          `alarm p50 ${a.p50.toFixed(1)} p99 ${a.p99.toFixed(1)} max ${a.max.toFixed(1)} ms (${a.count} alarms); threads ${JSON.stringify(w.threadCpuPercent)}; ` +
          `main isolate MiB ${JSON.stringify(w.mainIsolateMiB, (_k, v: unknown) => (typeof v === 'number' ? Math.round(v) : v))}`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return figures;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const sizes = process.argv
    .slice(2)
    .map(Number)
    .filter((n) => n > 0);
  console.log(JSON.stringify(await runFloorBench(console.log, sizes.length ? sizes : undefined), null, 2));
}
