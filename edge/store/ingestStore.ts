// The writes of the ingest path, as prepared statements run inside one
// transaction per group of items (see ingest/commitQueue.ts).
import type { Statement } from 'better-sqlite3';
import type {
  CommittedItem,
  DeadLetterItem,
  IngestItem,
  IngestOutcome,
  IngestSource,
  ObservationRow,
  PatientRef,
  StatusItem,
  StoreItem,
} from '../ingest/types.js';
import { reject } from '../../shared/errors.js';
import type { Reading } from '../../shared/reading.js';
import { writeTransaction, type Db } from './database.js';

/**
 * The stored form of an observation's readings: [[code, value, flags, ts?], ...],
 * ts only where a reading's time differs from the message time.
 */
export function encodeReadings(readings: readonly Reading[], messageTs: number): string {
  return JSON.stringify(
    readings.map((r) => (r.ts === messageTs ? [r.code, r.value, r.flags] : [r.code, r.value, r.flags, r.ts])),
  );
}

/** The form of an item the store writes (and the writer thread receives). */
export function toStoreItem(item: IngestItem): StoreItem {
  if (item.kind !== 'obs') return item;
  const { readings, ...rest } = item;
  return { ...rest, encoded: encodeReadings(readings, item.ts), readingCount: readings.length };
}

/** How many numbers after a derived seq are tried when it is taken by other content. */
const SEQ_PROBES = 16;

/** Dead letters keep at most this many bytes of the raw message. */
export const DEAD_LETTER_RAW_LIMIT = 4096;

interface DeviceRow {
  id: number;
  bed: string | null;
  declared: number;
  /** Where its readings arrive (mqtt, serial, hl7). */
  source: string;
}

export interface DeclaredDevice {
  readonly id: string;
  readonly bed?: string;
  readonly source?: IngestSource;
}

export class IngestStore {
  readonly #db: Db;
  readonly #devices = new Map<string, DeviceRow>();
  /** Devices heard from in the transaction being applied: device row id -> latest receive time and seq. */
  readonly #seen = new Map<number, { ts: number; seq: number }>();
  readonly #insertObservation: Statement;
  readonly #upsertPatient: Statement<[string, string, string, number, number], { id: number }>;
  readonly #linkDevice: Statement;
  readonly #storedDigest: Statement<[number, number], { digest: Buffer }>;
  readonly #insertStatus: Statement;
  readonly #updateDeviceSeen: Statement;
  readonly #updateDeviceStatus: Statement;
  readonly #insertDevice: Statement;
  readonly #updateSource: Statement;
  readonly #insertDeadLetter: Statement;
  readonly #addCounter: Statement;
  readonly #commitGroup: (items: readonly StoreItem[]) => IngestOutcome[];

