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
import { OutboxNumbering } from '../store/outboxNumbering.js';

interface StreamRows {
  readonly outbox: OutboxStream;
  /** The row id that holds an item number. */
  readonly rowOf: (n: number) => number;
}

const STREAMS: Readonly<Record<SyncStream, StreamRows>> = {
  readings: { outbox: 'obs', rowOf: (n) => Math.floor(n / READING_N_STRIDE) },
  alarms: { outbox: 'alarms', rowOf: (n) => n },
  statuses: { outbox: 'status', rowOf: (n) => n },
  audit: { outbox: 'audit', rowOf: (n) => n },
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
    const numbering = new OutboxNumbering(db);
    const raised: NumberingRaise[] = [];
    for (const [stream, t] of Object.entries(STREAMS) as Array<[SyncStream, StreamRows]>) {
      const cloudRow = t.rowOf(heads[stream]);
      if (cloudRow <= 0) continue;
      const localRow = numbering.highestUsed(t.outbox);
      const movers = numbering.writtenSince(t.outbox, options.planned[t.outbox], cloudRow, options.since);
      if (localRow >= cloudRow && movers.length === 0) continue;
      let next = Math.max(localRow, cloudRow);
      for (const id of movers) numbering.renumber(t.outbox, id, ++next);
      // AUTOINCREMENT numbers the next row above both the highest id and this counter.
      numbering.setCounter(t.outbox, next);
      raised.push({ stream, cloudRow, localRow, raisedTo: next, moved: movers.length });
    }
    return raised;
  })();
}
