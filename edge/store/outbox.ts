// The outbox the sync sends from, in SQL: what is waiting above each stream's
// cursor, the batches planned over it, and the bookkeeping that turns an
// acknowledgement into an advanced cursor. Every state change is one
// transaction, so a kill -9 at any point leaves either the old or the new state.
import type { Statement } from 'better-sqlite3';
import { writeTransaction, type Db } from './database.js';

/** The four outbox streams the wire carries, by their cursor name in outbox_cursors. */
export const outboxStreams = {
  alarms: 'alarm_events',
  obs: 'observations',
  status: 'device_status',
  audit: 'audit',
} as const;
export type OutboxStream = keyof typeof outboxStreams;
const STREAMS = Object.keys(outboxStreams) as OutboxStream[];

/** Per stream, the ids (after, through] a batch covers; after = through means none. */
export type Ranges = Record<OutboxStream, { after: number; through: number }>;

export type BatchState = 'inflight' | 'acked' | 'quarantined';

export interface BatchRow {
  readonly id: string;
  readonly state: BatchState;
  readonly ranges: Ranges;
  readonly items: number;
  readonly readings: number;
  readonly plannedAt: number;
  readonly attempts: number;
  readonly httpStatus: number | null;
  readonly errorCode: string | null;
  readonly reason: string | null;
  readonly quarantinedAt: number | null;
}

interface RawBatchRow {
  id: string;
  state: BatchState;
  alarms_after: number;
  alarms_through: number;
  obs_after: number;
  obs_through: number;
  status_after: number;
  status_through: number;
  audit_after: number;
  audit_through: number;
  items: number;
  readings: number;
  planned_at: number;
  attempts: number;
  http_status: number | null;
  error_code: string | null;
  reason: string | null;
  quarantined_at: number | null;
}

const toRow = (r: RawBatchRow): BatchRow => ({
  id: r.id,
  state: r.state,
  items: r.items,
  readings: r.readings,
  plannedAt: r.planned_at,
  attempts: r.attempts,
  httpStatus: r.http_status,
  errorCode: r.error_code,
  reason: r.reason,
  quarantinedAt: r.quarantined_at,
  ranges: {
    alarms: { after: r.alarms_after, through: r.alarms_through },
    obs: { after: r.obs_after, through: r.obs_through },
    status: { after: r.status_after, through: r.status_through },
    audit: { after: r.audit_after, through: r.audit_through },
  },
});

export class Outbox {
  readonly #db: Db;
  readonly #insert: Statement;
  readonly #ack: (id: string, now: number) => boolean;
  readonly #setState: Statement;

