// Opens the gateway's SQLite file: WAL, synchronous=FULL (a commit is on disk
// before anyone is told it happened; the ingest writer thread syncs its own
// commits after releasing the lock, see writerWorker.ts), and the schema
// migrated to the latest version.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { migrations } from './migrations.js';
import { unsafeDurability } from './unsafeDurability.js';

export type Db = Database.Database;

export const DB_FILE = 'wardgate.db';

export function openDatabase(dataDir: string): Db {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const db = new Database(join(dataDir, DB_FILE));
  db.pragma('journal_mode = WAL');
  // OFF only in the power-cut tests' control run, which must lose data (unsafeDurability.ts).
  db.pragma(unsafeDurability() === 'off' ? 'synchronous = OFF' : 'synchronous = FULL');
  db.pragma('foreign_keys = ON');
  // Checkpoints are scheduled work. No auto-checkpoint on this connection: it
  // would run (two fsyncs) inside whichever commit crosses the threshold, on the
  // event loop that raises alarms. The ingest writer's connection keeps SQLite's
  // default auto-checkpoint as the backstop, on its own thread (ingestWriter.ts).
  db.pragma('wal_autocheckpoint = 0');
  db.pragma('busy_timeout = 5000');
  migrate(db);
  return db;
}

/** Opens an existing database for reading only (`wardgate status` beside a running daemon). */
export function openDatabaseReadOnly(dataDir: string): Db {
  const db = new Database(join(dataDir, DB_FILE), { readonly: true, fileMustExist: true });
  db.pragma('busy_timeout = 5000');
  return db;
}

/**
 * A transaction that takes the write lock at BEGIN (BEGIN IMMEDIATE), waiting
 * for it under the busy timeout. Two connections write to the database: the
 * gateway's and the ingest writer thread's. A deferred transaction that reads
 * first and writes later fails at once with SQLITE_BUSY_SNAPSHOT when the
 * other connection commits in between: SQLite cannot retry it, because what
 * it read may have changed. Every write transaction in the gateway is made
 * here. Called inside another transaction, it is a savepoint.
 */
export function writeTransaction<A extends unknown[], R>(db: Db, fn: (...args: A) => R): (...args: A) => R {
  const transaction = db.transaction(fn);
  return (...args: A) => transaction.immediate(...args);
}

/**
 * The write lock is held by the other connection (the ingest writer thread,
 * a checkpoint). A write on the event loop that must not wait for it (the
 * alarm and episode stores, with busy_timeout 0) fails with this, and is
 * tried again LOCK_RETRY_MS later.
 */
export function lockHeld(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && code.startsWith('SQLITE_BUSY');
}

/** How soon a write that found the lock held is tried again (ms). */
export const LOCK_RETRY_MS = 5;

/**
 * Folds the WAL back into the database and empties it (the checkpoint job,
 * and the close at stop). Scheduled, never automatic on this connection: see
 * openDatabase.
 */
export function checkpointWal(db: Db): void {
  db.pragma('wal_checkpoint(TRUNCATE)');
}

/** Whether the database has the table (a file an older wardgate wrote may lack the newer ones). */
export function hasTable(db: Db, name: string): boolean {
  return db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(name) !== undefined;
}

export function schemaVersion(db: Db): number {
  return db.pragma('user_version', { simple: true }) as number;
}

function migrate(db: Db): void {
  const current = schemaVersion(db);
  if (current > migrations.length) {
    throw new Error(
      `database schema version ${current} is newer than this wardgate (${migrations.length}); upgrade wardgate`,
    );
  }
  for (let version = current; version < migrations.length; version++) {
    writeTransaction(db, () => {
      db.exec(migrations[version]);
      db.pragma(`user_version = ${version + 1}`);
    })();
  }
}
