// Cloud benchmark: Firestore document writes and reads per 1,000 readings and
// per batch, function time per 1,000 readings, and an estimated monthly cost
// per bed for a 30-bed ward at GCP list prices, beside the same estimate for
// one Firestore document per reading. Runs the real functions against the
// emulators (started here). `node dist/bench/cloud.js` prints JSON.
import { pathToFileURL } from 'node:url';
import { Transaction, WriteBatch, type DocumentReference } from '@google-cloud/firestore';
import { applyMessage } from '../cloud/analysis/analyzeReadings.js';
import { startEmulatorPair } from '../cloud/local/emulators.js';
import { startLocalCloud } from '../cloud/local/localCloud.js';
import { syntheticBatches } from '../cloud/local/syntheticWard.js';
import { createCloudLogger } from '../cloud/log.js';
import { defaults, type CloudSettings } from '../cloud/settings.js';
import { documentBytes } from '../cloud/store/docSize.js';
import { segments } from '../cloud/store/paths.js';
import { signedBatchRequest } from '../shared/sync/request.js';

/**
 * GCP list prices (USD) used for the estimate, as published on the Firestore
 * (Standard edition, multi-region nam5), Cloud Run functions (request-based
 * billing, Tier 1) and Pub/Sub pricing pages, read on 2026-11-27. Free tiers
 * are ignored: a hospital running many wards exhausts them.
 */
export const listPrices = {
  date: '2026-11-27',
  firestoreWritePer100k: 0.18,
  firestoreReadPer100k: 0.06,
  firestoreDeletePer100k: 0.02,
  firestoreStoragePerGiBMonth: 0.18,
  functionsVcpuSecond: 0.000024,
  functionsGiBSecond: 0.0000025,
  functionsPerMillionRequests: 0.4,
  pubsubPerTiB: 40,
  pubsubMinBytesPerRequest: 1000,
} as const;

const BEDS = 30;
const METRICS = ['hr', 'spo2', 'rr', 'pr'];
const STEP_MS = 1000;
const DURATION_MS = 5 * 60_000;
const BATCH_SIZE = 1000;
const SECRET = 'bench-gateway-secret-0123456789abcdef';
const SECONDS_PER_MONTH = 30 * 86_400;
/** Deployed sizes (cloud/deploy/plan.ts): 512 MiB instances get 1/3 vCPU on Cloud Run functions. */
const INSTANCE = { vcpu: 1 / 3, gib: 0.5 };
const RETENTION_DAYS = defaults.retentionDays;

export interface Counts {
  writes: number;
  reads: number;
  created: Set<string>;
}

/** Counts document writes and reads at the client: every write goes through a WriteBatch, every read here through a transaction. */
export function instrument(): { counts: Counts; reset(): Counts; restore(): void } {
  let counts: Counts = { writes: 0, reads: 0, created: new Set() };
  const wb = WriteBatch.prototype as unknown as Record<string, (...a: unknown[]) => unknown>;
  const tx = Transaction.prototype as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
  const saved = {
    set: wb.set,
    create: wb.create,
    update: wb.update,
    delete: wb.delete,
    get: tx.get,
    getAll: tx.getAll,
  };
  for (const name of ['set', 'create', 'update', 'delete'] as const) {
    const original = saved[name];
    wb[name] = function (this: unknown, ...args: unknown[]) {
      counts.writes++;
      counts.created.add((args[0] as DocumentReference).path);
      return original.apply(this, args);
    };
  }
  tx.get = async function (this: unknown, ...args: unknown[]) {
    counts.reads++;
    return saved.get.apply(this, args);
  };
  tx.getAll = async function (this: unknown, ...args: unknown[]) {
    counts.reads += args.length;
    return saved.getAll.apply(this, args);
  };
  return {
    get counts() {
      return counts;
    },
    reset() {
      const old = counts;
      counts = { writes: 0, reads: 0, created: new Set() };
      return old;
    },
    restore() {
      Object.assign(wb, { set: saved.set, create: saved.create, update: saved.update, delete: saved.delete });
      Object.assign(tx, { get: saved.get, getAll: saved.getAll });
    },
  };
}

export async function runCloudBench(): Promise<Record<string, unknown>> {
  let emulators;
  try {
    emulators = await startEmulatorPair('wardgate-bench');
  } catch (err) {
    return { skipped: `emulators unavailable: ${(err as Error).message.split('\n')[0]}` };
  }
  const saved = { f: process.env.FIRESTORE_EMULATOR_HOST, p: process.env.PUBSUB_EMULATOR_HOST };
  process.env.FIRESTORE_EMULATOR_HOST = emulators.firestoreHost;
  process.env.PUBSUB_EMULATOR_HOST = emulators.pubsubHost;
  const probe = instrument();
  try {
    const settings: CloudSettings = {
      ...defaults,
      projectId: 'wardgate-bench',
      gateways: new Map([['gw-bench', { ward: 'B1', secret: SECRET }]]),
      apiTokens: [],
      logLevel: 'silent',
    };
    const cloud = await startLocalCloud({
      settings,
      port: 0,
      env: process.env,
      log: createCloudLogger('silent'),
      push: false,
    });
    try {
      return await measure(cloud.url, cloud.ctx, probe);
    } finally {
      await cloud.stop();
    }
  } finally {
    probe.restore();
    process.env.FIRESTORE_EMULATOR_HOST = saved.f;
    process.env.PUBSUB_EMULATOR_HOST = saved.p;
    await emulators.stop();
  }
}

