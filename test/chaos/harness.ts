// Chaos through the real parts: the Firestore and Pub/Sub emulators,
// `wardgate cloud` and `wardgate edge` as child processes (the built dist/),
// and MQTT devices publishing QoS 1 observations and recording which were
// acknowledged. Faults, in order: the cloud down (the edge killed -9 during
// the outage and restarted), the cloud killed -9 during the drain (and
// restarted), the cloud stalled (SIGSTOP, then SIGCONT). At the end every
// acknowledged reading must be in Firestore exactly once, counted by (device,
// seq, code). A control then deletes a stored segment and checks that the
// count sees the loss, and that `wardgate sync --verify` finds and fills it.
// Used by chaos.test.ts (short) and run.ts (`npm run chaos`, long).
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Firestore } from '@google-cloud/firestore';
import mqtt, { type MqttClient } from 'mqtt';
import { startEmulatorPair, type Emulators } from '../../cloud/local/emulators.js';
import type { SegmentDoc } from '../../cloud/ingest/segments.js';
import { segments } from '../../cloud/store/paths.js';
import { RUN_FILE, type RunInfo } from '../../edge/gateway.js';
import { openDatabaseReadOnly } from '../../edge/store/database.js';
import { freePort, waitFor } from '../helpers/env.js';
import { passwordOf, WARDGATE_BIN, writeTestConfig } from '../helpers/gateway.js';

export interface ChaosProfile {
  readonly name: string;
  readonly devices: number;
  /** Observation messages per device per second (3 readings each). */
  readonly messagesPerSecond: number;
  /** Seconds of each phase. */
  readonly warmS: number;
  readonly outageS: number;
  /** Edge kills during the outage (evenly spaced). */
  readonly edgeKills: number;
  /** Cloud kills during the drain, this many seconds apart. */
  readonly cloudKills: number;
  readonly cloudKillEveryS: number;
  readonly stallS: number;
  readonly tailS: number;
  readonly requestTimeoutMs: number;
}

export const SHORT: ChaosProfile = {
  name: 'short',
  devices: 8,
  messagesPerSecond: 2,
  warmS: 6,
  outageS: 16,
  edgeKills: 1,
  cloudKills: 1,
  cloudKillEveryS: 3,
  stallS: 10,
  tailS: 4,
  requestTimeoutMs: 5000,
};
export const LONG: ChaosProfile = {
  name: 'long',
  devices: 8,
  messagesPerSecond: 4,
  warmS: 30,
  outageS: 300,
  edgeKills: 2,
  cloudKills: 3,
  cloudKillEveryS: 4,
  stallS: 60,
  tailS: 30,
  requestTimeoutMs: 10000,
};

export interface ChaosFigures {
  readonly profile: string;
  readonly messagesAcked: number;
  readonly readingsAcked: number;
  readonly readingsInFirestore: number;
  readonly lost: number;
  readonly duplicated: number;
  /** Readings in Firestore that no acknowledgement covers (published, committed, PUBACK lost to a kill): allowed. */
  readonly unacknowledgedStored: number;
  readonly faults: readonly string[];
  readonly seconds: { readonly run: number; readonly drainAfterFaults: number; readonly total: number };
  readonly verify: { readonly items: number; readonly missing: number; readonly resent: number };
  readonly control: {
    readonly deleted: number;
    readonly lostSeen: number;
    readonly verifyMissing: number;
    readonly lostAfterRepair: number;
    readonly duplicatedAfterRepair: number;
  };
}

const GATEWAY = 'gw-chaos';
const WARD = 'CH';
const CLOUD_SECRET = 'gw-chaos-cloud-secret-0123456789abcdef';
const WARD_SECRET = 'ward-chaos-pseudonym-secret-0123456789';
const CODES = [
  ['hr', '/min', 72],
  ['spo2', '%', 97],
  ['rr', '/min', 16],
] as const;

interface Teardown {
  teardown(fn: () => unknown): void;
}

/** Runs one chaos profile; `log` gets a line per step. Everything started is stopped before it returns or throws. */
export async function runChaos(
  profile: ChaosProfile,
  log: (line: string) => void = () => undefined,
): Promise<ChaosFigures> {
  const cleanups: Array<() => unknown> = [];
  const t: Teardown = { teardown: (fn) => cleanups.push(fn) };
  try {
    return await chaos(profile, t, log);
  } finally {
    for (const fn of cleanups.reverse()) await Promise.resolve(fn()).catch(() => undefined);
  }
}

