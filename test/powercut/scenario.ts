// Power cuts at random moments under mixed load, on a real daemon writing
// through the power-cut harness: MQTT devices at QoS 1 (one reading in five
// critical, so alarms are raised and cleared all along), an HL7 monitor waiting
// for each AA, a Masimo oximeter on a serial cable, admissions through the
// API, and sync batches in flight to a local cloud (the emulators and the real
// functions, not under the cut). After each cut the data directory is checked,
// and held against what the cloud stored; the daemon restarts on what
// survived. At the end it drains to the cloud, which must hold every
// acknowledged reading exactly once.
import { join } from 'node:path';
import Database from 'better-sqlite3';
import mqtt, { type MqttClient } from 'mqtt';
import { pcd01Message, tenVitals } from '../../simulators/pcd01.js';
import { UNSAFE_DURABILITY_ENV, type UnsafeDurability } from '../../edge/store/unsafeDurability.js';
import { freePort, tempDir, waitFor } from '../helpers/env.js';
import { passwordOf, spawnDaemon, writeTestConfig, type Daemon } from '../helpers/gateway.js';
import { MllpClient } from '../helpers/mllp.js';
import { PtyCable } from '../helpers/pty.js';
import {
  countOnce,
  drained,
  pastTheCloud,
  readCloud,
  readEdgeOutbox,
  unknownToEdge,
  type CloudGateway,
  type EdgeOutbox,
  type EdgeReading,
  type PowerCutCloud,
  type ReadingItem,
} from './cloudSide.js';
import { PowerCutDir } from './harness.js';
import { SerialOximeter, StoredCounter } from './serialOximeter.js';

interface T {
  teardown(fn: () => unknown): void;
}

export interface PowerCutOptions {
  cuts: number;
  /**
   * A control run with durability switched off (edge/store/unsafeDurability.ts).
   * It starts from an installed database (created by a first clean run, then
   * on disk): with syncs off not even its creation would be durable.
   */
  unsafe?: UnsafeDurability;
  /** A cut falls this long after the load starts: uniformly between the two. */
  cutAfterMs?: readonly [number, number];
  /** The cloud the gateway syncs to, and the gateway's identity there (one per run: runs must not share a record). */
  cloud: { readonly cloud: PowerCutCloud; readonly gateway: CloudGateway };
  /** How long the drain at the end may take. */
  drainMs?: number;
  log?: (line: string) => void;
}

export interface PowerCutFigures {
  cuts: number;
  /** Observations acknowledged (PUBACK or AA) over the run, and those found missing after a cut. */
  acknowledged: number;
  lost: number;
  /** Observations stored with the wrong number of readings (twice, or half). */
  duplicated: number;
  cutsWithLoss: number;
  integrityFailures: number;
  alarmEventsPublished: number;
  /** Alarm events published at least ALARM_SYNC_GRACE_MS before the cut and not stored. */
  alarmEventsLost: number;
  /** Alarm events published in the last ALARM_SYNC_GRACE_MS before a cut and not stored: their WAL sync had not finished. */
  alarmEventsInFlightLost: number;
  admissionsAcknowledged: number;
  admissionsLost: number;
  /** What the cuts discarded: bytes of the data directory that were written but never made durable. */
  bytesDiscarded: number;
  restarts: number;
  serial: SerialFigures;
  cloud: CloudFigures;
}

export interface SerialFigures {
  /** Lines the oximeter wrote into the cable, and those stored (once each) at the end. */
  linesWritten: number;
  linesStored: number;
  /** Serial messages the daemon counted as stored (its metrics, scraped up to the cut), over all cuts. */
  countedStored: number;
  /** Of those, how many a cut took: per cut, the count minus the serial messages that survived from that run. */
  countedStoredLost: number;
  /** Lines stored more than once, or with the wrong number of readings. */
  miscounted: number;
}

