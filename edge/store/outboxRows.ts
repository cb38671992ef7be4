// The outbox's rows as the sync reads them (sync/batchBuilder.ts,
// sync/verifier.ts): the ids above a stream's point that the next batch
// plans, the rows of a planned range as they are stored, and, for the
// verification, where a stream's rows of a time begin and how many items
// each row of a range holds. Reads only; every statement is prepared once,
// since a batch reads thousands of rows and the sync plans one after another.
import type { Statement } from 'better-sqlite3';
import type { Db } from './database.js';
import { outboxStreams, type OutboxStream } from './outbox.js';

/** A device message of the outbox: its readings are the stored JSON array of [code, value, flags, ts?]. */
export interface ObservationRow {
  readonly id: number;
  /** The device's id as configured (devices.device_id). */
  readonly device: string;
  readonly seq: number;
  readonly ts: number;
  readonly bed: string | null;
  readonly patient: number | null;
  readonly readings: string;
}

export interface AlarmEventRow {
  readonly id: number;
  readonly alarm_id: string;
  readonly phase: string;
  readonly ts: number;
  readonly bed: string | null;
  readonly device_id: string | null;
  readonly kind: string;
  readonly rule: string;
  readonly metric: string | null;
  readonly priority: string;
  readonly value: number | null;
  readonly by: string | null;
  /** The limit a limit alarm's event crossed (migration 10); null for any other alarm and for events recorded before. */
  readonly limit_side: string | null;
  readonly limit_value: number | null;
  /**
   * A physiological alarm's patient (patients row of its recorded admission, migration 11), the same for
   * every event of the alarm; null when it had none (reported with the bed only), and for a technical alarm
   * (the patient in its bed at the event is looked up from the admissions, as for a reading).
   */
  readonly patient: number | null;
  /**
   * For a physiological alarm recorded before migration 11 and not backfilled (its admission is not its
   * own): when it was raised, the time its patient is looked up at in its bed, as before. Else null.
   */
  readonly unrecorded_raised_at: number | null;
}

export interface DeviceStatusRow {
  readonly id: number;
  readonly device: string;
  /** The device's bed now (devices.bed). */
  readonly bed: string | null;
  readonly ts: number;
  readonly online: number | null;
  readonly battery: number | null;
  readonly sensor: string | null;
}

export interface AuditRow {
  readonly id: number;
  readonly ts: number;
  readonly actor: string;
  readonly action: string;
  readonly target: string | null;
  readonly detail: string | null;
}

/** A row id and the items it holds: a device message's readings, one for any other row. */
export interface RowSize {
  readonly id: number;
  readonly n: number;
}

type Range = { readonly after: number; readonly through: number };

/** When the gateway wrote each stream's row (its own clock), by its column. */
export const writtenAt: Readonly<Record<OutboxStream, string>> = {
  alarms: 'ts',
  obs: 'received_ts',
  status: 'received_ts',
  audit: 'ts',
};

const perStream = <S>(make: (stream: OutboxStream, table: string) => S): Record<OutboxStream, S> => ({
  alarms: make('alarms', outboxStreams.alarms),
  obs: make('obs', outboxStreams.obs),
  status: make('status', outboxStreams.status),
  audit: make('audit', outboxStreams.audit),
});

export class OutboxRows {
  readonly #idsAbove: Record<'alarms' | 'status' | 'audit', Statement<[number, number], number>>;
  readonly #sizesAbove: Statement<[number, number], RowSize>;
  readonly #observations: Statement<[number, number], ObservationRow>;
  readonly #alarmEvents: Statement<[number, number], AlarmEventRow>;
  readonly #statuses: Statement<[number, number], DeviceStatusRow>;
  readonly #audit: Statement<[number, number], AuditRow>;
  readonly #sizesIn: Record<OutboxStream, Statement<[number, number], RowSize>>;
  readonly #firstWrittenFrom: Record<OutboxStream, Statement<[number], number | null>>;

