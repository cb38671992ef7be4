// Makes a commit durable after the write lock is released. A connection with
// synchronous=NORMAL commits into the WAL (the page cache) and releases the
// lock at once; sync() then fdatasync()s the WAL file. Once it returns,
// everything committed before the call is on disk: the guarantee
// synchronous=FULL gives in WAL mode (the WAL is synced at each commit), except
// that other writers need not wait for this connection's fsync to take the lock.
import { closeSync, fdatasync, fdatasyncSync, fstatSync, openSync } from 'node:fs';

export class WalSync {
  readonly #path: string;
  readonly #fdatasync: (fd: number) => void;
  #fd: number | undefined;
  #syncing = false;
  #again = false;
  #closed = false;

  /** `walPath`: the database file's name with `-wal` appended; it exists once the database is in WAL mode. */
  constructor(walPath: string, fdatasync: (fd: number) => void = fdatasyncSync) {
    this.#path = walPath;
    this.#fdatasync = fdatasync;
  }

  /** Blocks until everything committed before the call is on disk; throws if it cannot be. */
  sync(): void {
    this.#fdatasync(this.#file());
  }

  /**
   * Syncs on the thread pool, never blocking this thread: everything committed
   * before the call is on disk once a sync started after it has finished. A
   * call while one runs asks for one more after it. `onFailed` hears of a sync
   * that failed (nothing after it can be trusted).
   */
  syncSoon(onFailed: (err: Error) => void): void {
    if (this.#closed) return;
    if (this.#syncing) {
      this.#again = true;
      return;
    }
    let fd: number;
    try {
      fd = this.#file();
    } catch (err) {
      return onFailed(err as Error);
    }
    this.#syncing = true;
    fdatasync(fd, (err) => {
      this.#syncing = false;
      // Let go while this sync ran (closed, or reopened by name): the descriptor is this callback's to close.
      if (fd !== this.#fd) closeQuietly(fd);
      if (this.#closed) return;
      if (err) return onFailed(err);
      if (this.#again) {
        this.#again = false;
        this.syncSoon(onFailed);
      }
    });
  }

  close(): void {
    this.#closed = true;
    this.#release();
  }

  /** Lets the descriptor go without closing the syncer (a reopen by name follows). */
  #release(): void {
    // A background sync still running keeps the descriptor; its callback closes it.
    if (this.#fd !== undefined && !this.#syncing) closeSync(this.#fd);
    this.#fd = undefined;
  }

  // SQLite keeps the WAL file (the same inode) while a connection is open and
  // deletes it only when the last one closes. Should it be replaced anyway,
  // syncing the old, unlinked inode would prove nothing: reopen it by name.
  #file(): number {
    if (this.#fd !== undefined && fstatSync(this.#fd).nlink > 0) return this.#fd;
    this.#release();
    this.#fd = openSync(this.#path, 'r');
    return this.#fd;
  }
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // Already gone: nothing is left to release.
  }
}
