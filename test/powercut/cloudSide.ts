// The cloud of the power-cut runs: the Firestore and Pub/Sub emulators and
// `wardgate cloud` (the real functions, through the Functions Framework) as a
// child process. Only the gateway's data directory is under the cut; the cloud
// keeps what it stored. This file also reads what the cloud holds for a
// gateway (its exact record of outbox numbers, and the readings and alarm
// events themselves) and what a gateway's outbox claims, and compares the two.
import Database from 'better-sqlite3';
import { Firestore } from '@google-cloud/firestore';
import { decodeRuns, contains, shardOfNumber, type Intervals } from '../../cloud/ingest/intervals.js';
import type { SegmentDoc } from '../../cloud/ingest/segments.js';
import { alarmEvents, gatewayDoc, segments } from '../../cloud/store/paths.js';
import { READING_N_STRIDE } from '../../edge/sync/batchBuilder.js';
import type { SyncStream } from '../../shared/sync/wire.js';
import { startEmulators } from '../helpers/emulators.js';
import { freePort, waitFor } from '../helpers/env.js';
import { spawnWardgate } from '../helpers/gateway.js';

interface T {
  teardown(fn: () => unknown): void;
}

export interface CloudGateway {
  readonly id: string;
  readonly ward: string;
}

export interface PowerCutCloud {
  readonly url: string;
  readonly db: Firestore;
  /** What a gateway's daemon needs in its environment to sign batches and key pseudonyms. */
  readonly edgeEnv: NodeJS.ProcessEnv;
}

const CLOUD_SECRET = 'powercut-cloud-secret-0123456789abcdef';
const WARD_SECRET = 'powercut-ward-pseudonym-secret-01234567';

/** Starts the emulators and the functions, accepting these gateways; everything is stopped at teardown. */
export async function startPowerCutCloud(t: T, gateways: readonly CloudGateway[]): Promise<PowerCutCloud> {
  const projectId = 'wardgate-powercut';
  const emulators = await startEmulators(t, projectId);
  const port = await freePort();
  const env = {
    FIRESTORE_EMULATOR_HOST: emulators.firestoreHost,
    PUBSUB_EMULATOR_HOST: emulators.pubsubHost,
    METADATA_SERVER_DETECTION: 'none',
    WARDGATE_CLOUD_SECRET: CLOUD_SECRET,
    WARDGATE_LOG_LEVEL: 'warn',
  };
  const args = [
    'cloud',
    '--port',
    String(port),
    '--project',
    projectId,
    ...gateways.flatMap((g) => ['--gateway', `${g.id}:${g.ward}`]),
  ];
  const cloud = spawnWardgate(t, args, env);
  await waitFor(
    () => {
      if (cloud.child.exitCode !== null)
        throw new Error(`wardgate cloud exited ${cloud.child.exitCode}: ${cloud.output()}`);
      return cloud.output().includes('functions at') ? true : undefined;
    },
    60_000,
    'wardgate cloud to listen',
  );
  // The client reads the emulator's address from the environment, and must never look for a metadata server.
  process.env.FIRESTORE_EMULATOR_HOST = emulators.firestoreHost;
  process.env.METADATA_SERVER_DETECTION ??= 'none';
  const db = new Firestore({ projectId, ignoreUndefinedProperties: true });
  t.teardown(() => db.terminate());
  return {
    url: `http://127.0.0.1:${port}`,
    db,
    edgeEnv: { WARDGATE_CLOUD_SECRET: CLOUD_SECRET, WARDGATE_WARD_SECRET: WARD_SECRET },
  };
}

/** One reading as both sides name it: who measured it, the device's message seq, the metric, the time. */
export interface ReadingItem {
  readonly device: string;
  readonly seq: number;
  readonly code: string;
  readonly ts: number;
}

/** A reading on the edge, with the time of the device message it came in. */
export interface EdgeReading extends ReadingItem {
  readonly messageTs: number;
}

export interface AlarmItem {
  readonly alarmId: string;
  readonly phase: string;
}

