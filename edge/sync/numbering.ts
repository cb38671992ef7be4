// Outbox numbers must never be used twice for different items: the cloud
// stores an item once by (gateway, stream, n) and skips a number it holds. A
// gateway whose database was restored from an older backup, or wiped, while
// it kept its gateway id, would number new items from a lower point again,
// and the cloud would skip them as already stored. So at start, before the
// first batch, the sync asks the cloud for the highest number it holds per
// stream (verifyRange `heads`) and raises the numbering here above it:
//
// - each outbox table's AUTOINCREMENT counter (sqlite_sequence) is set at or
//   above the cloud's highest row id, so the next row is numbered above it;
// - rows written since the first start that had no answer yet, not yet in any
//   batch, whose numbers the cloud already holds, move above it too (in
//   order). Rows written before that start (a restored backup's) keep their
//   numbers: the cloud holds the same items under them, or holds nothing.
//
// One transaction: either every stream is raised or none is.
import type { SyncStream } from '../../shared/sync/wire.js';
import type { StreamHeads } from '../../shared/sync/verify.js';
import { writeTransaction, type Db } from '../store/database.js';
import { READING_N_STRIDE } from './batchBuilder.js';
import type { OutboxStream } from '../store/outbox.js';

interface StreamTable {
  readonly table: string;
  /** When the gateway wrote the row (its own clock). */
  readonly time: string;
  readonly outbox: OutboxStream;
  /** The row id that holds an item number. */
  readonly rowOf: (n: number) => number;
}

const TABLES: Readonly<Record<SyncStream, StreamTable>> = {
  readings: {
    table: 'observations',
    time: 'received_ts',
    outbox: 'obs',
    rowOf: (n) => Math.floor(n / READING_N_STRIDE),
  },
  alarms: { table: 'alarm_events', time: 'ts', outbox: 'alarms', rowOf: (n) => n },
  statuses: { table: 'device_status', time: 'received_ts', outbox: 'status', rowOf: (n) => n },
  audit: { table: 'audit', time: 'ts', outbox: 'audit', rowOf: (n) => n },
};

export interface NumberingRaise {
  readonly stream: SyncStream;
  /** The highest row id the cloud holds an item of. */
  readonly cloudRow: number;
  /** The highest row id this database had used. */
  readonly localRow: number;
  /** Where the counter stands now: the next row is numbered above it. */
  readonly raisedTo: number;
  /** Rows written since `since`, not yet sent, moved above the cloud's numbers. */
  readonly moved: number;
}

export interface RaiseOptions {
  /** Rows written at or after this time (epoch ms) came after the database was replaced: their numbers may collide. */
  readonly since: number;
  /** Per stream, the highest row id any batch covers: rows at or below it are sent as they are numbered. */
  readonly planned: Readonly<Record<OutboxStream, number>>;
}

/** Raises each stream's numbering above the cloud's heads where it lies below; returns what was raised (nothing when the database is where it should be). */
export function raiseNumbering(db: Db, heads: StreamHeads, options: RaiseOptions): NumberingRaise[] {
  return writeTransaction(db, () => {
    const raised: NumberingRaise[] = [];
    for (const [stream, t] of Object.entries(TABLES) as Array<[SyncStream, StreamTable]>) {
      const cloudRow = t.rowOf(heads[stream]);
      if (cloudRow <= 0) continue;
      const seq =
        (db.prepare('SELECT seq FROM sqlite_sequence WHERE name = ?').pluck().get(t.table) as number | undefined) ?? 0;
      const maxId = (db.prepare(`SELECT max(id) FROM ${t.table}`).pluck().get() as number | null) ?? 0;
      const localRow = Math.max(seq, maxId);
      const movers = db
        .prepare(`SELECT id FROM ${t.table} WHERE id > ? AND id <= ? AND ${t.time} >= ? ORDER BY id`)
        .pluck()
        .all(options.planned[t.outbox], cloudRow, options.since) as number[];
      if (localRow >= cloudRow && movers.length === 0) continue;
      let next = Math.max(localRow, cloudRow);
      const move = db.prepare(`UPDATE ${t.table} SET id = ? WHERE id = ?`);
      for (const id of movers) move.run(++next, id);
      // AUTOINCREMENT numbers the next row above both the highest id and this counter.
      if (db.prepare('UPDATE sqlite_sequence SET seq = ? WHERE name = ?').run(next, t.table).changes === 0) {
        db.prepare('INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)').run(t.table, next);
      }
      raised.push({ stream, cloudRow, localRow, raisedTo: next, moved: movers.length });
    }
    return raised;
  })();
}