  constructor(db: Db) {
    this.#db = db;
    this.#insert = db.prepare(
      `INSERT INTO sync_batches (id, state, alarms_after, alarms_through, obs_after, obs_through, status_after, status_through, audit_after, audit_through, items, readings, planned_at)
       VALUES (?, 'inflight', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.#setState = db.prepare(
      'INSERT INTO sync_state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
    );
    this.#ack = writeTransaction(db, (id: string, now: number) => this.#applyAck(id, now));
  }

  /** Each stream's cursor: everything at or below it is confirmed by the cloud. */
  cursors(): Record<OutboxStream, number> {
    const rows = this.#db.prepare('SELECT stream, synced_through FROM outbox_cursors').all() as Array<{
      stream: string;
      synced_through: number;
    }>;
    const byName = new Map(rows.map((r) => [r.stream, r.synced_through]));
    return {
      alarms: byName.get(outboxStreams.alarms) ?? 0,
      obs: byName.get(outboxStreams.obs) ?? 0,
      status: byName.get(outboxStreams.status) ?? 0,
      audit: byName.get(outboxStreams.audit) ?? 0,
    };
  }

  /** Per stream, the highest id any batch covers (or the cursor): the next batch starts above it. */
  plannedThrough(): Record<OutboxStream, number> {
    const cursors = this.cursors();
    const max = this.#db
      .prepare(
        'SELECT max(alarms_through) AS alarms, max(obs_through) AS obs, max(status_through) AS status, max(audit_through) AS audit FROM sync_batches',
      )
      .get() as Record<OutboxStream, number | null>;
    return Object.fromEntries(STREAMS.map((s) => [s, Math.max(cursors[s], max[s] ?? 0)])) as Record<
      OutboxStream,
      number
    >;
  }

  /** Writes a planned batch before its first attempt: from now on a retry, even after a crash, sends these same items. */
  record(id: string, ranges: Ranges, items: number, readings: number, now: number): void {
    const { alarms, obs, status, audit } = ranges;
    this.#insert.run(
      id,
      alarms.after,
      alarms.through,
      obs.after,
      obs.through,
      status.after,
      status.through,
      audit.after,
      audit.through,
      items,
      readings,
      now,
    );
  }

  batches(state?: BatchState): BatchRow[] {
    const sql = `SELECT * FROM sync_batches ${state ? 'WHERE state = ?' : ''} ORDER BY obs_after, alarms_after, status_after`;
    const rows = (state ? this.#db.prepare(sql).all(state) : this.#db.prepare(sql).all()) as RawBatchRow[];
    return rows.map(toRow);
  }

  attempted(id: string, now: number): void {
    this.#db.prepare('UPDATE sync_batches SET attempts = attempts + 1, last_attempt_at = ? WHERE id = ?').run(now, id);
  }

  /**
   * The cloud confirmed the batch: mark it, count its readings as synced, and
   * advance each cursor over the contiguous run of confirmed batches. False
   * when the batch was not in flight (already confirmed): nothing is counted twice.
   */
  acknowledge(id: string, now: number): boolean {
    return this.#ack(id, now);
  }

  /** A 4xx (or a batch that could never be valid): kept, with the reason, until an operator retries it. */
  quarantine(id: string, httpStatus: number | null, code: string, reason: string, now: number): void {
    this.#db
      .prepare(
        "UPDATE sync_batches SET state = 'quarantined', http_status = ?, error_code = ?, reason = ?, quarantined_at = ? WHERE id = ? AND state = 'inflight'",
      )
      .run(httpStatus, code, reason.slice(0, 1000), now, id);
  }

  /** `wardgate sync --retry-quarantined`: quarantined batches go back in flight, and a pause on auth errors is lifted. */
  retryQuarantined(): number {
    return writeTransaction(this.#db, () => {
      const { changes } = this.#db
        .prepare(
          "UPDATE sync_batches SET state = 'inflight', attempts = 0, http_status = NULL, error_code = NULL, reason = NULL, quarantined_at = NULL WHERE state = 'quarantined'",
        )
        .run();
      this.#db.prepare("DELETE FROM sync_state WHERE key = 'paused'").run();
      return changes;
    })();
  }

  state(key: string): string | undefined {
    return (this.#db.prepare('SELECT value FROM sync_state WHERE key = ?').get(key) as { value: string } | undefined)
      ?.value;
  }

  setState(key: string, value: string | number): void {
    this.#setState.run(key, String(value));
  }

  clearState(key: string): void {
    this.#db.prepare('DELETE FROM sync_state WHERE key = ?').run(key);
  }

  #applyAck(id: string, now: number): boolean {
    const batch = this.#db
      .prepare(
        "UPDATE sync_batches SET state = 'acked', acked_at = ? WHERE id = ? AND state = 'inflight' RETURNING readings",
      )
      .get(now, id) as { readings: number } | undefined;
    if (!batch) return false;
    if (batch.readings)
      this.#db
        .prepare("UPDATE counters SET value = max(0, value - ?) WHERE name = 'readings_unsynced'")
        .run(batch.readings);
    const acked = this.batches('acked');
    const cursors = this.cursors();
    for (const stream of STREAMS) {
      // Ranges of one stream are disjoint and planned in order: follow the chain from the cursor.
      const next = new Map(
        acked
          .filter((b) => b.ranges[stream].through > b.ranges[stream].after)
          .map((b) => [b.ranges[stream].after, b.ranges[stream].through]),
      );
      let cursor = cursors[stream];
      for (let through = next.get(cursor); through !== undefined; through = next.get(cursor)) cursor = through;
      if (cursor !== cursors[stream]) {
        this.#db
          .prepare('UPDATE outbox_cursors SET synced_through = ? WHERE stream = ?')
          .run(cursor, outboxStreams[stream]);
        cursors[stream] = cursor;
      }
    }
    // A confirmed batch whose every range lies at or below the cursors has nothing left to tell.
    for (const b of acked) {
      if (STREAMS.every((s) => b.ranges[s].through <= cursors[s]))
        this.#db.prepare('DELETE FROM sync_batches WHERE id = ?').run(b.id);
    }
    this.#setState.run('last_success_ts', String(now));
    return true;
  }
}
