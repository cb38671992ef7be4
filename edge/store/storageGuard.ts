// The disk side of store-and-forward: a quota for the database, a high-water
// alarm, retention of synced data, and a documented policy at the hard limit
// (docs/SYNC.md). Unsynced data is never dropped silently: every drop is
// counted, written to the audit trail and raised as a technical alarm, and
// alarm events are the last to go.
import type { TechnicalAlarms } from '../sync/technicalAlarms.js';
import type { StorageConfig } from './config.js';
import { writeTransaction, type Db } from './database.js';
import { outboxStreams } from './outbox.js';

const DAY_MS = 86_400_000;
const DROPPED_LABEL = {
  observations: 'readings',
  device_status: 'status reports',
  alarm_events: 'alarm events',
} as const;
/** Rows deleted per transaction, so that a large purge never holds up the ingest path for long. */
const CHUNK = 5000;
/** The first drop at the hard limit: unsynced rows go in steps that start this small. */
const FIRST_STEP = 64;

export interface StorageUse {
  readonly usedBytes: number;
  readonly quotaBytes: number;
  readonly percent: number;
}

/** Bytes the database holds: pages in use (free pages are reused, not returned to the disk) plus the WAL. */
export function storageUse(db: Db, quotaBytes: number): StorageUse {
  const page = db.pragma('page_size', { simple: true }) as number;
  const pages = db.pragma('page_count', { simple: true }) as number;
  const free = db.pragma('freelist_count', { simple: true }) as number;
  const wal = db.pragma('wal_checkpoint(PASSIVE)') as Array<{ log: number }>;
  const usedBytes = (pages - free) * page + Math.max(0, wal[0]?.log ?? 0) * page;
  return { usedBytes, quotaBytes, percent: (usedBytes / quotaBytes) * 100 };
}

export class StorageGuard {
  readonly #db: Db;
  readonly #config: StorageConfig;
  readonly #alarms: TechnicalAlarms | undefined;
  readonly #now: () => number;
  #full = false;

  constructor(db: Db, config: StorageConfig, alarms?: TechnicalAlarms, now: () => number = Date.now) {
    this.#db = db;
    this.#config = config;
    this.#alarms = alarms;
    this.#now = now;
  }

  /** Whether new readings may be committed: false only at the hard limit under 'refuse-new'. */
  admitsReadings(): boolean {
    return !(this.#full && this.#config.onHardLimit === 'refuse-new');
  }

  /** The storage job: measure, alarm at the high-water mark, act at the quota. */
  check(): StorageUse & { dropped: Record<string, number> } {
    const db = this.#db;
    const { quotaBytes, highWaterPercent } = this.#config;
    let use = storageUse(db, quotaBytes);
    const dropped: Record<string, number> = {};
    this.#full = use.usedBytes >= quotaBytes;
    if (this.#full && this.#config.onHardLimit === 'drop-oldest') {
      Object.assign(dropped, this.#makeRoom(Math.ceil(quotaBytes * (highWaterPercent / 100))));
      use = storageUse(db, quotaBytes);
      this.#full = use.usedBytes >= quotaBytes;
    }
    const droppedTotal = Object.values(dropped).reduce((a, b) => a + b, 0);
    if (use.percent >= highWaterPercent || droppedTotal > 0) {
      const lost =
        droppedTotal > 0
          ? `; ${Object.entries(dropped)
              .map(([k, n]) => `${n} ${k}`)
              .join(', ')} not yet synced were dropped`
          : '';
      this.#alarms?.set('storage:high-water', {
        rule: 'buffer-filling',
        priority: droppedTotal > 0 || this.#full ? 'high' : 'medium',
        value: Math.round(use.percent),
        message: `Buffer ${Math.round(use.percent)} % of its quota${this.#full ? ` (hard limit: ${this.#config.onHardLimit})` : ''}${lost}`,
      });
    } else {
      this.#alarms?.set('storage:high-water', null);
    }
    return { ...use, dropped };
  }

  /**
   * Retention: synced rows older than storage.retentionDays: rows at or below
   * their stream's cursor, and rows of batches the cloud confirmed above it
   * (a quarantined batch holds the cursor back, but not what was confirmed after it).
   * Never a row inside a batch not yet confirmed: a repair re-sends rows below
   * the cursor (verifier.ts), and a batch is rebuilt from its rows at every attempt.
   */
  purgeSynced(olderThan = this.#now() - this.#config.retentionDays * DAY_MS): Record<string, number> {
    const purged: Record<string, number> = {};
    for (const [table, tsColumn] of [
      ['observations', 'received_ts'],
      ['device_status', 'received_ts'],
      ['alarm_events', 'ts'],
    ] as const) {
      const stream = Object.entries(outboxStreams).find(([, t]) => t === table)![0];
      const unsent = `NOT EXISTS (SELECT 1 FROM sync_batches b WHERE b.state != 'acked' AND r.id > b.${stream}_after AND r.id <= b.${stream}_through)`;
      purged[table] = this.#deleteChunks(
        `DELETE FROM ${table} WHERE id IN (SELECT r.id FROM ${table} r WHERE r.id <= (SELECT synced_through FROM outbox_cursors WHERE stream = '${table}') AND r.${tsColumn} < ? AND ${unsent} ORDER BY r.id LIMIT ${CHUNK})`,
        [olderThan],
      );
      const acked = this.#db
        .prepare(
          `SELECT ${stream}_after AS after, ${stream}_through AS through FROM sync_batches WHERE state = 'acked' AND ${stream}_through > ${stream}_after`,
        )
        .all() as Array<{ after: number; through: number }>;
      for (const { after, through } of acked) {
        purged[table] += this.#deleteChunks(
          `DELETE FROM ${table} WHERE id IN (SELECT r.id FROM ${table} r WHERE r.id > ? AND r.id <= ? AND r.${tsColumn} < ? AND ${unsent} ORDER BY r.id LIMIT ${CHUNK})`,
          [after, through, olderThan],
        );
      }
    }
    return purged;
  }