async function chaos(p: ChaosProfile, t: Teardown, log: (line: string) => void): Promise<ChaosFigures> {
  const started = Date.now();
  const projectId = `wardgate-chaos-${p.name}`;
  const emulators: Emulators = await startEmulatorPair(projectId);
  t.teardown(() => emulators.stop());
  log(`emulators up in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    FIRESTORE_EMULATOR_HOST: emulators.firestoreHost,
    PUBSUB_EMULATOR_HOST: emulators.pubsubHost,
    METADATA_SERVER_DETECTION: 'none',
    WARDGATE_CLOUD_SECRET: CLOUD_SECRET,
    WARDGATE_WARD_SECRET: WARD_SECRET,
    WARDGATE_LOG_LEVEL: process.env.CHAOS_LOG_LEVEL ?? 'warn',
  };
  const logDir = process.env.CHAOS_LOG_DIR;
  const logTo = (name: string, child: ChildProcess) => {
    if (!logDir) return;
    const out = createWriteStream(join(logDir, name), { flags: 'a' });
    child.stdout?.pipe(out);
    child.stderr?.pipe(out);
  };
  const cloudPort = await freePort();
  const devices = Array.from({ length: p.devices }, (_, i) => ({ id: `mon-${i + 1}`, bed: String(i + 1) }));
  const { file, dir, mqttPort } = await writeTestConfig(t, {
    devices,
    users: [{ name: 'station', role: 'viewer' }],
    extra: {
      ward: WARD,
      gateway: { id: GATEWAY },
      cloud: {
        url: `http://127.0.0.1:${cloudPort}`,
        concurrency: 4,
        requestTimeoutMs: p.requestTimeoutMs,
        batch: { maxItems: 600, maxAgeMs: 1000 },
        backoff: { initialMs: 200, maxMs: 3000 },
      },
      jobs: { sync: '* * * * * *', verify: '*/20 * * * * *' },
    },
  });
  const dataDir = join(dir, 'data');
  const procs = new Set<ChildProcess>();
  t.teardown(() => {
    for (const c of procs) {
      c.kill('SIGCONT');
      c.kill('SIGKILL');
    }
  });
  // A process that exits without the harness killing it ends the run at once, with its last output:
  // a dead edge would otherwise look like a drain that never ends.
  const killed = new WeakSet<ChildProcess>();
  let crashed: string | undefined;
  const watch = (name: string, child: ChildProcess, out: () => string) =>
    child.once('exit', (code, signal) => {
      if (!killed.has(child))
        crashed ??= `wardgate ${name} exited by itself (${signal ?? code}): ${out().slice(-3000)}`;
    });
  const faults: string[] = [];
  const fault = (what: string) => {
    faults.push(what);
    log(`fault ${faults.length}: ${what} (t+${((Date.now() - started) / 1000).toFixed(0)} s)`);
  };

  const startCloud = async () => {
    const child = spawn(
      process.execPath,
      [WARDGATE_BIN, 'cloud', '--port', String(cloudPort), '--project', projectId, '--gateway', `${GATEWAY}:${WARD}`],
      { env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    procs.add(child);
    logTo('cloud.log', child);
    child.once('exit', () => procs.delete(child));
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-20_000)));
    child.stderr.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-20_000)));
    watch('cloud', child, () => out);
    await waitFor(
      () => {
        if (child.exitCode !== null) throw new Error(`wardgate cloud exited ${child.exitCode}: ${out}`);
        return out.includes('functions at') ? true : undefined;
      },
      60_000,
      'wardgate cloud to listen',
    );
    return child;
  };
  const startEdge = async () => {
    const child = spawn(process.execPath, [WARDGATE_BIN, 'edge', '--config', file], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    procs.add(child);
    logTo('edge.log', child);
    child.once('exit', () => procs.delete(child));
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-20_000)));
    child.stderr.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-20_000)));
    watch('edge', child, () => out);
    await waitFor(
      () => {
        if (child.exitCode !== null) throw new Error(`wardgate edge exited ${child.exitCode}: ${out}`);
        try {
          return (JSON.parse(readFileSync(join(dataDir, RUN_FILE), 'utf8')) as RunInfo).pid === child.pid
            ? true
            : undefined;
        } catch {
          return undefined;
        }
      },
      60_000,
      'wardgate edge to start',
    );
    return child;
  };
  const kill = async (child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL') => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    killed.add(child);
    child.kill(signal);
    await exited;
  };
  const sleep = (s: number) => new Promise((r) => setTimeout(r, s * 1000));

  let cloud = await startCloud();
  let edge = await startEdge();
  const publisher = startPublishers(
    `mqtt://127.0.0.1:${mqttPort}`,
    devices.map((d) => d.id),
    p.messagesPerSecond,
  );
  t.teardown(() => publisher.stop());
  log(`cloud and edge up; ${p.devices} devices publishing ${p.messagesPerSecond} messages/s each`);

  await sleep(p.warmS);
  // 1. The cloud down, and the edge killed -9 during the outage.
  await kill(cloud, 'SIGKILL');
  fault('cloud down');
  for (let k = 0; k < p.edgeKills; k++) {
    await sleep(p.outageS / (p.edgeKills + 1));
    await kill(edge);
    fault('edge kill -9 during the outage');
    await sleep(1);
    edge = await startEdge();
  }
  await sleep(p.outageS / (p.edgeKills + 1));
  // 2. The cloud back; killed -9 during the drain.
  cloud = await startCloud();
  log('cloud back: draining');
  // Every 15 s until drained: the edge's backlog and what it has in flight, from its database.
  const progress = setInterval(() => log(`backlog: ${backlog(dataDir)}`), 15_000);
  t.teardown(() => clearInterval(progress));
  for (let k = 0; k < p.cloudKills; k++) {
    await sleep(p.cloudKillEveryS);
    await kill(cloud);
    fault('cloud kill -9 during the drain');
    await sleep(1);
    cloud = await startCloud();
  }
  // 3. The cloud stalled: requests accepted by the kernel, never answered, until SIGCONT.
  await sleep(2);
  cloud.kill('SIGSTOP');
  fault(`cloud stalled ${p.stallS} s (SIGSTOP)`);
  await sleep(p.stallS);
  cloud.kill('SIGCONT');
  log('cloud resumed (SIGCONT)');
  await sleep(p.tailS);
  await publisher.stop();
  const runS = (Date.now() - started) / 1000;
  log(`publishing stopped: ${publisher.acked.size} messages acknowledged`);

  const drainStart = Date.now();
  const alive = () => {
    if (crashed) throw new Error(crashed);
  };
  await drained(dataDir, 10 * 60_000, alive);
  clearInterval(progress);
  const drainS = (Date.now() - drainStart) / 1000;
  log(`edge drained in ${drainS.toFixed(0)} s`);

  process.env.FIRESTORE_EMULATOR_HOST = emulators.firestoreHost;
  process.env.METADATA_SERVER_DETECTION ??= 'none';
  const db = new Firestore({ projectId, ignoreUndefinedProperties: true });
  t.teardown(() => db.terminate());
  const acked = ackedReadings(publisher.acked);
  const first = await countOnce(db, acked);
  log(`Firestore: ${first.stored} readings; lost ${first.lost}, duplicated ${first.duplicated}`);

  const verify = JSON.parse(
    await wardgate(env, ['sync', '--config', file, '--verify', '--since', '0', '--json'], [0, 1]),
  ) as { items: number; missing: number; resent: number };
  log(`sync --verify: ${verify.items} items, ${verify.missing} missing, ${verify.resent} re-sent`);

  // Control: a segment deleted behind the cloud's back must show as loss, and be found and filled by the verification.
  const victim = (await segments(db, WARD).orderBy('nLo').limit(1).get()).docs[0];
  if (!victim) throw new Error(`no segment in Firestore (${publisher.acked.size} messages acknowledged)`);
  const deleted = (victim.data() as SegmentDoc).count;
  await victim.ref.delete();
  const seen = await countOnce(db, acked);
  const control = JSON.parse(
    await wardgate(env, ['sync', '--config', file, '--verify', '--since', '0', '--json'], [1]),
  ) as { missing: number };
  await drained(dataDir, 120_000, alive);
  const repaired = await countOnce(db, acked);
  log(
    `control: deleted a segment of ${deleted} readings; the count saw ${seen.lost} lost; verify found ${control.missing} missing; after the re-send lost ${repaired.lost}, duplicated ${repaired.duplicated}`,
  );

  await kill(edge, 'SIGTERM');
  await kill(cloud, 'SIGTERM');
  return {
    profile: p.name,
    messagesAcked: publisher.acked.size,
    readingsAcked: acked.size,
    readingsInFirestore: first.stored,
    lost: first.lost,
    duplicated: first.duplicated,
    unacknowledgedStored: first.unacknowledged,
    faults,
    seconds: {
      run: Math.round(runS),
      drainAfterFaults: Math.round(drainS),
      total: Math.round((Date.now() - started) / 1000),
    },
    verify: { items: verify.items, missing: verify.missing, resent: verify.resent },
    control: {
      deleted,
      lostSeen: seen.lost,
      verifyMissing: control.missing,
      lostAfterRepair: repaired.lost,
      duplicatedAfterRepair: repaired.duplicated,
    },
  };
}

