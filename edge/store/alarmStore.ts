// Persists alarms: the current state of each (so open alarms survive a
// restart) and every lifecycle event, append-only, for the sync outbox.
import type { Statement } from 'better-sqlite3';
import type { Alarm, AlarmEvent, AlarmLimit } from '../alarms/types.js';
import { LOCK_RETRY_MS, lockHeld, writeTransaction, type Db } from './database.js';
import { WalSync } from './walSync.js';

interface AlarmRow {
  id: string;
  key: string;
  bed: string | null;
  device_id: string | null;
  kind: Alarm['kind'];
  rule: string;
  metric: string | null;
  priority: Alarm['priority'];
  latching: number;
  state: Alarm['state'];
  message: string;
  value: number | null;
  raised_at: number;
  escalations: number;
  last_escalated_at: number | null;
  acknowledged_by: string | null;
  acknowledged_at: number | null;
  cleared_at: number | null;
  limit_side: string | null;
  limit_value: number | null;
  admission: number | null;
  patient_left: number;
}

/** The limit columns of an alarm or event as read back (`limit_side AS limitSide, limit_value AS limitValue`). */
export interface LimitColumns {
  readonly limitSide: string | null;
  readonly limitValue: number | null;
}

/**
 * A row read back with its limit as the engine gave it: a limit alarm's
 * alarm and events carry one; any other has no `limit` key at all, nor has
 * a row recorded before the columns existed (its side is in its text).
 */
export function withLimit<T extends object>(row: T & LimitColumns): T & { limit?: AlarmLimit } {
  const { limitSide: side, limitValue: value, ...rest } = row;
  return (side === 'low' || side === 'high') && value !== null
    ? { ...(rest as T), limit: { side, value } }
    : (rest as T);
}

/** The limit columns' parameters for an alarm or event (NULL without a limit). */
const limitParams = (limit: AlarmLimit | undefined) => ({
  limitSide: limit?.side ?? null,
  limitValue: limit?.value ?? null,
});

/**
 * Events kept for another attempt while the database cannot take them (a full
 * disk), oldest first; beyond this the oldest are given up: a disk full for
 * that long has lost far more than alarm history.
 */
export const UNRECORDED_LIMIT = 10_000;

type Entry = readonly [AlarmEvent, Alarm];

/**
 * Errors of the database or its disk, which pass: a full disk (SQLITE_FULL),
 * a lock held too long, an I/O error. Any other (a constraint, a bad value) is
 * the events' own and would fail every attempt: kept, they would block every
 * later event.
 */
function passes(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && /^SQLITE_(FULL|BUSY|LOCKED|IOERR|READONLY|CANTOPEN|PROTOCOL)/.test(code);
}

export interface AlarmStoreOptions {
  /** The disk failed to sync recorded events; by default the process fails (a restart recovers from the disk). */
  readonly onSyncFailed?: (err: Error) => void;
  /** A deferred record (see record) failed for another reason than the lock: a full disk keeps its events, any other error drops them. */
  readonly onDeferredFailed?: (err: Error) => void;
}