  /** At the quota: synced data of any age first, then unsynced rows not yet in any batch, oldest first, alarm events last. */
  #makeRoom(targetBytes: number): Record<string, number> {
    const db = this.#db;
    this.purgeSynced(Infinity);
    const dropped: Record<string, number> = {};
    const fits = () => storageUse(db, this.#config.quotaBytes).usedBytes < targetBytes;
    for (const table of ['device_status', 'observations', 'alarm_events'] as const) {
      // Rows in a planned batch are being sent; dropping them would break the batch's count. Only rows above every batch go.
      const stream = Object.entries(outboxStreams).find(([, t]) => t === table)![0] as keyof typeof outboxStreams;
      const col = `${stream}_through`;
      // Small steps first, growing: no more is dropped than it takes to get back under the mark, give or take one step.
      let step = FIRST_STEP;
      while (!fits()) {
        const floor = db
          .prepare(
            `SELECT max(coalesce((SELECT max(${col}) FROM sync_batches), 0), (SELECT synced_through FROM outbox_cursors WHERE stream = ?))`,
          )
          .pluck()
          .get(table) as number;
        // Never more than a quarter of what is left at once: freed rows free pages unevenly (indexes), so the measure lags.
        const left = ((db.prepare(`SELECT max(id) FROM ${table}`).pluck().get() as number | null) ?? floor) - floor;
        const n = writeTransaction(db, () =>
          this.#dropUnsynced(table, floor, Math.max(FIRST_STEP, Math.min(step, Math.ceil(left / 4)))),
        )();
        step = Math.min(CHUNK, step * 2);
        if (n === 0) break;
        dropped[DROPPED_LABEL[table]] = (dropped[DROPPED_LABEL[table]] ?? 0) + n;
        // Free pages are reused, but the WAL must be folded back for the measure to fall.
        db.pragma('wal_checkpoint(TRUNCATE)');
      }
    }
    return dropped;
  }

  /** Drops the oldest `rows` unsynced rows above `floor`; returns how many readings (or rows) went. In one transaction with its audit entry. */
  #dropUnsynced(table: 'observations' | 'device_status' | 'alarm_events', floor: number, rows: number): number {
    const db = this.#db;
    const ids = db
      .prepare(`SELECT id FROM ${table} WHERE id > ? ORDER BY id LIMIT ?`)
      .pluck()
      .all(floor, rows) as number[];
    if (ids.length === 0) return 0;
    const first = ids[0];
    const last = ids[ids.length - 1];
    let count = ids.length;
    if (table === 'observations') {
      count = db
        .prepare('SELECT coalesce(sum(json_array_length(readings)), 0) FROM observations WHERE id BETWEEN ? AND ?')
        .pluck()
        .get(first, last) as number;
      db.prepare("UPDATE counters SET value = max(0, value - ?) WHERE name = 'readings_unsynced'").run(count);
      db.prepare(
        "INSERT INTO counters (name, value) VALUES ('readings_dropped', ?) ON CONFLICT (name) DO UPDATE SET value = value + excluded.value",
      ).run(count);
    }
    db.prepare(`DELETE FROM ${table} WHERE id BETWEEN ? AND ?`).run(first, last);
    db.prepare('INSERT INTO audit (ts, actor, action, target, detail) VALUES (?, ?, ?, ?, ?)').run(
      this.#now(),
      'wardgate',
      'storage.drop-unsynced',
      table,
      JSON.stringify({ fromId: first, throughId: last, count, quotaBytes: this.#config.quotaBytes }),
    );
    return count;
  }

  #deleteChunks(sql: string, params: unknown[]): number {
    const db = this.#db;
    const stmt = db.prepare(sql);
    let total = 0;
    for (;;) {
      const { changes } = stmt.run(...params);
      total += changes;
      if (changes < CHUNK) return total;
    }
  }
}