export interface CloudFigures {
  /** After each cut: items at or below an outbox cursor that the cloud does not hold as the edge does (summed over cuts). */
  pastTheCloud: number;
  cutsPastTheCloud: number;
  /** After each cut: readings and alarm events the cloud holds under a number the edge no longer gives them (summed over cuts). */
  unknownToEdge: number;
  cutsUnknownToEdge: number;
  /** At the end, after the drain: readings in the cloud, acknowledged readings missing there, readings held twice. */
  readings: number;
  acknowledgedReadings: number;
  acknowledgedLost: number;
  duplicated: number;
  /** Every reading the edge holds at the end (serial ones included) not in the cloud; alarm events likewise. */
  edgeReadingsMissing: number;
  alarmEvents: number;
  alarmEventsMissing: number;
  /** Seconds from the end of the load until nothing was left to send; null when it did not drain in time. */
  drainSeconds: number | null;
}

/** A gateway, and its ward, for each kind of run: runs sharing a cloud must not share its record. */
export const RUN_GATEWAYS = {
  real: { id: 'gw-powercut', ward: 'PC' },
  off: { id: 'gw-powercut-off', ward: 'PX' },
  'skip-wal-sync': { id: 'gw-powercut-skip', ward: 'PY' },
} as const satisfies Record<'real' | UnsafeDurability, CloudGateway>;

const DEVICES = ['pox-1', 'pox-2', 'mon-3', 'mon-4'];
const MONITOR = 'MON-H';
const READINGS_PER_MQTT = 3;
const READINGS_PER_HL7 = 10;
const WINDOW = 8;
const HL7_TS = Date.now() - 3_600_000;
const SERIAL_DEVICE = 'pox-s';
/** The load after the last cut, before the drain: new readings on top of what the cuts left. */
const FINAL_LOAD_MS = 1500;
/** A Masimo line carries SpO2 and pulse rate. */
const READINGS_PER_SERIAL = 2;
/**
 * An alarm event goes out once committed, without waiting for the disk; its
 * WAL sync, started at once, makes it durable. Events older than this at the
 * cut must be stored; younger ones may be lost with their sync (reported).
 */
export const ALARM_SYNC_GRACE_MS = 1000;

/** Device d's message seq: every fifth carries a critical systolic pressure, the next clears it. */
const payload = (seq: number) =>
  JSON.stringify({
    seq,
    obs: [
      { code: 'spo2', value: 96, unit: '%' },
      { code: 'pr', value: 70, unit: '/min' },
      { code: 'nibp_sys', value: seq % 5 === 0 ? 75 : 120, unit: 'mm[Hg]' },
    ],
  });

interface Ledger {
  mqttAcked: Map<string, Set<number>>;
  mqttNext: Map<string, number>;
  hl7Acked: Set<number>;
  hl7Next: number;
  alarmEvents: Array<{ alarmId: string; phase: string; at: number }>;
  admissions: string[];
  admissionCounter: number;
}