/** What the cloud holds for one gateway. */
export interface CloudHoldings {
  /** The record of outbox numbers stored, per `${stream}_${shard}` (cloud/ingest/storeRecord.ts). */
  readonly record: ReadonlyMap<string, Intervals>;
  /** Readings stored, by outbox number; more than one entry under a number would be a second copy. */
  readonly readings: ReadonlyMap<number, readonly ReadingItem[]>;
  readonly alarms: ReadonlyMap<number, AlarmItem>;
}

export async function readCloud(db: Firestore, gateway: CloudGateway): Promise<CloudHoldings> {
  const record = new Map<string, Intervals>();
  for (const doc of (await gatewayDoc(db, gateway.id).collection('stored').get()).docs) {
    const { stream, shard, base, runs } = doc.data() as {
      stream: string;
      shard: number;
      base: number;
      runs: Uint8Array;
    };
    record.set(`${stream}_${shard}`, decodeRuns(runs, base));
  }
  const readings = new Map<number, ReadingItem[]>();
  for (const doc of (await segments(db, gateway.ward).where('gateway', '==', gateway.id).get()).docs) {
    for (const c of Object.values((doc.data() as SegmentDoc).s)) {
      c.n.forEach((n, i) => {
        const list = readings.get(n) ?? [];
        list.push({ device: c.dev[i], seq: c.seq[i], code: c.code[i], ts: c.ts[i] });
        readings.set(n, list);
      });
    }
  }
  const alarms = new Map<number, AlarmItem>();
  for (const doc of (await alarmEvents(db, gateway.ward).where('gateway', '==', gateway.id).get()).docs) {
    const { n, alarmId, phase } = doc.data() as { n: number; alarmId: string; phase: string };
    alarms.set(n, { alarmId, phase });
  }
  return { record, readings, alarms };
}

export const recorded = (cloud: CloudHoldings, stream: SyncStream, n: number): boolean => {
  const set = cloud.record.get(`${stream}_${shardOfNumber(n)}`);
  return set !== undefined && contains(set, n);
};

/** What a gateway's database holds of its outbox: each stream's cursor and its items, by outbox number. */
export interface EdgeOutbox {
  readonly cursors: Readonly<Record<SyncStream, number>>;
  readonly readings: ReadonlyMap<number, EdgeReading>;
  readonly alarms: ReadonlyMap<number, AlarmItem>;
  readonly statuses: readonly number[];
  readonly audit: readonly number[];
  /** The highest id of each stream's table (a reading's stream counts observation ids). */
  readonly newest: Readonly<Record<SyncStream, number>>;
}

const CURSOR_NAMES: Record<string, SyncStream> = {
  observations: 'readings',
  alarm_events: 'alarms',
  device_status: 'statuses',
  audit: 'audit',
};

function cursorsOf(db: Database.Database): Record<SyncStream, number> {
  const cursors: Record<SyncStream, number> = { readings: 0, alarms: 0, statuses: 0, audit: 0 };
  for (const row of db.prepare('SELECT stream, synced_through FROM outbox_cursors').all() as Array<{
    stream: string;
    synced_through: number;
  }>) {
    const stream = CURSOR_NAMES[row.stream];
    if (stream) cursors[stream] = row.synced_through;
  }
  return cursors;
}

function newestOf(db: Database.Database): Record<SyncStream, number> {
  const max = (table: string) => db.prepare(`SELECT coalesce(max(id), 0) FROM ${table}`).pluck().get() as number;
  return {
    readings: max('observations'),
    alarms: max('alarm_events'),
    statuses: max('device_status'),
    audit: max('audit'),
  };
}