  constructor(db: Db) {
    const ids = (table: string) =>
      db.prepare<[number, number], number>(`SELECT id FROM ${table} WHERE id > ? ORDER BY id LIMIT ?`).pluck();
    this.#idsAbove = {
      alarms: ids(outboxStreams.alarms),
      status: ids(outboxStreams.status),
      audit: ids(outboxStreams.audit),
    };
    this.#sizesAbove = db.prepare(
      'SELECT id, json_array_length(readings) AS n FROM observations WHERE id > ? ORDER BY id LIMIT ?',
    );
    this.#observations = db.prepare(
      `SELECT o.id, d.device_id AS device, o.seq, o.ts, o.bed, o.patient, o.readings FROM observations o JOIN devices d ON d.id = o.device
       WHERE o.id > ? AND o.id <= ? ORDER BY o.id`,
    );
    this.#alarmEvents = db.prepare(
      `SELECT e.id, e.alarm_id, e.phase, e.ts, e.bed, e.device_id, e.kind, e.rule, e.metric, e.priority, e.value, e.by,
         e.limit_side, e.limit_value,
         CASE WHEN e.kind = 'physiological' AND a.admission_recorded = 1
           THEN (SELECT ad.patient FROM admissions ad WHERE ad.id = a.admission) END AS patient,
         CASE WHEN e.kind = 'physiological' AND a.admission_recorded = 0 THEN a.raised_at END AS unrecorded_raised_at
       FROM alarm_events e LEFT JOIN alarms a ON a.id = e.alarm_id WHERE e.id > ? AND e.id <= ? ORDER BY e.id`,
    );
    this.#statuses = db.prepare(
      `SELECT s.id, d.device_id AS device, d.bed, s.ts, s.online, s.battery, s.sensor FROM device_status s JOIN devices d ON d.id = s.device
       WHERE s.id > ? AND s.id <= ? ORDER BY s.id`,
    );
    this.#audit = db.prepare(
      'SELECT id, ts, actor, action, target, detail FROM audit WHERE id > ? AND id <= ? ORDER BY id',
    );
    this.#sizesIn = perStream((stream, table) =>
      db.prepare<[number, number], RowSize>(
        stream === 'obs'
          ? 'SELECT id, json_array_length(readings) AS n FROM observations WHERE id > ? AND id <= ? ORDER BY id'
          : `SELECT id, 1 AS n FROM ${table} WHERE id > ? AND id <= ? ORDER BY id`,
      ),
    );
    this.#firstWrittenFrom = perStream((stream, table) =>
      db.prepare<[number], number | null>(`SELECT min(id) FROM ${table} WHERE ${writtenAt[stream]} >= ?`).pluck(),
    );
  }

  /** The ids of the alarm events, device statuses or audit entries above `after`, at most `limit`, ascending. */
  idsAbove(stream: 'alarms' | 'status' | 'audit', after: number, limit: number): number[] {
    return this.#idsAbove[stream].all(after, limit);
  }

  /** The device messages above `after`, at most `limit`, each with how many readings it holds, ascending. */
  observationSizesAbove(after: number, limit: number): RowSize[] {
    return this.#sizesAbove.all(after, limit);
  }

  /** Device messages with ids in (after, through], ascending. */
  observations(range: Range): ObservationRow[] {
    return this.#observations.all(range.after, range.through);
  }

  /** Alarm events with ids in (after, through], ascending. */
  alarmEvents(range: Range): AlarmEventRow[] {
    return this.#alarmEvents.all(range.after, range.through);
  }

  /** Device statuses with ids in (after, through], ascending, each with its device's bed now. */
  deviceStatuses(range: Range): DeviceStatusRow[] {
    return this.#statuses.all(range.after, range.through);
  }

  /** Audit entries with ids in (after, through], ascending. */
  auditEntries(range: Range): AuditRow[] {
    return this.#audit.all(range.after, range.through);
  }

  /** The rows of a stream with ids in (after, through], ascending, each with the items it holds. */
  sizesIn(stream: OutboxStream, range: Range): RowSize[] {
    return this.#sizesIn[stream].all(range.after, range.through);
  }

  /** The lowest id of a stream's rows the gateway wrote at or after `ts` (epoch ms); null when none. */
  firstWrittenFrom(stream: OutboxStream, ts: number): number | null {
    return this.#firstWrittenFrom[stream].get(ts) ?? null;
  }
}