export async function runPowerCuts(t: T, options: PowerCutOptions): Promise<PowerCutFigures> {
  const log = options.log ?? (() => {});
  const [cutMin, cutMax] = options.cutAfterMs ?? [300, 1500];
  const { cloud, gateway } = options.cloud;
  const hl7Port = await freePort();
  const cable = new PtyCable(t, tempDir(t, 'wardgate-powercut-tty-'), 'masimo');
  await cable.plug();
  const { dir, file, httpPort } = await writeTestConfig(t, {
    devices: [...DEVICES.map((id, i) => ({ id, bed: String(i + 1) })), { id: MONITOR, bed: '5' }],
    extra: {
      ward: gateway.ward,
      gateway: { id: gateway.id },
      hl7: { port: hl7Port, senders: [{ application: 'MONITOR', devices: [MONITOR] }] },
      serial: [
        {
          path: cable.gateway,
          driver: 'masimo-ascii',
          deviceId: SERIAL_DEVICE,
          bed: '6',
          deviceClock: 'utc',
          reopenMinMs: 50,
        },
      ],
      // Batches leave often and several at once, so that every cut finds some in flight.
      cloud: {
        url: cloud.url,
        concurrency: 4,
        requestTimeoutMs: 5000,
        batch: { maxItems: 2000, maxAgeMs: 250 },
        backoff: { initialMs: 100, maxMs: 1000 },
      },
      jobs: { sync: '* * * * * *' },
      log: { level: 'error' },
    },
  });
  const harness = new PowerCutDir(join(dir, 'data'), tempDir(t, 'wardgate-powercut-'));
  const env = {
    ...harness.env(),
    ...cloud.edgeEnv,
    ...(options.unsafe && { [UNSAFE_DURABILITY_ENV]: options.unsafe }),
  };
  if (options.unsafe) {
    const install = await spawnDaemon(t, file, harness.root, env);
    install.child.kill('SIGTERM');
    await install.exited;
    harness.markDurable();
  }
  const ledger: Ledger = {
    mqttAcked: new Map(DEVICES.map((d) => [d, new Set()])),
    mqttNext: new Map(DEVICES.map((d) => [d, 1])),
    hl7Acked: new Set(),
    hl7Next: 0,
    alarmEvents: [],
    admissions: [],
    admissionCounter: 0,
  };
  const figures: PowerCutFigures = {
    cuts: 0,
    acknowledged: 0,
    lost: 0,
    duplicated: 0,
    cutsWithLoss: 0,
    integrityFailures: 0,
    alarmEventsPublished: 0,
    alarmEventsLost: 0,
    alarmEventsInFlightLost: 0,
    admissionsAcknowledged: 0,
    admissionsLost: 0,
    bytesDiscarded: 0,
    restarts: 0,
    serial: { linesWritten: 0, linesStored: 0, countedStored: 0, countedStoredLost: 0, miscounted: 0 },
    cloud: {
      pastTheCloud: 0,
      cutsPastTheCloud: 0,
      unknownToEdge: 0,
      cutsUnknownToEdge: 0,
      readings: 0,
      acknowledgedReadings: 0,
      acknowledgedLost: 0,
      duplicated: 0,
      edgeReadingsMissing: 0,
      alarmEvents: 0,
      alarmEventsMissing: 0,
      drainSeconds: null,
    },
  };
  // The device's clock runs twenty times fast from six hours back, so that its lines never lie in the gateway's future.
  const oximeter = new SerialOximeter(cable, Math.floor((Date.now() - 6 * 3_600_000) / 1000) * 1000);
  oximeter.start();
  t.teardown(() => oximeter.stop());
  let serialBefore = 0;
  for (let cut = 1; cut <= options.cuts; cut++) {
    const spawnAt = Date.now();
    const daemon = await spawnDaemon(t, file, harness.root, env);
    const upAt = Date.now();
    figures.restarts++;
    const stored = new StoredCounter(httpPort);
    const load = await startLoad(t, daemon, httpPort, hl7Port, gateway.ward, ledger);
    const after = cutMin + Math.floor(Math.random() * (cutMax - cutMin));
    await new Promise((r) => setTimeout(r, after));
    const cutAt = Date.now();
    daemon.child.kill('SIGKILL');
    await daemon.exited;
    await Promise.all([load.stop(), stored.stop()]);
    const { files } = harness.cut();
    figures.cuts++;
    figures.bytesDiscarded += files.reduce((n, f) => n + Math.max(0, f.before - (f.after ?? 0)), 0);
    const check = checkSurvivors(harness.root, ledger, cutAt);
    harness.markDurable(); // the check's own reads (and WAL recovery) are on disk before the next run
    const checkedAt = Date.now();
    const fromCloud = await readCloud(cloud.db, gateway);
    const past = pastTheCloud(check.outbox, fromCloud);
    const unknown = unknownToEdge(check.outbox, fromCloud);
    figures.lost += check.lost;
    figures.alarmEventsLost += check.alarmEventsLost;
    figures.alarmEventsInFlightLost += check.lostAlarmEvents.size - check.alarmEventsLost;
    figures.admissionsLost += check.admissionsLost;
    if (!check.integrity) figures.integrityFailures++;
    if (check.lost) figures.cutsWithLoss++;
    // Serial messages this run stored are the rows beyond those the last check found (the device never resends).
    const serialSurvived = check.serialMessages - serialBefore;
    figures.serial.countedStored += stored.stored;
    figures.serial.countedStoredLost += Math.max(0, stored.stored - serialSurvived);
    serialBefore = check.serialMessages;
    figures.cloud.pastTheCloud += past.length;
    figures.cloud.unknownToEdge += unknown.length;
    if (past.length) figures.cloud.cutsPastTheCloud++;
    if (unknown.length) figures.cloud.cutsUnknownToEdge++;
    log(
      `cut ${cut}/${options.cuts} after ${after} ms (start ${upAt - spawnAt} ms, cut and check ${checkedAt - cutAt} ms, cloud ${Date.now() - checkedAt} ms): ${check.acknowledged} acknowledged so far, ${check.lost} lost, ${check.duplicated} miscounted, ` +
        `${check.alarmEventsLost} of ${ledger.alarmEvents.length} alarm events lost (${check.lostAlarmEvents.size - check.alarmEventsLost} in the last second), ` +
        `serial: ${stored.stored} counted stored, ${serialSurvived} survived, ${check.serialMiscounted.length} miscounted; ` +
        `cloud: ${past.length} past the cursor${past.length ? ` (${past.slice(0, 5).join(' ')})` : ''}, ${unknown.length} unknown to the edge${unknown.length ? ` (${unknown.slice(0, 5).join(' ')})` : ''}; ` +
        `integrity ${check.integrity ? 'ok' : 'FAILED'}${check.miscounted.length ? ` (miscounted: ${check.miscounted.slice(0, 5).join(' ')})` : ''}`,
    );
    // A lost reading is counted once: the device sends it again, as a device whose PUBACK was a lie would never do.
    forgetLost(ledger, check);
  }
  // A last start without a cut: the load runs a while longer and stops, and the gateway sends everything left to the cloud.
  const daemon = await spawnDaemon(t, file, harness.root, env);
  const load = await startLoad(t, daemon, httpPort, hl7Port, gateway.ward, ledger);
  await new Promise((r) => setTimeout(r, FINAL_LOAD_MS));
  await load.stop();
  oximeter.stop();
  figures.serial.linesWritten = oximeter.written;
  const drainStart = Date.now();
  figures.cloud.drainSeconds = await waitDrained(harness.root, options.drainMs ?? 120_000).then(
    (at) => Math.round((at - drainStart) / 100) / 10,
    () => null,
  );
  daemon.child.kill('SIGTERM');
  await daemon.exited;
  const final = checkSurvivors(harness.root, ledger, Date.now());
  harness.markDurable();
  // What survived at the end, and what each cut took (and the devices sent again).
  figures.acknowledged = final.acknowledged + figures.lost;
  figures.duplicated = final.duplicated;
  if (final.duplicated) log(`miscounted at the end: ${final.miscounted.join(' ')}`);
  // The ledger forgets every event a cut took, old or within its sync window: both were published.
  figures.alarmEventsPublished = ledger.alarmEvents.length + figures.alarmEventsLost + figures.alarmEventsInFlightLost;
  figures.admissionsAcknowledged = ledger.admissions.length;
  figures.serial.linesStored = final.serialMessages;
  figures.serial.miscounted = final.serialMiscounted.length;
  Object.assign(figures.cloud, cloudAtTheEnd(await readCloud(cloud.db, gateway), final));
  log(
    `end: drained in ${figures.cloud.drainSeconds ?? 'more than the limit of'} s; cloud ${JSON.stringify(figures.cloud)}; serial ${JSON.stringify(figures.serial)}`,
  );
  return figures;
}

