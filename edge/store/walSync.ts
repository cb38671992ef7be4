// Makes a commit durable after the write lock is released. A connection with
// synchronous=NORMAL commits into the WAL (the page cache) and releases the
// lock at once; sync() then fdatasync()s the WAL file. Once it returns,
// everything committed before the call is on disk: the guarantee
// synchronous=FULL gives in WAL mode (the WAL is synced at each commit), except
// that other writers need not wait for this connection's fsync to take the lock.
import { closeSync, fdatasyncSync, fstatSync, openSync } from 'node:fs';

export class WalSync {
  readonly #path: string;
  readonly #fdatasync: (fd: number) => void;
  #fd: number | undefined;

  /** `walPath`: the database file's name with `-wal` appended; it exists once the database is in WAL mode. */
  constructor(walPath: string, fdatasync: (fd: number) => void = fdatasyncSync) {
    this.#path = walPath;
    this.#fdatasync = fdatasync;
  }

  /** Blocks until everything committed before the call is on disk; throws if it cannot be. */
  sync(): void {
    this.#fdatasync(this.#file());
  }

  close(): void {
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
  }

  // SQLite keeps the WAL file (the same inode) while a connection is open and
  // deletes it only when the last one closes. Should it be replaced anyway,
  // syncing the old, unlinked inode would prove nothing: reopen it by name.
  #file(): number {
    if (this.#fd !== undefined && fstatSync(this.#fd).nlink > 0) return this.#fd;
    this.close();
    this.#fd = openSync(this.#path, 'r');
    return this.#fd;
  }
}
