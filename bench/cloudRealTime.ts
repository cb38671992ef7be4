// Cloud benchmark at a ward's real rate: Firestore writes and reads per 1,000
// readings and the cost per bed per month when the batches are the ones the
// edge forms in real time, not 1,000-reading batches of a backlog. A simulated
// ward (the `wardgate simulate` default: one MQTT monitor per stable bed) is
// written second by second into a real edge outbox, the real SyncService sends
// it to the real ingestBatch (local cloud, emulators started here), and the
// analysis runs on each batch's segments as a Pub/Sub delivery would make it.
// Both sides read one virtual clock, so an hour of a ward runs in minutes; the
// sync is triggered as the daemon triggers it: after every commit, at once for
// an alarm event, by the 5-second sync job, and by its own wake-up at the age
// bound (here to the second). `node dist/bench/cloudRealTime.js` prints JSON.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { setImmediate as immediate, setTimeout as sleep } from 'node:timers/promises';
import { applyMessage } from '../cloud/analysis/analyzeReadings.js';
import type { CloudContext } from '../cloud/context.js';
import type { SegmentDoc } from '../cloud/ingest/segments.js';
import { startEmulatorPair } from '../cloud/local/emulators.js';
import { startLocalCloud } from '../cloud/local/localCloud.js';
import { createCloudLogger } from '../cloud/log.js';
import { defaults, type CloudSettings } from '../cloud/settings.js';
import { documentBytes } from '../cloud/store/docSize.js';
import { segments } from '../cloud/store/paths.js';
import { createLogger } from '../edge/log.js';
import { openDatabase, type Db } from '../edge/store/database.js';
import { cloudConfigSchema } from '../edge/sync/config.js';
import { SyncService } from '../edge/sync/syncService.js';
import type { Emission } from '../simulators/bed.js';
import { stablePlans, Ward } from '../simulators/ward.js';
import { cpuMsOf as cpuMs, instrument, listPrices, monthlyCostPerBed, type Counts } from './cloud.js';

const SECRET = 'bench-realtime-secret-0123456789abcdef';
const WARD_SECRET = 'bench-realtime-ward-secret-0123456789';
/** The daemon's sync job (jobs.sync default '*\/5 * * * * *'). */
const SYNC_JOB_S = 5;
/** DOMAIN.md section 4: 187 audible alarms per bed per day in an ICU; each is raised and, 30 s later, cleared. */
const ICU_ALARMS_PER_BED_HOUR = 187 / 24;
const ALARM_LENGTH_S = 30;

export interface RealTimeRun {
  readonly beds: number;
  /** Routine data's age bound; undefined: the product default. */
  readonly maxAgeMs?: number;
  /** Alarms per bed per hour (each a raised and a cleared event). */
  readonly alarmsPerBedHour: number;
}

interface Tally {
  ingest: { writes: number; reads: number; created: Set<string> };
  analysis: { writes: number; reads: number; created: Set<string> };
  ingestMs: number;
  analysisMs: number;
  /** CPU time of this process in the functions (user + system): what a 1/3 vCPU stretches. */
  ingestCpuMs: number;
  analysisCpuMs: number;
  batches: number;
  messages: number;
  retries: number;
  bytes: number;
}

const add = (into: Tally['ingest'], c: Counts) => {
  into.writes += c.writes;
  into.reads += c.reads;
  c.created.forEach((p) => into.created.add(p));
};