async function measure(
  url: string,
  ctx: Parameters<typeof applyMessage>[0],
  probe: ReturnType<typeof instrument>,
): Promise<Record<string, unknown>> {
  const start = Date.now() - DURATION_MS - 60_000;
  const batches = syntheticBatches({
    gateway: 'gw-bench',
    ward: 'B1',
    beds: Array.from({ length: BEDS }, (_, i) => String(i + 1)),
    start,
    durationMs: DURATION_MS,
    stepMs: STEP_MS,
    batchSize: BATCH_SIZE,
    vitals: (bed, t) =>
      Object.fromEntries(METRICS.map((m, i) => [m, 60 + i * 10 + (Number(bed) % 7) + Math.sin(t / 30_000 + i)])),
  });
  const readings = batches.reduce((n, b) => n + b.readings.length, 0);
  let ingestMs = 0;
  let analysisMs = 0;
  let cpuMs = 0;
  let requestBytes = 0;
  let segmentBytes = 0;
  let segmentDocs = 0;
  probe.reset();
  const analysisCounts = { writes: 0, reads: 0, created: new Set<string>() };
  const ingestCounts = { writes: 0, reads: 0, created: new Set<string>() };
  for (const batch of batches) {
    const req = signedBatchRequest(batch, SECRET, Date.now());
    requestBytes += req.body.length;
    let t0 = performance.now();
    let cpu0 = process.cpuUsage();
    const res = await fetch(`${url}/ingestBatch`, { method: 'POST', body: req.body, headers: req.headers });
    await res.arrayBuffer();
    ingestMs += performance.now() - t0;
    cpuMs += cpuMsOf(process.cpuUsage(cpu0));
    if (res.status !== 200) throw new Error(`ingest answered ${res.status}`);
    const c1 = probe.reset();
    ingestCounts.writes += c1.writes;
    ingestCounts.reads += c1.reads;
    c1.created.forEach((p) => ingestCounts.created.add(p));

    const snaps = await segments(ctx.db, 'B1').where('batchId', '==', batch.batchId).get();
    for (const s of snaps.docs) {
      segmentDocs++;
      segmentBytes += documentBytes(s.ref.path, s.data());
    }
    probe.reset();
    t0 = performance.now();
    cpu0 = process.cpuUsage();
    await applyMessage(ctx, {
      v: 1,
      ward: 'B1',
      gateway: 'gw-bench',
      batchId: batch.batchId,
      segments: snaps.docs.map((d) => d.id).sort((a, b) => a.localeCompare(b)),
    });
    analysisMs += performance.now() - t0;
    cpuMs += cpuMsOf(process.cpuUsage(cpu0));
    const c2 = probe.reset();
    analysisCounts.writes += c2.writes;
    analysisCounts.reads += c2.reads;
    c2.created.forEach((p) => analysisCounts.created.add(p));
  }

  const per1000 = (n: number) => round((n / readings) * 1000, 2);
  const writesPer1000 = per1000(ingestCounts.writes + analysisCounts.writes);
  const readsPer1000 = per1000(ingestCounts.reads + analysisCounts.reads);
  const bytesPerReading = segmentBytes / readings;
  const cost = monthlyCostPerBed({
    writesPer1000,
    readsPer1000,
    deletesPer1000: per1000(ingestCounts.created.size + analysisCounts.created.size),
    storedBytesPerReading: bytesPerReading,
    functionMsPer1000: ((ingestMs + analysisMs) / readings) * 1000,
    functionCpuMsPer1000: (cpuMs / readings) * 1000,
    requestsPer1000: ((2 * batches.length) / readings) * 1000,
  });
  const oneDocPerReading = monthlyCostPerBed({
    writesPer1000: 1000 + per1000(analysisCounts.writes),
    readsPer1000,
    deletesPer1000: 1000,
    storedBytesPerReading: perReadingDocumentBytes(),
    functionMsPer1000: ((ingestMs + analysisMs) / readings) * 1000,
    functionCpuMsPer1000: (cpuMs / readings) * 1000,
    requestsPer1000: ((2 * batches.length) / readings) * 1000,
  });
  return {
    ward: {
      beds: BEDS,
      metricsPerBed: METRICS.length,
      readingsPerBedPerSecond: METRICS.length / (STEP_MS / 1000),
      batchSize: BATCH_SIZE,
    },
    readings,
    batches: batches.length,
    firestore: {
      writesPer1000Readings: writesPer1000,
      ingestWritesPer1000Readings: per1000(ingestCounts.writes),
      analysisWritesPer1000Readings: per1000(analysisCounts.writes),
      writesPerBatch: round((ingestCounts.writes + analysisCounts.writes) / batches.length, 2),
      readsPer1000Readings: readsPer1000,
      segmentDocuments: segmentDocs,
      storedBytesPerReading: round(bytesPerReading, 1),
    },
    functionMsPer1000Readings: {
      ingestBatch: round((ingestMs / readings) * 1000, 1),
      analyzeReadings: round((analysisMs / readings) * 1000, 1),
    },
    functionCpuMsPer1000Readings: round((cpuMs / readings) * 1000, 1),
    gzipBytesPerReading: round(requestBytes / readings, 2),
    costPerBedPerMonthUsd: cost,
    costPerBedPerMonthUsdOneDocPerReading: oneDocPerReading,
    listPrices,
  };
}