interface Publishers {
  /** `device/seq` of every message whose PUBACK arrived. */
  readonly acked: Set<string>;
  stop(): Promise<void>;
}

/** One MQTT client per device, publishing at a steady rate with a bounded window; reconnects through kills. */
function startPublishers(url: string, ids: readonly string[], perSecond: number): Publishers {
  const acked = new Set<string>();
  const clients: MqttClient[] = [];
  const timers: NodeJS.Timeout[] = [];
  for (const id of ids) {
    const client = mqtt.connect(url, {
      username: id,
      password: passwordOf(id),
      clientId: id,
      reconnectPeriod: 300,
      connectTimeout: 5000,
    });
    client.on('error', () => undefined);
    clients.push(client);
    let seq = 0;
    let inFlight = 0;
    timers.push(
      setInterval(() => {
        // A device holds at most this many unacknowledged messages, as a real one's buffer would.
        if (inFlight >= 200) return;
        seq++;
        const s = seq;
        inFlight++;
        const obs = CODES.map(([code, unit, base]) => ({ code, unit, value: base + (s % 5) }));
        client.publish(
          `wardgate/devices/${id}/obs`,
          JSON.stringify({ seq: s, ts: Date.now(), obs }),
          { qos: 1 },
          (err) => {
            inFlight--;
            if (!err) acked.add(`${id}/${s}`);
          },
        );
      }, 1000 / perSecond),
    );
  }
  return {
    acked,
    async stop() {
      for (const timer of timers) clearInterval(timer);
      // Give what is in flight a moment to be acknowledged, then close.
      await new Promise((r) => setTimeout(r, 2000));
      await Promise.all(clients.map((c) => c.endAsync(true).catch(() => undefined)));
    },
  };
}