/** One ward for `minutes` of virtual time through edge, ingest and analysis; the figures per 1,000 readings and per bed-month. */
async function runWard(
  cloud: { url: string; ctx: CloudContext },
  clock: { now: number },
  probe: ReturnType<typeof instrument>,
  run: RealTimeRun,
  name: string,
  minutes: number,
) {
  const dir = mkdtempSync(join(tmpdir(), 'wardgate-bench-realtime-'));
  const db = openDatabase(dir);
  const start = clock.now;
  const tally: Tally = {
    ingest: { writes: 0, reads: 0, created: new Set() },
    analysis: { writes: 0, reads: 0, created: new Set() },
    ingestMs: 0,
    analysisMs: 0,
    ingestCpuMs: 0,
    analysisCpuMs: 0,
    batches: 0,
    messages: 0,
    retries: 0,
    bytes: 0,
  };
  const config = cloudConfigSchema.parse({
    url: cloud.url,
    backoff: { initialMs: 1, maxMs: 1 },
    ...(run.maxAgeMs !== undefined && { batch: { maxAgeMs: run.maxAgeMs } }),
  });
  const sync = new SyncService({
    db,
    config,
    identity: { gateway: `gw-${name}`, ward: name },
    secret: SECRET,
    wardSecret: WARD_SECRET,
    log: createLogger('silent'),
    now: () => clock.now,
    metrics: {
      batch: (outcome, bytes) => {
        if (outcome === 'retry') tally.retries++;
        else tally.batches++;
        tally.bytes += bytes;
      },
      error: () => undefined,
    },
  });
  const ward = new Ward({ seed: 7, duration: minutes * 60, plans: stablePlans(run.beds) });
  const feed = wardFeed(db, run, start);
  const inflight = db.prepare("SELECT count(*) FROM sync_batches WHERE state = 'inflight'").pluck();
  const oldestWaiting = db
    .prepare(
      "SELECT min(received_ts) FROM observations WHERE id > (SELECT synced_through FROM outbox_cursors WHERE stream = 'observations')",
    )
    .pluck();
  const alarmsWaiting = db
    .prepare(
      "SELECT count(*) FROM alarm_events WHERE id > coalesce((SELECT synced_through FROM outbox_cursors WHERE stream = 'alarm_events'), 0)",
    )
    .pluck();
  // ingestBatch's time as its client sees it (the request until the answer's headers), as bench/cloud.ts times it.
  const fetchOriginal = globalThis.fetch;
  globalThis.fetch = async (input, init) => {
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    try {
      return await fetchOriginal(input, init);
    } finally {
      tally.ingestMs += performance.now() - t0;
      tally.ingestCpuMs += cpuMs(process.cpuUsage(cpu0));
    }
  };
  let readings = 0;
  let alarmEvents = 0;
  let alarmsLate = 0;
  let routineWaitMs = 0;
  try {
    await sync.start();
    let t = 0;
    for (const emissions of ward.stream()) {
      clock.now = start + t * 1000;
      const fed = feed(emissions, t);
      readings += fed.readings;
      alarmEvents += fed.alarms;
      probe.reset();
      sync.dataCommitted();
      if (fed.alarms > 0) sync.kick();
      if (t % SYNC_JOB_S === 0) sync.tick();
      // The sync's own timer wakes it when routine data reaches its age bound: to the second here.
      sync.kick();
      await settle(sync, inflight, clock);
      add(tally.ingest, probe.reset());
      // An alarm event is confirmed in the second it was raised, or it waited.
      if ((alarmsWaiting.get() as number) > 0) alarmsLate++;
      const oldest = oldestWaiting.get() as number | null;
      if (oldest !== null) routineWaitMs = Math.max(routineWaitMs, clock.now - oldest);
      await analyse(cloud.ctx, name, clock.now, probe, tally);
      t++;
    }
  } finally {
    await sync.stop();
    globalThis.fetch = fetchOriginal;
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const segs = await segments(cloud.ctx.db, name).get();
  const stored = segs.docs.reduce((s, d) => s + (d.data() as SegmentDoc).count, 0);
  const segmentBytes = segs.docs.reduce((s, d) => s + documentBytes(d.ref.path, d.data()), 0);
  const per1000 = (n: number) => round((n / stored) * 1000, 2);
  const readingsPerBedPerSecond = readings / run.beds / (minutes * 60);
  const cost = monthlyCostPerBed({
    writesPer1000: per1000(tally.ingest.writes + tally.analysis.writes),
    readsPer1000: per1000(tally.ingest.reads + tally.analysis.reads),
    deletesPer1000: per1000(tally.ingest.created.size + tally.analysis.created.size),
    storedBytesPerReading: segmentBytes / stored,
    functionMsPer1000: ((tally.ingestMs + tally.analysisMs) / stored) * 1000,
    functionCpuMsPer1000: ((tally.ingestCpuMs + tally.analysisCpuMs) / stored) * 1000,
    requestsPer1000: per1000(tally.batches + tally.messages),
    readingsPerBedPerSecond,
  });
  return {
    ward: {
      beds: run.beds,
      minutes,
      readingsPerBedPerSecond: round(readingsPerBedPerSecond, 2),
      alarmsPerBedHour: round(run.alarmsPerBedHour, 2),
      alarmEvents,
    },
    batchPolicy: { maxItems: config.batch.maxItems, maxAgeMs: config.batch.maxAgeMs },
    readings: { sent: readings, stored },
    batches: tally.batches,
    readingsPerBatch: round(stored / tally.batches, 0),
    analysisMessages: tally.messages,
    retries: tally.retries,
    firestore: {
      writesPer1000Readings: per1000(tally.ingest.writes + tally.analysis.writes),
      ingestWritesPer1000Readings: per1000(tally.ingest.writes),
      analysisWritesPer1000Readings: per1000(tally.analysis.writes),
      writesPerBatch: round((tally.ingest.writes + tally.analysis.writes) / tally.batches, 2),
      readsPer1000Readings: per1000(tally.ingest.reads + tally.analysis.reads),
      storedBytesPerReading: round(segmentBytes / stored, 1),
    },
    functionMsPer1000Readings: {
      ingestBatch: round((tally.ingestMs / stored) * 1000, 1),
      analyzeReadings: round((tally.analysisMs / stored) * 1000, 1),
    },
    functionCpuMsPer1000Readings: {
      ingestBatch: round((tally.ingestCpuMs / stored) * 1000, 1),
      analyzeReadings: round((tally.analysisCpuMs / stored) * 1000, 1),
    },
    delays: { alarmSecondsWaited: alarmsLate, routineMaxWaitS: round(routineWaitMs / 1000, 0) },
    costPerBedPerMonthUsd: cost,
  };
}

/** Writes one simulated second into the outbox as the daemon's store would: observations, device statuses, alarm events. */
function wardFeed(db: Db, run: RealTimeRun, start: number) {
  const deviceIds = new Map<string, number>();
  db.transaction(() => {
    const device = db.prepare("INSERT INTO devices (device_id, bed, source) VALUES (?, ?, 'mqtt')");
    const patient = db.prepare(
      "INSERT INTO patients (identifier, authority, first_seen, last_seen) VALUES (?, 'HOSP', ?, ?)",
    );
    const admit = db.prepare(
      "INSERT INTO admissions (patient, bed, admitted_at, admitted_by) VALUES (?, ?, ?, 'nurse-bench')",
    );
    for (let b = 1; b <= run.beds; b++) {
      deviceIds.set(`mon-${b}`, Number(device.run(`mon-${b}`, String(b)).lastInsertRowid));
      const p = Number(patient.run(`MRN-${100000 + b}`, start, start).lastInsertRowid);
      admit.run(p, String(b), start - 3_600_000);
    }
  })();
  const obs = db.prepare(
    "INSERT INTO observations (device, seq, ts, received_ts, bed, digest, readings) VALUES (?, ?, ?, ?, ?, x'00', ?)",
  );
  const status = db.prepare(
    'INSERT INTO device_status (device, ts, received_ts, online, battery, sensor) VALUES (?, ?, ?, ?, ?, ?)',
  );
  const alarm = db.prepare(
    `INSERT INTO alarm_events (alarm_id, phase, ts, bed, device_id, kind, rule, metric, priority, state, message, value, by, escalations)
     VALUES (?, ?, ?, ?, ?, 'physiological', 'spo2_low', 'spo2', 'medium', ?, 'SpO2 low', 88, NULL, 0)`,
  );
  const counted = db.prepare("UPDATE counters SET value = value + ? WHERE name IN ('readings', 'readings_unsynced')");
  const seq = new Map<string, number>();
  // Alarms spread evenly: each bed's every `period` seconds, beds offset from each other.
  const period = run.alarmsPerBedHour > 0 ? Math.round(3600 / run.alarmsPerBedHour) : 0;
  return db.transaction((emissions: Emission[], t: number) => {
    const ts = start + t * 1000;
    let readings = 0;
    let alarms = 0;
    for (const e of emissions) {
      const device = deviceIds.get(e.deviceId)!;
      if (e.type === 'obs') {
        const entries = e.obs.filter((o) => o.value !== null).map((o) => [o.code, o.value, 0]);
        const n = (seq.get(e.deviceId) ?? 0) + 1;
        seq.set(e.deviceId, n);
        obs.run(device, n, ts, ts, e.bed, JSON.stringify(entries));
        readings += entries.length;
      } else if (e.type === 'status') {
        const s = e.status;
        status.run(
          device,
          ts,
          ts,
          s.online === undefined ? null : Number(s.online),
          s.battery ?? null,
          s.sensor ?? null,
        );
      }
    }
    for (let b = 1; period > 0 && b <= run.beds; b++) {
      const phase = (t + Math.round((b * period) / run.beds)) % period;
      const id = `al-${b}-${Math.floor((t + Math.round((b * period) / run.beds)) / period)}`;
      if (phase === 0) alarm.run(id, 'raised', ts, String(b), `mon-${b}`, 'active');
      if (phase === ALARM_LENGTH_S) alarm.run(id, 'cleared', ts, String(b), `mon-${b}`, 'cleared');
      if (phase === 0 || phase === ALARM_LENGTH_S) alarms++;
    }
    counted.run(readings);
    return { readings, alarms };
  });
}

/** Waits until every batch planned at this second is confirmed; a retry (the emulator under load) is let through at once. */
async function settle(sync: SyncService, inflight: { get(): unknown }, clock: { now: number }): Promise<void> {
  for (let spins = 0; ; spins++) {
    await immediate();
    await immediate();
    if (inflight.get() === 0) return;
    if (sync.state === 'paused') throw new Error('sync paused during the benchmark (a batch was refused)');
    if (sync.state === 'retrying') {
      // The backoff timer counts virtual time: let it be due.
      clock.now += 1;
      sync.kick();
    }
    if (spins > 200_000) throw new Error('the sync did not settle');
    await sleep(2);
  }
}

/** Runs the analysis on every batch stored at this second, one message per batch with its segment ids, in outbox order. */
async function analyse(
  ctx: CloudContext,
  ward: string,
  at: number,
  probe: ReturnType<typeof instrument>,
  tally: Tally,
): Promise<void> {
  const snap = await segments(ctx.db, ward)
    .where('ingested', '>=', at - 1000)
    .get();
  const byBatch = new Map<string, { first: number; ids: string[] }>();
  for (const d of snap.docs) {
    const seg = d.data() as SegmentDoc & { ingested: number };
    if (seg.ingested < at - 999 || seg.ingested > at + 999) continue;
    const entry = byBatch.get(seg.batchId) ?? { first: seg.nLo, ids: [] };
    entry.first = Math.min(entry.first, seg.nLo);
    entry.ids.push(d.id);
    byBatch.set(seg.batchId, entry);
  }
  for (const [batchId, { ids }] of [...byBatch].sort((a, b) => a[1].first - b[1].first)) {
    probe.reset();
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    await applyMessage(ctx, {
      v: 1,
      ward,
      gateway: `gw-${ward}`,
      batchId,
      segments: ids.sort((a, b) => a.localeCompare(b)),
    });
    tally.analysisMs += performance.now() - t0;
    tally.analysisCpuMs += cpuMs(process.cpuUsage(cpu0));
    add(tally.analysis, probe.reset());
    tally.messages++;
  }
}

/** The runs: each ward size under the former 5-second age bound (the baseline) and the defaults, quiet and at an ICU's alarm rate. */
export const realTimeRuns: ReadonlyArray<RealTimeRun & { label: string }> = [
  { label: '8 beds, maxAgeMs 5000 (former default)', beds: 8, maxAgeMs: 5000, alarmsPerBedHour: 0 },
  { label: '8 beds, defaults', beds: 8, alarmsPerBedHour: 0 },
  { label: '8 beds, defaults, ICU alarm rate', beds: 8, alarmsPerBedHour: ICU_ALARMS_PER_BED_HOUR },
  { label: '30 beds, maxAgeMs 5000 (former default)', beds: 30, maxAgeMs: 5000, alarmsPerBedHour: 0 },
  { label: '30 beds, defaults', beds: 30, alarmsPerBedHour: 0 },
  { label: '30 beds, defaults, ICU alarm rate', beds: 30, alarmsPerBedHour: ICU_ALARMS_PER_BED_HOUR },
];

export async function runCloudRealTimeBench(
  log: (line: string) => void = () => undefined,
): Promise<Record<string, unknown>> {
  // Minutes of ward time per run (WARDGATE_BENCH_REALTIME_MINUTES, default 20).
  const minutes = Number(process.env.WARDGATE_BENCH_REALTIME_MINUTES ?? 20);
  // WARDGATE_BENCH_REALTIME_ONLY=1,4 picks runs by index; WARDGATE_BENCH_REALTIME_AGE_MS tries another age bound in place of the default.
  const only = process.env.WARDGATE_BENCH_REALTIME_ONLY;
  const age = process.env.WARDGATE_BENCH_REALTIME_AGE_MS;
  const runs = realTimeRuns
    .filter((r, i) => only === undefined || only.split(',').includes(String(i)))
    .map((r) =>
      age !== undefined && r.maxAgeMs === undefined
        ? { ...r, maxAgeMs: Number(age), label: r.label.replace('defaults', `maxAgeMs ${age}`) }
        : r,
    );
  let emulators;
  try {
    emulators = await startEmulatorPair('wardgate-bench-rt');
  } catch (err) {
    return { skipped: `emulators unavailable: ${(err as Error).message.split('\n')[0]}` };
  }
  const saved = { f: process.env.FIRESTORE_EMULATOR_HOST, p: process.env.PUBSUB_EMULATOR_HOST };
  process.env.FIRESTORE_EMULATOR_HOST = emulators.firestoreHost;
  process.env.PUBSUB_EMULATOR_HOST = emulators.pubsubHost;
  const probe = instrument();
  const names = runs.map((_, i) => `RT${i + 1}`);
  try {
    const settings: CloudSettings = {
      ...defaults,
      projectId: 'wardgate-bench-rt',
      apiTokens: [],
      logLevel: 'silent',
      gateways: new Map(names.map((n) => [`gw-${n}`, { ward: n, secret: SECRET }])),
    };
    const cloud = await startLocalCloud({
      settings,
      port: 0,
      env: process.env,
      log: createCloudLogger('silent'),
      push: false,
    });
    // One clock for edge and cloud, so that signatures, item times and retention agree while time runs faster than real.
    const clock = { now: Math.floor(Date.now() / 3_600_000) * 3_600_000 - 6 * 3_600_000 };
    (cloud.ctx as { now: () => number }).now = () => clock.now;
    try {
      const results: Record<string, unknown> = {};
      for (const [i, run] of runs.entries()) {
        const started = performance.now();
        const result = await runWard(cloud, clock, probe, run, names[i], minutes);
        log(
          `cloud real time: ${run.label}: ${result.firestore.writesPer1000Readings} writes/1,000 readings, $${result.costPerBedPerMonthUsd.total}/bed-month (${((performance.now() - started) / 1000).toFixed(0)} s)`,
        );
        results[run.label] = result;
        clock.now += 3_600_000;
      }
      return {
        method:
          'simulated stable ward through the real SyncService, ingestBatch and analysis on the emulators, one virtual clock',
        results,
        listPrices,
      };
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

const round = (v: number, digits: number) => Math.round(v * 10 ** digits) / 10 ** digits;

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  process.stdout.write(
    `${JSON.stringify(await runCloudRealTimeBench((line) => process.stderr.write(`${line}\n`)), null, 2)}\n`,
  );
}