/**
 * Polls the running daemon's database until nothing is left to send and
 * nothing new arrives for a second; resolves with the time nothing was left.
 */
async function waitDrained(dataDir: string, ms: number): Promise<number> {
  let since: { state: string; at: number } | undefined;
  return waitFor(
    async () => {
      const db = new Database(join(dataDir, 'wardgate.db'), { readonly: true });
      let state: string | undefined;
      try {
        state = drained(db) ? JSON.stringify(readNewest(db)) : undefined;
      } finally {
        db.close();
      }
      if (state === undefined) since = undefined;
      else if (since?.state !== state) since = { state, at: Date.now() };
      else if (Date.now() - since.at >= 1000) return since.at;
      await new Promise((r) => setTimeout(r, 100));
      return undefined;
    },
    ms,
    'the gateway to drain to the cloud',
  );
}

const readNewest = (db: Database.Database) =>
  db
    .prepare(
      'SELECT (SELECT max(id) FROM observations), (SELECT max(id) FROM alarm_events), (SELECT max(id) FROM device_status), (SELECT max(id) FROM audit)',
    )
    .raw()
    .get();

/** The cloud after the drain: every acknowledged reading once, and everything the edge holds. */
function cloudAtTheEnd(
  fromCloud: Awaited<ReturnType<typeof readCloud>>,
  final: Check,
): Omit<CloudFigures, 'pastTheCloud' | 'cutsPastTheCloud' | 'unknownToEdge' | 'cutsUnknownToEdge' | 'drainSeconds'> {
  // Not by time: an MQTT message without one takes its arrival time, which a resend changes.
  const key = (r: ReadingItem) => `${r.device}|${r.seq}|${r.code}`;
  const edgeReadings = [...final.outbox.readings.values()];
  const all = countOnce(fromCloud, key, edgeReadings.map(key));
  const acked = countOnce(fromCloud, key, edgeReadings.filter((r) => final.ackedKeys.has(messageKey(r))).map(key));
  // An acknowledged message the edge lost is counted lost at its cut; its readings are not in the cloud either.
  const ackedMissingOnEdge = final.lostMqtt.length * READINGS_PER_MQTT + final.lostHl7.length * READINGS_PER_HL7;
  const alarmsMissing = [...final.outbox.alarms].filter(([n, a]) => fromCloud.alarms.get(n)?.phase !== a.phase).length;
  return {
    readings: all.held,
    acknowledgedReadings: final.acknowledgedReadings,
    acknowledgedLost: acked.missing.length + ackedMissingOnEdge,
    duplicated: all.twice.length,
    edgeReadingsMissing: all.missing.length,
    alarmEvents: fromCloud.alarms.size,
    alarmEventsMissing: alarmsMissing,
  };
}