export function readEdgeOutbox(db: Database.Database): EdgeOutbox {
  const readings = new Map<number, EdgeReading>();
  const rows = db
    .prepare(
      'SELECT o.id, d.device_id AS device, o.seq, o.ts, o.readings FROM observations o JOIN devices d ON d.id = o.device',
    )
    .all() as Array<{ id: number; device: string; seq: number; ts: number; readings: string }>;
  for (const row of rows) {
    (JSON.parse(row.readings) as Array<[string, number, number, number?]>).forEach(([code, , , ts], i) => {
      readings.set(row.id * READING_N_STRIDE + i, {
        device: row.device,
        seq: row.seq,
        code,
        ts: ts ?? row.ts,
        messageTs: row.ts,
      });
    });
  }
  const alarms = new Map<number, AlarmItem>();
  for (const row of db.prepare('SELECT id, alarm_id, phase FROM alarm_events').all() as Array<{
    id: number;
    alarm_id: string;
    phase: string;
  }>) {
    alarms.set(row.id, { alarmId: row.alarm_id, phase: row.phase });
  }
  const ids = (table: string) => db.prepare(`SELECT id FROM ${table}`).pluck().all() as number[];
  return {
    cursors: cursorsOf(db),
    readings,
    alarms,
    statuses: ids('device_status'),
    audit: ids('audit'),
    newest: newestOf(db),
  };
}

const sameReading = (a: ReadingItem, b: ReadingItem) =>
  a.device === b.device && a.seq === b.seq && a.code === b.code && a.ts === b.ts;

/**
 * Items at or below a cursor, which the edge holds as confirmed by the cloud,
 * that the cloud's record does not name, or whose reading or alarm event the
 * cloud does not hold as the edge does. Named `stream:n`.
 */
export function pastTheCloud(edge: EdgeOutbox, cloud: CloudHoldings): string[] {
  const out: string[] = [];
  for (const [n, item] of edge.readings) {
    if (Math.floor(n / READING_N_STRIDE) > edge.cursors.readings) continue;
    const held = cloud.readings.get(n);
    if (!recorded(cloud, 'readings', n) || !held?.some((c) => sameReading(c, item))) out.push(`readings:${n}`);
  }
  for (const [n, item] of edge.alarms) {
    if (n > edge.cursors.alarms) continue;
    const held = cloud.alarms.get(n);
    if (!recorded(cloud, 'alarms', n) || held?.phase !== item.phase) out.push(`alarms:${n}`);
  }
  for (const [stream, ids] of [
    ['statuses', edge.statuses],
    ['audit', edge.audit],
  ] as const) {
    for (const n of ids) if (n <= edge.cursors[stream] && !recorded(cloud, stream, n)) out.push(`${stream}:${n}`);
  }
  return out;
}

/**
 * Readings and alarm events the cloud holds under an outbox number that the
 * edge, after a cut, no longer has, or has for something else: the edge sent
 * what it had not made durable, and could give the number to another item.
 */
export function unknownToEdge(edge: EdgeOutbox, cloud: CloudHoldings): string[] {
  const out: string[] = [];
  for (const [n, held] of cloud.readings) {
    const item = edge.readings.get(n);
    if (!item || !held.every((c) => sameReading(c, item))) out.push(`readings:${n}`);
  }
  for (const [n, held] of cloud.alarms) {
    if (edge.alarms.get(n)?.phase !== held.phase) out.push(`alarms:${n}`);
  }
  return out;
}

/** Whether the edge has nothing left to send: every cursor at its stream's newest item, no batch planned. */
export function drained(db: Database.Database): boolean {
  const cursors = cursorsOf(db);
  const newest = newestOf(db);
  const batches = db.prepare('SELECT count(*) FROM sync_batches').pluck().get() as number;
  return batches === 0 && (Object.keys(newest) as SyncStream[]).every((s) => cursors[s] >= newest[s]);
}

/**
 * Counts readings in the cloud by their content key (`key(item)`, a device
 * message and metric): how many of the wanted keys are missing, how many keys
 * are held more than once, and how many readings the cloud holds in all.
 */
export function countOnce(
  cloud: CloudHoldings,
  key: (r: ReadingItem) => string,
  wanted: Iterable<string>,
): { missing: string[]; twice: string[]; held: number } {
  const counts = new Map<string, number>();
  let held = 0;
  for (const list of cloud.readings.values()) {
    for (const r of list) {
      held++;
      counts.set(key(r), (counts.get(key(r)) ?? 0) + 1);
    }
  }
  const missing = [...wanted].filter((k) => !counts.has(k));
  const twice = [...counts].filter(([, n]) => n > 1).map(([k]) => k);
  return { missing, twice, held };
}