export class AlarmStore {
  readonly #upsert: Statement;
  readonly #insertEvent: Statement;
  readonly #record: (events: readonly Entry[]) => number[];
  readonly #db: Db;
  readonly #wal: WalSync;
  readonly #onSyncFailed: (err: Error) => void;
  readonly #onDeferredFailed: (err: Error) => void;
  /** The connection's busy timeout, restored after each record (which never waits for the lock). */
  readonly #busyTimeout: number;
  /** Events whose commit failed for a reason that passes (a full disk, a held lock): recorded before the next ones. */
  #unrecorded: Entry[] = [];
  #retry: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(db: Db, options: AlarmStoreOptions = {}) {
    this.#db = db;
    this.#wal = new WalSync(`${db.name}-wal`);
    this.#busyTimeout = db.pragma('busy_timeout', { simple: true }) as number;
    this.#onDeferredFailed = options.onDeferredFailed ?? (() => {});
    this.#onSyncFailed =
      options.onSyncFailed ??
      ((err) =>
        queueMicrotask(() => {
          throw new Error(`the disk failed to sync alarm events: ${err.message}`);
        }));
    this.#upsert = db.prepare(
      `INSERT INTO alarms (id, key, bed, device_id, kind, rule, metric, priority, latching, state, message, value, raised_at,
         escalations, last_escalated_at, acknowledged_by, acknowledged_at, cleared_at, limit_side, limit_value, admission,
         admission_recorded, patient_left)
       VALUES (@id, @key, @bed, @deviceId, @kind, @rule, @metric, @priority, @latching, @state, @message, @value, @raisedAt,
         @escalations, @lastEscalatedAt, @acknowledgedBy, @acknowledgedAt, @clearedAt, @limitSide, @limitValue, @admission,
         1, @left)
       ON CONFLICT (id) DO UPDATE SET priority = excluded.priority, state = excluded.state, message = excluded.message,
         value = excluded.value, escalations = excluded.escalations, last_escalated_at = excluded.last_escalated_at,
         acknowledged_by = excluded.acknowledged_by, acknowledged_at = excluded.acknowledged_at, cleared_at = excluded.cleared_at,
         limit_side = excluded.limit_side, limit_value = excluded.limit_value, patient_left = excluded.patient_left`,
    );
    this.#insertEvent = db.prepare(
      `INSERT INTO alarm_events (alarm_id, phase, ts, bed, device_id, kind, rule, metric, priority, state, message, value, by, escalations,
         limit_side, limit_value)
       VALUES (@alarmId, @phase, @ts, @bed, @deviceId, @kind, @rule, @metric, @priority, @state, @message, @value, @by, @escalations,
         @limitSide, @limitValue)`,
    );
    this.#record = writeTransaction(db, (events: readonly Entry[]) =>
      events.map(([event, alarm]) => {
        this.#upsert.run({
          ...alarm,
          latching: Number(alarm.latching),
          ...limitParams(alarm.limit),
          admission: alarm.admission ?? null,
          left: Number(alarm.left === true),
        });
        return Number(this.#insertEvent.run({ ...event, ...limitParams(event.limit) }).lastInsertRowid);
      }),
    );
  }

  /**
   * Stores events and their alarms' new states in one transaction, numbering
   * each event. The commit reaches the WAL at once and the disk one WAL sync
   * later, started now on the thread pool: the alarm goes out without waiting
   * for a slow disk (500 ms on some SD cards), and is on disk within one sync.
   *
   * The write lock is never waited for: the ingest writer thread holds it
   * through its commits, and through the WAL header's sync when its commit
   * starts the WAL over after a checkpoint (a whole fsync: 500 ms on a slow
   * card). Events that find the lock held are kept, in order, and recorded a
   * few milliseconds later, as soon as it is free: the alarm goes out now, and
   * reaches the store (and the sync and the alarm manager, which read it
   * there) that much later. Closing the store records what is still waiting.
   *
   * Events whose commit failed for another reason that passes (a full disk)
   * are kept too, and recorded first, in order, at the next call: the one that
   * follows the next alarm event (the disk-full alarm clearing, at the
   * latest). An event gets its seq only once committed: a seq from a
   * transaction rolled back would be handed out again. Throws what made the
   * commit fail, except a held lock.
   */
  record(events: readonly Entry[]): void {
    this.#commit(events, false);
  }

  #commit(events: readonly Entry[], waitForLock: boolean): void {
    const db = this.#db;
    const batch = this.#unrecorded.length ? [...this.#unrecorded, ...events] : events;
    if (batch.length === 0) return;
    // synchronous=FULL would fsync here, on the thread that publishes the alarm; the level cannot change inside a transaction.
    const relax = !db.inTransaction && (db.pragma('synchronous', { simple: true }) as number) > 1;
    if (relax) db.pragma('synchronous = NORMAL');
    // Inside a transaction the lock is this connection's already.
    const noWait = !waitForLock && !db.inTransaction;
    if (noWait) db.pragma('busy_timeout = 0');
    let seqs: number[];
    try {
      seqs = this.#record(batch);
    } catch (err) {
      this.#unrecorded = passes(err) ? batch.slice(-UNRECORDED_LIMIT) : [];
      if (!noWait || !lockHeld(err)) throw err;
      this.#retrySoon();
      return;
    } finally {
      if (noWait) db.pragma(`busy_timeout = ${this.#busyTimeout}`);
      if (relax) db.pragma('synchronous = FULL');
    }
    this.#unrecorded = [];
    batch.forEach(([event], i) => (event.seq = seqs[i]));
    // A database in memory (tests) has nothing to sync.
    if (!db.memory) this.#wal.syncSoon(this.#onSyncFailed);
  }

  /** Events waiting for another attempt (their commit failed: a full disk, a held lock). */
  get unrecorded(): number {
    return this.#unrecorded.length;
  }

  #retrySoon(): void {
    if (this.#retry || this.#closed) return;
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      try {
        this.#commit([], false);
      } catch (err) {
        this.#onDeferredFailed(err as Error);
      }
    }, LOCK_RETRY_MS);
    this.#retry.unref();
  }

  /** Records what a held lock deferred, waiting for the lock now, and releases the WAL's descriptor (the database is closing). */
  close(): void {
    if (this.#closed) return;
    clearTimeout(this.#retry);
    this.#retry = undefined;
    try {
      this.#commit([], true);
    } catch (err) {
      this.#onDeferredFailed(err as Error);
    }
    this.#closed = true;
    this.#wal.close();
  }

  /** Alarms that were open when the daemon stopped. */
  open(): Alarm[] {
    const rows = this.#db
      .prepare("SELECT * FROM alarms WHERE state <> 'cleared' ORDER BY raised_at")
      .all() as AlarmRow[];
    return rows.map((r) => ({
      ...withLimit({ limitSide: r.limit_side, limitValue: r.limit_value }),
      id: r.id,
      key: r.key,
      bed: r.bed,
      deviceId: r.device_id,
      kind: r.kind,
      rule: r.rule,
      metric: r.metric,
      priority: r.priority,
      latching: r.latching === 1,
      state: r.state,
      message: r.message,
      value: r.value,
      raisedAt: r.raised_at,
      escalations: r.escalations,
      lastEscalatedAt: r.last_escalated_at,
      acknowledgedBy: r.acknowledged_by,
      acknowledgedAt: r.acknowledged_at,
      clearedAt: r.cleared_at,
      admission: r.admission,
      ...(r.patient_left === 1 && { left: true as const }),
    }));
  }

  /** Lifecycle events, newest first, for the API (alarm history). */
  events(options: { bed?: string; since?: number; limit?: number } = {}): AlarmEvent[] {
    const where: string[] = [];
    const params: unknown[] = [];
    if (options.bed !== undefined) {
      where.push('bed = ?');
      params.push(options.bed);
    }
    if (options.since !== undefined) {
      where.push('ts >= ?');
      params.push(options.since);
    }
    const sql = `SELECT id AS seq, alarm_id AS alarmId, phase, ts, bed, device_id AS deviceId, kind, rule, metric, priority, state, message, value, by, escalations,
                   limit_side AS limitSide, limit_value AS limitValue
                 FROM alarm_events ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`;
    const rows = this.#db.prepare(sql).all(...params, clampLimit(options.limit ?? 200)) as Array<
      AlarmEvent & LimitColumns
    >;
    return rows.map(withLimit);
  }

  /** Last time each declared device was heard from, for the silent-device watch after a restart. */
  lastSeen(): Map<string, number> {
    // Devices no longer in the configuration are not watched: a decommissioned oximeter must not page the ward.
    const rows = this.#db
      .prepare('SELECT device_id, last_seen FROM devices WHERE last_seen IS NOT NULL AND declared = 1')
      .all() as Array<{ device_id: string; last_seen: number }>;
    return new Map(rows.map((r) => [r.device_id, r.last_seen]));
  }
}

/** A page size between 1 and 1000: SQLite reads LIMIT -1 as "no limit", and a huge read would stall ingest. */
export function clampLimit(limit: number): number {
  return Number.isFinite(limit) ? Math.max(1, Math.min(Math.trunc(limit), 1000)) : 200;
}