/** The ledger's key of the device message a stored reading belongs to. */
const messageKey = (r: EdgeReading) => (r.device === MONITOR ? `${MONITOR}@${r.messageTs}` : `${r.device}#${r.seq}`);

interface Load {
  stop(): Promise<void>;
}

async function startLoad(
  t: T,
  daemon: Daemon,
  httpPort: number,
  hl7Port: number,
  ward: string,
  ledger: Ledger,
): Promise<Load> {
  const url = `mqtt://127.0.0.1:${daemon.run.ports.mqtt}`;
  const connect = (name: string) =>
    mqtt.connectAsync(url, {
      clientId: name,
      username: name,
      password: passwordOf(name),
      reconnectPeriod: 0,
      connectTimeout: 10_000,
    });
  const station = await connect('station');
  await station.subscribeAsync(`wardgate/ward/${ward}/alarms`, { qos: 1 });
  station.on('message', (_topic, body) => {
    const event = JSON.parse(body.toString()) as { alarmId: string; phase: string };
    ledger.alarmEvents.push({ alarmId: event.alarmId, phase: event.phase, at: Date.now() });
  });
  const devices = await Promise.all(DEVICES.map(connect));
  let running = true;
  const pumps = devices.map((client, i) => pumpMqtt(client, DEVICES[i], ledger, () => running));
  const hl7 = await MllpClient.connect(t, hl7Port);
  const hl7Pump = pumpHl7(hl7, ledger, () => running);
  const admissionPump = pumpAdmissions(httpPort, ledger, () => running);
  return {
    async stop() {
      running = false;
      await Promise.all([...pumps, hl7Pump, admissionPump]);
      await Promise.all([...devices, station].map((c) => c.endAsync(true)));
      hl7.socket.destroy();
    },
  };
}

