// Sync benchmark: drain rate of a ward's backlog (30 beds x 8 metrics at 1 Hz,
// a scaled part of one day) from a real outbox in SQLite, through the real
// SyncService (plan, build, pseudonymize, gzip, sign, POST, acknowledge), to a
// local endpoint that speaks the contract, as a multiple of real time; beside
// the same endpoint's raw accept rate for pre-built batches posted by a
// trivial client, measured in the same run. `node dist/bench/sync.js` prints JSON.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { createLogger } from '../edge/log.js';
import { openDatabase, type Db } from '../edge/store/database.js';
import { cloudConfigSchema } from '../edge/sync/config.js';
import { SyncService } from '../edge/sync/syncService.js';
import {
  buildBatch,
  encodeBatch,
  patientPseudonym,
  signedBatchRequest,
  type SyncReading,
} from '../shared/sync/index.js';

const BEDS = 30;
const METRICS = ['hr', 'spo2', 'pr', 'rr', 'temp', 'nibp_sys', 'nibp_dia', 'nibp_map'] as const;
const UNITS: Record<string, string> = {
  hr: '/min',
  spo2: '%',
  pr: '/min',
  rr: '/min',
  temp: 'Cel',
  nibp_sys: 'mm[Hg]',
  nibp_dia: 'mm[Hg]',
  nibp_map: 'mm[Hg]',
};
const DAY_S = 86_400;
/** Readings per second the ward produces: the real-time rate the drain is a multiple of. */
const WARD_RATE = BEDS * METRICS.length;
const SECRET = 'bench-cloud-secret-0123456789abcdef';
const WARD_SECRET = 'bench-ward-secret-0123456789abcdef';

interface Endpoint {
  url: string;
  stats(): Promise<{ requests: number; readings: number; refused: number }>;
  stop(): Promise<void>;
}

async function startEndpoint(): Promise<Endpoint> {
  const worker = new Worker(new URL('./syncEndpoint.js', import.meta.url), { workerData: { secret: SECRET } });
  const port = await new Promise<number>((resolve, reject) => {
    worker.once('message', (m: { port: number }) => resolve(m.port));
    worker.once('error', reject);
  });
  return {
    url: `http://127.0.0.1:${port}`,
    stats: () =>
      new Promise((resolve) => {
        worker.once('message', (m: { stats: { requests: number; readings: number; refused: number } }) =>
          resolve(m.stats),
        );
        worker.postMessage('stats');
      }),
    stop: async () => {
      worker.postMessage('stop');
      await new Promise((r) => worker.once('exit', r));
    },
  };
}

/** One monitor message per bed per second, eight readings each, received over `seconds` ending now; every bed has an admitted patient. */
function fillBacklog(db: Db, seconds: number): number {
  const start = Date.now() - seconds * 1000;
  db.transaction(() => {
    const device = db.prepare("INSERT INTO devices (device_id, bed, source) VALUES (?, ?, 'mqtt')");
    const patient = db.prepare(
      "INSERT INTO patients (identifier, authority, first_seen, last_seen) VALUES (?, 'HOSP', ?, ?)",
    );
    const admit = db.prepare(
      "INSERT INTO admissions (patient, bed, admitted_at, admitted_by) VALUES (?, ?, ?, 'nurse-bench')",
    );
    for (let b = 1; b <= BEDS; b++) {
      device.run(`mon-${b}`, String(b));
      patient.run(`MRN-${100000 + b}`, start, start);
      admit.run(b, String(b), start - 3_600_000);
    }
  })();
  const insert = db.prepare(
    "INSERT INTO observations (device, seq, ts, received_ts, bed, digest, readings) VALUES (?, ?, ?, ?, ?, x'00', ?)",
  );
  const CHUNK_S = 600;
  for (let s0 = 0; s0 < seconds; s0 += CHUNK_S) {
    db.transaction(() => {
      for (let s = s0; s < Math.min(seconds, s0 + CHUNK_S); s++) {
        const ts = start + s * 1000;
        for (let b = 1; b <= BEDS; b++) {
          const readings = METRICS.map((code, i) => [code, 60 + ((s + b + i) % 40), 0]);
          insert.run(b, s + 1, ts, ts, String(b), JSON.stringify(readings));
        }
      }
    })();
  }
  const total = seconds * BEDS * METRICS.length;
  db.prepare("UPDATE counters SET value = ? WHERE name IN ('readings', 'readings_unsynced')").run(total);
  return total;
}

