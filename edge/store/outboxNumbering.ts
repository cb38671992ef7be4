// The numbers of the outbox's rows, which the sync raises above what the
// cloud holds (sync/numbering.ts): the highest number a stream has used, its
// rows written since a time, a row given a new number, and the AUTOINCREMENT
// counter (sqlite_sequence) that numbers the next row. The caller holds the
// write transaction: a raise is all its streams or none.
import type { Statement } from 'better-sqlite3';
import type { Db } from './database.js';
import { outboxStreams, type OutboxStream } from './outbox.js';
import { writtenAt } from './outboxRows.js';

interface StreamStatements {
  readonly counter: Statement<[string], number>;
  readonly maxId: Statement<[], number | null>;
  readonly writtenSince: Statement<[number, number, number], number>;
  readonly move: Statement<[number, number]>;
}

export class OutboxNumbering {
  readonly #streams: Record<OutboxStream, StreamStatements>;
  readonly #setCounter: Statement<[number, string]>;
  readonly #addCounter: Statement<[string, number]>;

  constructor(db: Db) {
    const counter = db.prepare<[string], number>('SELECT seq FROM sqlite_sequence WHERE name = ?').pluck();
    const of = (stream: OutboxStream): StreamStatements => {
      const table = outboxStreams[stream];
      return {
        counter,
        maxId: db.prepare<[], number | null>(`SELECT max(id) FROM ${table}`).pluck(),
        writtenSince: db
          .prepare<[number, number, number], number>(
            `SELECT id FROM ${table} WHERE id > ? AND id <= ? AND ${writtenAt[stream]} >= ? ORDER BY id`,
          )
          .pluck(),
        move: db.prepare(`UPDATE ${table} SET id = ? WHERE id = ?`),
      };
    };
    this.#streams = { alarms: of('alarms'), obs: of('obs'), status: of('status'), audit: of('audit') };
    this.#setCounter = db.prepare('UPDATE sqlite_sequence SET seq = ? WHERE name = ?');
    this.#addCounter = db.prepare('INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)');
  }

  /** The highest number the stream has used: its counter or its highest row id, whichever is higher (0: none). */
  highestUsed(stream: OutboxStream): number {
    const s = this.#streams[stream];
    return Math.max(s.counter.get(outboxStreams[stream]) ?? 0, s.maxId.get() ?? 0);
  }

  /** The ids in (after, through] of rows the gateway wrote at or after `since` (epoch ms), ascending. */
  writtenSince(stream: OutboxStream, after: number, through: number, since: number): number[] {
    return this.#streams[stream].writtenSince.all(after, through, since);
  }

  /** Gives row `id` the number `to`. */
  renumber(stream: OutboxStream, id: number, to: number): void {
    this.#streams[stream].move.run(to, id);
  }

  /** Sets the counter the stream's next row is numbered above. */
  setCounter(stream: OutboxStream, seq: number): void {
    const table = outboxStreams[stream];
    if (this.#setCounter.run(seq, table).changes === 0) this.#addCounter.run(table, seq);
  }
}