export interface CostInputs {
  writesPer1000: number;
  readsPer1000: number;
  deletesPer1000: number;
  storedBytesPerReading: number;
  /** Wall time of the requests against the local emulators. */
  functionMsPer1000: number;
  /** CPU time (user + system) of this process in the functions. */
  functionCpuMsPer1000: number;
  requestsPer1000: number;
  /** Readings per bed per second; default this benchmark's ward (4 numerics at 1 Hz). */
  readingsPerBedPerSecond?: number;
}

/** Monthly cost per bed at steady state: readings per bed per month from the ward's rate, data kept RETENTION_DAYS. */
export function monthlyCostPerBed(c: CostInputs): Record<string, number> {
  const readingsPerMonth = (c.readingsPerBedPerSecond ?? METRICS.length / (STEP_MS / 1000)) * SECONDS_PER_MONTH;
  const k = readingsPerMonth / 1000;
  const p = listPrices;
  const firestoreOps =
    (k * c.writesPer1000 * p.firestoreWritePer100k +
      k * c.readsPer1000 * p.firestoreReadPer100k +
      k * c.deletesPer1000 * p.firestoreDeletePer100k) /
    100_000;
  const storedGiB = (readingsPerMonth * (RETENTION_DAYS / 30) * c.storedBytesPerReading) / 2 ** 30;
  const firestoreStorage = storedGiB * p.firestoreStoragePerGiBMonth;
  // Billed instance time, stretched for the 1/3 vCPU a 512 MiB instance gets: the estimate from the CPU
  // time the functions used, and a bound from the wall time, which also stretches the waiting for the
  // local emulators as if it were computing (and grows with whatever else loads the machine).
  const functionsFor = (ms: number) =>
    ((k * ms) / 1000 / INSTANCE.vcpu) * (INSTANCE.vcpu * p.functionsVcpuSecond + INSTANCE.gib * p.functionsGiBSecond) +
    (k * c.requestsPer1000 * p.functionsPerMillionRequests) / 1e6;
  const functions = functionsFor(c.functionCpuMsPer1000);
  const functionsBound = functionsFor(c.functionMsPer1000);
  // One publish and one push delivery per batch, each billed at least 1,000 bytes.
  const pubsub = ((k * c.requestsPer1000 * p.pubsubMinBytesPerRequest) / 2 ** 40) * p.pubsubPerTiB;
  const total = firestoreOps + firestoreStorage + functions + pubsub;
  return {
    firestoreOperations: round(firestoreOps, 3),
    firestoreStorage: round(firestoreStorage, 3),
    functions: round(functions, 3),
    pubsub: round(pubsub, 4),
    total: round(total, 2),
    functionsWallTimeBound: round(functionsBound, 3),
    totalWithWallTimeBound: round(total - functions + functionsBound, 2),
  };
}

/**
 * Stored size of one reading as its own document with Firestore's default
 * indexes: the document (storage-size rules, docSize.ts) plus an ascending and
 * a descending single-field index entry per field (document name + value + 32 bytes each).
 */
function perReadingDocumentBytes(): number {
  const path = 'wards/3B/readings/gw-3b_1234567890';
  const fields = {
    n: 1234567890,
    device: 'mon-12',
    seq: 123456,
    code: 'spo2',
    value: 97,
    unit: '%',
    ts: 1764234000000,
    flags: 0,
    bed: '12',
    patient: `p${'0'.repeat(32)}`,
    expireAt: new Date(),
  };
  const doc = documentBytes(path, fields);
  const nameBytes = path.split('/').reduce((s, part) => s + part.length + 1, 16);
  const indexEntries = Object.values(fields).reduce(
    (s: number, v) => s + 2 * (nameBytes + documentBytes('', { v }) - 32 - 16 + 32),
    0,
  );
  return doc + indexEntries;
}

/** CPU time of this process, ms: the fetch client and the function run here, the emulators elsewhere. */
export const cpuMsOf = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1000;
const round = (v: number, digits: number) => Math.round(v * 10 ** digits) / 10 ** digits;

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  process.stdout.write(`${JSON.stringify(await runCloudBench(), null, 2)}\n`);
}