/** A device's outbox: resends what was never acknowledged, then new readings, WINDOW in flight, until the connection dies. */
function pumpMqtt(client: MqttClient, device: string, ledger: Ledger, running: () => boolean): Promise<void> {
  const acked = ledger.mqttAcked.get(device)!;
  const next = ledger.mqttNext.get(device)!;
  const queue = Array.from({ length: next - 1 }, (_, k) => k + 1).filter((s) => !acked.has(s));
  let fresh = next;
  return new Promise((resolve) => {
    let inFlight = 0;
    let closed = false;
    const finish = () => {
      if (inFlight === 0 || closed) resolve();
    };
    client.once('close', () => {
      closed = true;
      resolve();
    });
    const pump = () => {
      while (!closed && running() && inFlight < WINDOW) {
        const seq = queue.shift() ?? fresh++;
        ledger.mqttNext.set(device, Math.max(ledger.mqttNext.get(device)!, seq + 1));
        inFlight++;
        client.publish(`wardgate/devices/${device}/obs`, payload(seq), { qos: 1 }, (err) => {
          inFlight--;
          if (!err && !closed) acked.add(seq);
          if (running()) pump();
          else finish();
        });
      }
      if (!running()) finish();
    };
    pump();
  });
}

/** One HL7 monitor sending one ORU^R01 at a time, each after the AA of the one before. */
async function pumpHl7(client: MllpClient, ledger: Ledger, running: () => boolean): Promise<void> {
  while (running() && !client.closed) {
    const i = ledger.hl7Next;
    const before = client.acks.length;
    client.send(
      pcd01Message({ controlId: `${MONITOR}-${i}`, ts: HL7_TS + i * 1000, equipment: MONITOR, metrics: tenVitals(i) }),
    );
    while (client.acks.length === before && !client.closed && running()) await new Promise((r) => setTimeout(r, 2));
    const ack = client.acks[before];
    if (ack?.code === 'AA' && ack.controlId === `${MONITOR}-${i}`) {
      ledger.hl7Acked.add(i);
      ledger.hl7Next++;
    } else if (ack) {
      throw new Error(`HL7 message ${i} answered ${ack.code}: ${ack.err ?? ack.text}`);
    } else {
      return; // cut before the answer: the monitor sends it again after the restart
    }
  }
}

