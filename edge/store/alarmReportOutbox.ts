// The alarm events the alarm manager is still owed. alarm_events is an
// outbox (the cloud sync reads it too); the alarm reporter keeps its own
// cursor in outbox_cursors under its own name, moved in the same transaction
// that queues the reports, so that each event is queued once: a crash before
// the commit queues it again from the cursor, a crash after finds it queued.
import type { AlarmEvent } from '../alarms/types.js';
import { withLimit, type LimitColumns } from './alarmStore.js';
import { writeTransaction, type Db } from './database.js';

/** The cursor's name in outbox_cursors (the sync's streams are table names; this is not one). */
export const ALARM_REPORT_CURSOR = 'alarm-manager';

/** The patients row of the admission in `bed` at `ts` (SQL expressions), as a subquery. */
const admittedAt = (bed: string, ts: string) => `(SELECT ad.patient FROM admissions ad
      WHERE ad.bed = ${bed} AND ad.admitted_at <= ${ts} AND (ad.discharged_at IS NULL OR ad.discharged_at > ${ts})
      ORDER BY ad.admitted_at DESC LIMIT 1)`;

/**
 * The patients row an alarm event is reported under, in a query over
 * `alarm_events e JOIN alarms a`: a physiological alarm's recorded admission
 * (migration 11; none: the bed only), whoever is in the bed now; an alarm
 * recorded before it and not backfilled, the admission in its bed when it was
 * raised. A technical alarm is the device's, reported under the patient in
 * its bed at the event. The sync (outboxRows.ts, batchBuilder.ts) gives the
 * same patient's pseudonym.
 */
export const ALARM_PATIENT = `CASE WHEN e.kind <> 'physiological' THEN ${admittedAt('e.bed', 'e.ts')}
    WHEN a.admission_recorded = 1 THEN (SELECT ad.patient FROM admissions ad WHERE ad.id = a.admission)
    ELSE ${admittedAt('a.bed', 'a.raised_at')} END`;

export interface OwedEvent {
  readonly event: AlarmEvent & { readonly seq: number };
  /** The alarm's condition key and when it was raised (the report's OBR and type need them). */
  readonly key: string;
  readonly raisedAt: number;
  /** The patient the alarm is about (ALARM_PATIENT; the hospital's identifier: it goes to the hospital's alarm manager only). */
  readonly patient: { readonly identifier: string; readonly authority: string } | undefined;
}

export class AlarmReportOutbox {
  readonly #db: Db;

  constructor(db: Db) {
    this.#db = db;
  }

  /** Events above the cursor, oldest first. At the first start the cursor is the newest event: history before it is not reported. */
  owed(limit: number): OwedEvent[] {
    const through = this.cursor();
    const rows = this.#db
      .prepare(
        `SELECT e.id AS seq, e.alarm_id AS alarmId, e.phase, e.ts, e.bed, e.device_id AS deviceId, e.kind, e.rule, e.metric, e.priority, e.state,
                e.message, e.value, e.by, e.escalations, e.limit_side AS limitSide, e.limit_value AS limitValue,
                a.key, a.raised_at AS raisedAt, p.identifier, p.authority
         FROM alarm_events e JOIN alarms a ON a.id = e.alarm_id
         LEFT JOIN patients p ON p.id = ${ALARM_PATIENT}
         WHERE e.id > ? ORDER BY e.id LIMIT ?`,
      )
      .all(through, limit) as Array<
      AlarmEvent &
        LimitColumns & {
          seq: number;
          key: string;
          raisedAt: number;
          identifier: string | null;
          authority: string | null;
        }
    >;
    return rows.map(({ key, raisedAt, identifier, authority, ...event }) => ({
      // The limit as recorded, for OBX-7; an event recorded before the limit columns has none.
      event: withLimit(event),
      key,
      raisedAt,
      patient: identifier === null ? undefined : { identifier, authority: authority ?? '' },
    }));
  }

  cursor(): number {
    const row = this.#db
      .prepare('SELECT synced_through FROM outbox_cursors WHERE stream = ?')
      .pluck()
      .get(ALARM_REPORT_CURSOR) as number | undefined;
    if (row !== undefined) return row;
    // First start with an alarm manager: begin after what is already recorded (no report of old alarms).
    const newest = (this.#db.prepare('SELECT coalesce(max(id), 0) FROM alarm_events').pluck().get() as number) ?? 0;
    this.#db
      .prepare('INSERT INTO outbox_cursors (stream, synced_through) VALUES (?, ?) ON CONFLICT (stream) DO NOTHING')
      .run(ALARM_REPORT_CURSOR, newest);
    return newest;
  }

  /**
   * Runs `queue` and moves the cursor to `through` in one transaction,
   * committed without waiting for the disk (synchronous=NORMAL, as the alarm
   * store does): an fsync here would hold the event loop that carries the
   * ward's alarms, up to half a second on an SD card. The commit reaches the
   * disk with the next synced one. A power cut before that loses the queued
   * reports and the cursor together: they are queued again from the cursor,
   * with the same control ids.
   */
  advance(through: number, queue: () => void): void {
    const db = this.#db;
    const relax = !db.inTransaction && (db.pragma('synchronous', { simple: true }) as number) > 1;
    if (relax) db.pragma('synchronous = NORMAL');
    try {
      writeTransaction(db, () => {
        queue();
        db.prepare('UPDATE outbox_cursors SET synced_through = max(synced_through, ?) WHERE stream = ?').run(
          through,
          ALARM_REPORT_CURSOR,
        );
      })();
    } finally {
      if (relax) db.pragma('synchronous = FULL');
    }
  }

  /** Whether the gateway ever raised an alarm with this id. */
  knows(alarmId: string): boolean {
    return this.#db.prepare('SELECT 1 FROM alarms WHERE id = ?').get(alarmId) !== undefined;
  }

  /** The alarm a report's control id was for, from the event's seq in it. */
  alarmOfSeq(seq: number): string | undefined {
    return this.#db.prepare('SELECT alarm_id FROM alarm_events WHERE id = ?').pluck().get(seq) as string | undefined;
  }
}