const ackedReadings = (messages: Set<string>) =>
  new Set([...messages].flatMap((m) => CODES.map(([code]) => `${m}/${code}`)));

/** Counts Firestore's readings of the ward by (device, seq, code) against the acknowledged ones. */
async function countOnce(
  db: Firestore,
  acked: Set<string>,
): Promise<{ stored: number; lost: number; duplicated: number; unacknowledged: number }> {
  const counts = new Map<string, number>();
  for (const doc of (await segments(db, WARD).get()).docs) {
    for (const c of Object.values((doc.data() as SegmentDoc).s)) {
      c.n.forEach((_, i) => {
        const key = `${c.dev[i]}/${c.seq[i]}/${c.code[i]}`;
        counts.set(key, (counts.get(key) ?? 0) + 1);
      });
    }
  }
  let stored = 0;
  let duplicated = 0;
  let unacknowledged = 0;
  for (const [key, n] of counts) {
    stored += n;
    duplicated += n - 1;
    if (!acked.has(key)) unacknowledged++;
  }
  let lost = 0;
  for (const key of acked) if (!counts.has(key)) lost++;
  return { stored, lost, duplicated, unacknowledged };
}

/** Waits until the edge has nothing unsynced and no batch planned (read from its database, as `wardgate status` does). */
async function drained(dataDir: string, ms: number, alive: () => void): Promise<void> {
  await waitFor(
    () => {
      alive();
      const db = openDatabaseReadOnly(dataDir);
      try {
        const unsynced = db
          .prepare("SELECT value FROM counters WHERE name = 'readings_unsynced'")
          .pluck()
          .get() as number;
        const batches = db.prepare('SELECT count(*) FROM sync_batches').pluck().get() as number;
        return unsynced === 0 && batches === 0 ? true : undefined;
      } finally {
        db.close();
      }
    },
    ms,
    'the edge to drain',
  );
}

/** The edge's backlog, in a line: unsynced readings, the readings cursor, planned batches by state with their attempts. */
function backlog(dataDir: string): string {
  let db;
  try {
    db = openDatabaseReadOnly(dataDir);
    const unsynced = db.prepare("SELECT value FROM counters WHERE name = 'readings_unsynced'").pluck().get() as number;
    const cursor = db
      .prepare("SELECT synced_through FROM outbox_cursors WHERE stream = 'observations'")
      .pluck()
      .get() as number;
    const newest = (db.prepare('SELECT max(id) FROM observations').pluck().get() as number | null) ?? 0;
    const batches = db
      .prepare('SELECT state, count(*) AS n, sum(attempts) AS attempts FROM sync_batches GROUP BY state ORDER BY state')
      .all() as Array<{ state: string; n: number; attempts: number }>;
    const planned = batches.map((b) => `${b.n} ${b.state} (${b.attempts} attempts)`).join(', ') || 'none';
    return `${unsynced} readings unsynced; messages confirmed through ${cursor} of ${newest}; batches: ${planned}`;
  } catch (err) {
    return `unreadable (${(err as Error).message})`;
  } finally {
    db?.close();
  }
}

/** Runs `wardgate ARGS` to completion; its stdout, or an error unless the exit code is one of `ok`. */
function wardgate(env: NodeJS.ProcessEnv, args: string[], ok: number[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WARDGATE_BIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-20_000)));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (code !== null && ok.includes(code)) resolve(out);
      else reject(new Error(`wardgate ${args.join(' ')} exited ${code}: ${out}${err}`));
    });
  });
}
