// When each bed's last new episode began (alarms/bedPatients.ts), kept so that
// the alarm engine's start can tell which alarms of no admission its last run
// kept at an admission (schema version 12). An episode begins at most once per
// departure: a row per bed, written off the evaluation of the reading that
// began it, and read once at the start.
import type { Statement } from 'better-sqlite3';
import type { BedEpisodes } from '../alarms/bedPatients.js';
import { LOCK_RETRY_MS, lockHeld, writeTransaction, type Db } from './database.js';

export interface EpisodeStoreOptions {
  /** A write failed for another reason than the lock (a full disk): it is given up, and the start treats that episode as unknown. */
  readonly onFailed?: (err: Error) => void;
}

export class EpisodeStore implements BedEpisodes {
  readonly #db: Db;
  readonly #write: (episodes: ReadonlyArray<readonly [string, number]>) => void;
  readonly #all: Statement<[], { bed: string; began_at: number }>;
  readonly #onFailed: (err: Error) => void;
  /** The connection's busy timeout, restored after each write (which never waits for the lock). */
  readonly #busyTimeout: number;
  /** Episodes not written yet, per bed: the latest. */
  readonly #pending = new Map<string, number>();
  #soon: NodeJS.Immediate | undefined;
  #retry: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(db: Db, options: EpisodeStoreOptions = {}) {
    this.#db = db;
    this.#onFailed = options.onFailed ?? (() => {});
    this.#busyTimeout = db.pragma('busy_timeout', { simple: true }) as number;
    const upsert = db.prepare<[string, number]>(
      'INSERT INTO bed_episodes (bed, began_at) VALUES (?, ?) ON CONFLICT (bed) DO UPDATE SET began_at = excluded.began_at',
    );
    this.#write = writeTransaction(db, (episodes: ReadonlyArray<readonly [string, number]>) => {
      for (const [bed, at] of episodes) upsert.run(bed, at);
    });
    this.#all = db.prepare('SELECT bed, began_at FROM bed_episodes');
  }

  /**
   * A new episode began at `bed` at `at`: written once the reading that began
   * it has been evaluated and its alarms are out, never waiting for the write
   * lock (held by the ingest writer, it is tried again moments later) nor for
   * the disk (the WAL reaches it with the next sync, the ingest writer's or
   * the alarms'). A write lost to a crash or a full disk only makes the start
   * treat the episode as unknown, as before the table existed.
   */
  began(bed: string, at: number): void {
    if (this.#closed) return;
    this.#pending.set(bed, at);
    if (this.#soon === undefined && this.#retry === undefined)
      this.#soon = setImmediate(() => this.#flush(false)).unref();
  }

  /** Per bed, when its last new episode began, those not written yet included. */
  last(): Map<string, number> {
    const last = new Map(this.#all.all().map(({ bed, began_at }) => [bed, began_at]));
    for (const [bed, at] of this.#pending) last.set(bed, at);
    return last;
  }

  /** Writes what is still waiting, waiting for the lock now (the database is closing); safe to call twice. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#flush(true);
  }

  #flush(waitForLock: boolean): void {
    clearImmediate(this.#soon);
    clearTimeout(this.#retry);
    this.#soon = undefined;
    this.#retry = undefined;
    if (this.#pending.size === 0) return;
    const db = this.#db;
    const episodes = [...this.#pending];
    // Each level is restored only once it was set: on a closed database (a write deferred past its close)
    // the first pragma throws, and the episode is given up like any failed write, never thrown from a timer.
    let relaxed = false;
    let noWait = false;
    try {
      // As the alarm store does: no fsync on the event loop, and no wait for the ingest writer's lock.
      if (!db.inTransaction && (db.pragma('synchronous', { simple: true }) as number) > 1) {
        db.pragma('synchronous = NORMAL');
        relaxed = true;
      }
      if (!waitForLock && !db.inTransaction) {
        db.pragma('busy_timeout = 0');
        noWait = true;
      }
      this.#write(episodes);
      this.#pending.clear();
    } catch (err) {
      if (noWait && lockHeld(err)) {
        this.#retry = setTimeout(() => this.#flush(false), LOCK_RETRY_MS).unref();
        return;
      }
      this.#pending.clear();
      this.#onFailed(err as Error);
    } finally {
      if (noWait) db.pragma(`busy_timeout = ${this.#busyTimeout}`);
      if (relaxed) db.pragma('synchronous = FULL');
    }
  }
}