/** Admits a patient to bed 9 and discharges again, one after the other; an admission answered 201 must survive. */
async function pumpAdmissions(httpPort: number, ledger: Ledger, running: () => boolean): Promise<void> {
  const auth = `Basic ${Buffer.from(`biomed:${passwordOf('biomed')}`).toString('base64')}`;
  const call = (path: string, body: unknown) =>
    fetch(`http://127.0.0.1:${httpPort}${path}`, {
      method: 'POST',
      headers: { authorization: auth, 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(5000),
    });
  while (running()) {
    try {
      await call('/api/beds/9/discharge', {});
      const identifier = `MRN-${++ledger.admissionCounter}`;
      const res = await call('/api/admissions', { bed: '9', identifier });
      if (res.status === 201) ledger.admissions.push(identifier);
    } catch {
      return; // the daemon is gone
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

interface Check {
  integrity: boolean;
  acknowledged: number;
  lost: number;
  duplicated: number;
  /** key:readings stored (-1: stored twice) */
  miscounted: string[];
  lostMqtt: Array<[string, number]>;
  lostHl7: number[];
  lostAlarmEvents: Set<number>;
  alarmEventsLost: number;
  admissionsLost: number;
  /** Serial messages stored, and those stored twice or with the wrong number of readings (device time:count). */
  serialMessages: number;
  serialMiscounted: string[];
  /** Messages acknowledged and not lost (the ledger's keys), and their readings. */
  ackedKeys: Set<string>;
  acknowledgedReadings: number;
  /** The outbox as the edge holds it after the cut. */
  outbox: EdgeOutbox;
}

/** Opens what survived the cut and holds it against everything that was acknowledged or published. */
function checkSurvivors(dataDir: string, ledger: Ledger, cutAt: number): Check {
  const db = new Database(join(dataDir, 'wardgate.db'));
  try {
    const integrity = (db.pragma('integrity_check', { simple: true }) as string) === 'ok';
    // key -> readings stored under it; a key stored twice counts -1 (the unique (device, seq) index makes that an HL7 retry stored anew).
    const counts = new Map<string, number>();
    const serial = new Map<number, number>();
    const rows = db
      .prepare(
        'SELECT d.device_id AS device, o.seq AS seq, o.ts AS ts, json_array_length(o.readings) AS n FROM observations o JOIN devices d ON d.id = o.device',
      )
      .all() as Array<{ device: string; seq: number; ts: number; n: number }>;
    for (const row of rows) {
      // A serial line is known by its device time: the oximeter prints one line per device second.
      if (row.device === SERIAL_DEVICE) serial.set(row.ts, serial.has(row.ts) ? -1 : row.n);
      const key = row.device === MONITOR ? `${MONITOR}@${row.ts}` : `${row.device}#${row.seq}`;
      counts.set(key, counts.has(key) ? -1 : row.n);
    }
    const serialMiscounted = [...serial]
      .filter(([, n]) => n !== READINGS_PER_SERIAL)
      .map(([ts, n]) => `${new Date(ts).toISOString()}:${n}`);
    const lostMqtt: Array<[string, number]> = [];
    const miscounted: string[] = [];
    const ackedKeys = new Set<string>();
    let acknowledged = 0;
    let acknowledgedReadings = 0;
    for (const [device, acked] of ledger.mqttAcked) {
      for (const seq of acked) {
        acknowledged++;
        acknowledgedReadings += READINGS_PER_MQTT;
        const n = counts.get(`${device}#${seq}`);
        if (n === undefined) lostMqtt.push([device, seq]);
        else ackedKeys.add(`${device}#${seq}`);
        if (n !== undefined && n !== READINGS_PER_MQTT) miscounted.push(`${device}#${seq}:${n}`);
      }
    }
    const lostHl7: number[] = [];
    for (const i of ledger.hl7Acked) {
      acknowledged++;
      acknowledgedReadings += READINGS_PER_HL7;
      const n = counts.get(`${MONITOR}@${HL7_TS + i * 1000}`);
      if (n === undefined) lostHl7.push(i);
      else ackedKeys.add(`${MONITOR}@${HL7_TS + i * 1000}`);
      if (n !== undefined && n !== READINGS_PER_HL7) miscounted.push(`${MONITOR}-${i}:${n}`);
    }
    const hasEvent = db.prepare('SELECT 1 FROM alarm_events WHERE alarm_id = ? AND phase = ?');
    const lostAlarmEvents = new Set(
      ledger.alarmEvents.flatMap((e, i) => (hasEvent.get(e.alarmId, e.phase) === undefined ? [i] : [])),
    );
    const hasAdmission = db.prepare(
      'SELECT 1 FROM admissions a JOIN patients p ON p.id = a.patient WHERE p.identifier = ?',
    );
    const admissionsLost = ledger.admissions.filter((id) => hasAdmission.get(id) === undefined).length;
    const alarmEventsLost = [...lostAlarmEvents].filter(
      (i) => ledger.alarmEvents[i].at < cutAt - ALARM_SYNC_GRACE_MS,
    ).length;
    return {
      integrity,
      acknowledged,
      lost: lostMqtt.length + lostHl7.length,
      duplicated: miscounted.length,
      miscounted,
      lostMqtt,
      lostHl7,
      lostAlarmEvents,
      alarmEventsLost,
      admissionsLost,
      serialMessages: serial.size,
      serialMiscounted,
      ackedKeys,
      acknowledgedReadings,
      outbox: readEdgeOutbox(db),
    };
  } finally {
    db.close();
  }
}

/** After a loss is counted, the lost items count as never acknowledged: the next run sends them again. */
function forgetLost(ledger: Ledger, check: Check): void {
  for (const [device, seq] of check.lostMqtt) ledger.mqttAcked.get(device)!.delete(seq);
  for (const i of check.lostHl7) ledger.hl7Acked.delete(i);
  if (check.lostHl7.length) ledger.hl7Next = Math.min(ledger.hl7Next, ...check.lostHl7);
  ledger.alarmEvents = ledger.alarmEvents.filter((_, i) => !check.lostAlarmEvents.has(i));
}