  constructor(db: Db) {
    this.#db = db;
    this.#insertObservation = db.prepare(
      'INSERT OR IGNORE INTO observations (device, seq, ts, received_ts, bed, digest, readings, patient) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    );
    this.#upsertPatient = db.prepare(
      `INSERT INTO patients (identifier, authority, id_type, first_seen, last_seen) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (authority, identifier) DO UPDATE SET last_seen = max(last_seen, excluded.last_seen) RETURNING id`,
    );
    // The sender's association is the current one: the bed of an undeclared
    // device (HL7 equipment) follows it; a declared device keeps its configured bed.
    this.#linkDevice = db.prepare(
      'UPDATE devices SET patient = coalesce(?, patient), bed = CASE WHEN declared = 0 THEN coalesce(?, bed) ELSE bed END WHERE id = ?',
    );
    this.#storedDigest = db.prepare('SELECT digest FROM observations WHERE device = ? AND seq = ?');
    this.#insertStatus = db.prepare(
      'INSERT INTO device_status (device, ts, received_ts, online, battery, sensor) VALUES (?, ?, ?, ?, ?, ?)',
    );
    this.#updateDeviceSeen = db.prepare(
      'UPDATE devices SET last_seen = max(coalesce(last_seen, 0), ?), first_seen = coalesce(first_seen, ?), last_seq = max(coalesce(last_seq, -1), ?) WHERE id = ?',
    );
    this.#updateDeviceStatus = db.prepare(
      `UPDATE devices SET online = coalesce(?, online), battery = coalesce(?, battery), sensor = coalesce(?, sensor),
       status_ts = ?, last_seen = max(coalesce(last_seen, 0), ?), first_seen = coalesce(first_seen, ?) WHERE id = ?`,
    );
    this.#insertDevice = db.prepare(
      'INSERT INTO devices (device_id, bed, source, declared) VALUES (?, ?, ?, ?) RETURNING id',
    );
    this.#updateSource = db.prepare('UPDATE devices SET source = ? WHERE id = ?');
    this.#insertDeadLetter = db.prepare(
      'INSERT INTO dead_letters (received_ts, source, device_id, topic, reason, field, detail, raw, raw_size) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
    this.#addCounter = db.prepare(
      'INSERT INTO counters (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = value + excluded.value',
    );
    this.#commitGroup = writeTransaction(db, (items: readonly StoreItem[]) => this.#apply(items));
    this.#loadDevices();
  }

  /**
   * Brings the device table in line with config: declared devices exist with
   * their bed; devices no longer declared stay (their history matters) but are
   * marked undeclared. A serial port is a fact of the config, so a device put
   * on one, or taken off one, takes the declared source; otherwise a known
   * device keeps the source its readings last came over (the config says where
   * a device may connect, the readings where it does).
   */
  declareDevices(devices: readonly DeclaredDevice[]): void {
    writeTransaction(this.#db, () => {
      this.#db.prepare('UPDATE devices SET declared = 0').run();
      const upsert = this.#db.prepare(
        `INSERT INTO devices (device_id, bed, source, declared) VALUES (?, ?, ?, 1)
         ON CONFLICT (device_id) DO UPDATE SET bed = excluded.bed, declared = 1,
           source = CASE WHEN excluded.source = 'serial' OR devices.source = 'serial' THEN excluded.source ELSE devices.source END`,
      );
      for (const d of devices) upsert.run(d.id, d.bed ?? null, d.source ?? 'mqtt');
    })();
    this.#loadDevices();
  }

  isDeclared(deviceId: string): boolean {
    return this.#devices.get(deviceId)?.declared === 1;
  }

  bedOf(deviceId: string): string | undefined {
    return this.#devices.get(deviceId)?.bed ?? undefined;
  }

  /** The highest seq stored for a device, so that a source deriving seqs from arrival order resumes above it. */
  lastSeq(deviceId: string): number | undefined {
    const row = this.#db.prepare('SELECT last_seq FROM devices WHERE device_id = ?').get(deviceId) as
      { last_seq: number | null } | undefined;
    return row?.last_seq ?? undefined;
  }

  /** Commits a group of items in one transaction; throws if the transaction fails (nothing of it is stored). */
  commit(items: readonly IngestItem[]): CommittedItem[] {
    return this.commitRows(items.map(toStoreItem)).map((result, i) => ({ item: items[i], result }));
  }

  /** commit() for items already in the stored form: the outcome of each, in order. */
  commitRows(items: readonly StoreItem[]): IngestOutcome[] {
    try {
      return this.#commitGroup(items);
    } catch (err) {
      // Rows inserted for devices first seen in this transaction were rolled back with it.
      this.#loadDevices();
      throw err;
    }
  }

  #loadDevices(): void {
    this.#devices.clear();
    for (const row of this.#db.prepare('SELECT id, device_id, bed, declared, source FROM devices').all() as Array<
      DeviceRow & { device_id: string }
    >) {
      this.#devices.set(row.device_id, { id: row.id, bed: row.bed, declared: row.declared, source: row.source });
    }
  }

  #apply(items: readonly StoreItem[]): IngestOutcome[] {
    const out = new Array<IngestOutcome>(items.length);
    this.#seen.clear();
    let readings = 0;
    const deadLetters = new Map<string, number>();
    for (let i = 0; i < items.length; i++) {
      const item = items[i];
      let result: IngestOutcome;
      if (item.kind === 'obs') result = this.#applyObservation(item);
      else if (item.kind === 'status') result = this.#applyStatus(item);
      else result = this.#applyDeadLetter(item);
      if (result.outcome === 'stored') readings += result.readings;
      else if (result.outcome === 'rejected')
        deadLetters.set(result.rejection.code, (deadLetters.get(result.rejection.code) ?? 0) + 1);
      out[i] = result;
    }
    // One update per device per transaction, however many of its messages it holds.
    for (const [id, seen] of this.#seen) this.#updateDeviceSeen.run(seen.ts, seen.ts, seen.seq, id);
    if (readings) {
      this.#addCounter.run('readings', readings);
      this.#addCounter.run('readings_unsynced', readings);
    }
    for (const [reason, n] of deadLetters) {
      this.#addCounter.run('dead_letters', n);
      this.#addCounter.run(`dead_letters:${reason}`, n);
    }
    return out;
  }

  #device(deviceId: string, source: IngestSource): DeviceRow {
    let row = this.#devices.get(deviceId);
    if (!row) {
      const { id } = this.#insertDevice.get(deviceId, null, source, 0) as { id: number };
      row = { id, bed: null, declared: 0, source };
      this.#devices.set(deviceId, row);
    }
    return row;
  }

  #applyObservation(item: ObservationRow): IngestOutcome {
    const device = this.#device(item.deviceId, item.source);
    if (device.source !== item.source && device.source !== 'serial') {
      // Readings over another transport than the one assumed (an HL7 monitor bound to a bed in `devices:`,
      // which declares MQTT devices). A serial port in the config is a fact, not an assumption: it stays.
      this.#updateSource.run(item.source, device.id);
      device.source = item.source;
    }
    const bed = item.bed ?? device.bed;
    const patient = item.patient ? this.#patient(item.patient, item.receivedTs) : null;
    const { encoded } = item;
    // A seq the gateway derived from content may collide with another message's; the next free
    // numbers are probed in order, so that a retransmission walks the same path to its own row.
    const probes = item.probeSeq ? SEQ_PROBES : 1;
    let seq = item.seq;
    for (let probe = 0; ; probe++, seq++) {
      if (
        this.#insertObservation.run(device.id, seq, item.ts, item.receivedTs, bed, item.digest, encoded, patient)
          .changes > 0
      )
        break;
      const stored = this.#storedDigest.get(device.id, seq);
      if (stored && stored.digest.equals(item.digest)) return { outcome: 'duplicate' };
      if (probe + 1 < probes) continue;
      return this.#applyDeadLetter({
        kind: 'dead',
        source: item.source,
        receivedTs: item.receivedTs,
        deviceId: item.deviceId,
        rejection: reject(
          'WG_ERR_SEQ_CONFLICT',
          `seq ${item.seq} was already stored with different content; a device must not reuse sequence numbers`,
          'seq',
        ),
        raw: Buffer.alloc(0),
      });
    }
    if (patient !== null || item.bed !== undefined) {
      this.#linkDevice.run(patient, item.bed ?? null, device.id);
      if (device.declared === 0 && item.bed !== undefined) device.bed = item.bed;
    }
    const seen = this.#seen.get(device.id);
    if (!seen) this.#seen.set(device.id, { ts: item.receivedTs, seq });
    else {
      seen.ts = Math.max(seen.ts, item.receivedTs);
      seen.seq = Math.max(seen.seq, seq);
    }
    return bed === null
      ? { outcome: 'stored', readings: item.readingCount }
      : { outcome: 'stored', readings: item.readingCount, bed };
  }

  #patient(ref: PatientRef, ts: number): number {
    return this.#upsertPatient.get(ref.id, ref.authority, ref.idType, ts, ts)!.id;
  }

  #applyStatus(item: StatusItem): IngestOutcome {
    const device = this.#device(item.deviceId, item.source);
    const { ts, online, battery, sensor } = item.status;
    const onlineInt = online === undefined ? null : Number(online);
    this.#insertStatus.run(device.id, ts, item.receivedTs, onlineInt, battery ?? null, sensor ?? null);
    this.#updateDeviceStatus.run(
      onlineInt,
      battery ?? null,
      sensor ?? null,
      ts,
      item.receivedTs,
      item.receivedTs,
      device.id,
    );
    return { outcome: 'status' };
  }

  #applyDeadLetter(item: DeadLetterItem): IngestOutcome {
    const { rejection } = item;
    this.#insertDeadLetter.run(
      item.receivedTs,
      item.source,
      item.deviceId ?? null,
      item.topic ?? null,
      rejection.code,
      rejection.field ?? null,
      rejection.message,
      item.raw.subarray(0, DEAD_LETTER_RAW_LIMIT),
      item.rawSize ?? item.raw.length,
    );
    return { outcome: 'rejected', rejection };
  }
}