/** The endpoint's own ceiling: pre-built, pre-compressed batches of `size` readings, each signed and POSTed by a trivial client, `concurrency` at a time. */
async function rawAcceptRate(endpoint: Endpoint, readings: number, size: number, concurrency: number): Promise<number> {
  const now = Date.now();
  const patient = patientPseudonym(WARD_SECRET, 'MRN-1^^^HOSP');
  const bodies: Array<{ batch: ReturnType<typeof buildBatch>; body: Buffer }> = [];
  for (let n = 1; n <= readings; n += size) {
    const items: SyncReading[] = [];
    for (let i = 0; i < size; i++) {
      const code = METRICS[i % METRICS.length];
      items.push({
        n: n + i,
        device: `mon-${(i % BEDS) + 1}`,
        seq: n + i,
        code,
        value: 60 + (i % 40),
        unit: UNITS[code] as SyncReading['unit'],
        ts: now - 60_000 + (i % 1000),
        flags: 0,
        bed: String((i % BEDS) + 1),
        patient,
      });
    }
    const batch = buildBatch({
      gateway: 'gw-raw',
      ward: '3B',
      created: now,
      readings: items,
      alarms: [],
      statuses: [],
    });
    bodies.push({ batch, body: encodeBatch(batch) });
  }
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < bodies.length) {
        const { batch, body } = bodies[next++];
        const req = signedBatchRequest(batch, SECRET, Date.now(), body);
        const res = await fetch(`${endpoint.url}/ingestBatch`, {
          method: 'POST',
          body: req.body,
          headers: req.headers,
        });
        if (res.status !== 200) throw new Error(`raw post answered ${res.status}: ${await res.text()}`);
      }
    }),
  );
  return (bodies.length * size) / ((performance.now() - started) / 1000);
}

/** Drains the backlog through the real SyncService; readings per second. */
async function drain(
  db: Db,
  endpoint: Endpoint,
  total: number,
  cloud: Record<string, unknown>,
): Promise<{ seconds: number; rate: number }> {
  const config = cloudConfigSchema.parse({ url: endpoint.url, ...cloud });
  const sync = new SyncService({
    db,
    config,
    identity: { gateway: 'gw-bench', ward: '3B' },
    secret: SECRET,
    wardSecret: WARD_SECRET,
    log: createLogger('silent'),
  });
  const unsynced = db.prepare("SELECT value FROM counters WHERE name = 'readings_unsynced'").pluck();
  const started = performance.now();
  await sync.start();
  await new Promise<void>((resolve, reject) => {
    const poll = setInterval(() => {
      if (unsynced.get() === 0) {
        clearInterval(poll);
        resolve();
      } else if (sync.state === 'paused' || sync.state === 'retrying') {
        clearInterval(poll);
        reject(new Error(`sync ${sync.state} during the benchmark`));
      }
    }, 20);
  });
  const seconds = (performance.now() - started) / 1000;
  await sync.stop();
  return { seconds, rate: total / seconds };
}

export async function runSyncBench(log: (line: string) => void = () => undefined): Promise<Record<string, unknown>> {
  // A scaled part of the day (WARDGATE_BENCH_SYNC_HOURS, default 1 of 24): filling SQLite with the whole day takes longer than draining it.
  const hours = Number(process.env.WARDGATE_BENCH_SYNC_HOURS ?? 1);
  const seconds = Math.round(hours * 3600);
  const dir = mkdtempSync(join(tmpdir(), 'wardgate-bench-sync-'));
  const endpoint = await startEndpoint();
  try {
    const db = openDatabase(dir);
    const filled = performance.now();
    const total = fillBacklog(db, seconds);
    db.pragma('wal_checkpoint(TRUNCATE)');
    log(
      `sync: backlog of ${total} readings (${hours} h of ${BEDS} beds x ${METRICS.length} metrics at 1 Hz) in ${((performance.now() - filled) / 1000).toFixed(1)} s`,
    );
    const cloud = { batch: { maxItems: 5000, maxAgeMs: 0 }, concurrency: 4 };
    const raw = await rawAcceptRate(endpoint, 200_000, 5000, 4);
    log(`sync: endpoint raw accept ${Math.round(raw)} readings/s`);
    const result = await drain(db, endpoint, total, cloud);
    const endpointStats = await endpoint.stats();
    db.close();
    const multiple = result.rate / WARD_RATE;
    log(
      `sync: drained in ${result.seconds.toFixed(1)} s: ${Math.round(result.rate)} readings/s = ${Math.round(multiple)}x real time`,
    );
    return {
      scale: { hours, ofDay: hours / 24, readings: total, fullDayReadings: DAY_S * WARD_RATE },
      settings: cloud,
      drain: {
        seconds: round(result.seconds),
        readingsPerSecond: Math.round(result.rate),
        realTimeMultiple: Math.round(multiple),
        fullDayEstimateMinutes: round((DAY_S * WARD_RATE) / result.rate / 60),
      },
      endpointRawAcceptPerSecond: Math.round(raw),
      drainShareOfEndpointCeiling: round(result.rate / raw),
      endpointRequests: endpointStats.requests,
      endpointRefused: endpointStats.refused,
      target: { realTimeMultiple: 500, met: multiple >= 500 },
    };
  } finally {
    await endpoint.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const round = (v: number) => Math.round(v * 100) / 100;

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  process.stdout.write(`${JSON.stringify(await runSyncBench((line) => process.stderr.write(`${line}\n`)), null, 2)}\n`);
}
