// What the ingest writer thread does (writerWorker.ts starts it): owns a
// connection of its own and commits the groups the broker thread sends it.
// The connection commits with synchronous=NORMAL, then WalSync (walSync.ts)
// fsyncs the WAL before the group is answered: a group is reported only once it
// is on disk, as with synchronous=FULL, but the write lock is released before
// the fsync, so the gateway's other writers (alarm events above all) never wait
// for the disk on the ingest's behalf. This thread may block; the broker's never
// does. See writerThread.ts for the other side.
import { fdatasyncSync } from 'node:fs';
import { join } from 'node:path';
import type { MessagePort } from 'node:worker_threads';
import { DB_FILE, openDatabase } from './database.js';
import { IngestStore } from './ingestStore.js';
import { unsafeDurability } from './unsafeDurability.js';
import { WalSync } from './walSync.js';
import { fromWire, type WriterReply, type WriterRequest } from './writerThread.js';

export function serveWriter(port: MessagePort, dataDir: string, fdatasync: (fd: number) => void = fdatasyncSync): void {
  const db = openDatabase(dataDir);
  db.pragma(unsafeDurability() === 'off' ? 'synchronous = OFF' : 'synchronous = NORMAL');
  // The backstop checkpoint runs here, off the event loop (see database.ts).
  db.pragma('wal_autocheckpoint = 1000');
  const store = new IngestStore(db);
  const wal = new WalSync(join(dataDir, `${DB_FILE}-wal`), fdatasync);
  const close = () => {
    wal.close();
    db.close();
    port.close();
  };

  port.on('message', (request: WriterRequest) => {
    if (request.close) return close();
    if (request.checkpoint) return checkpoint(request.id);
    let results;
    try {
      results = store.commitRows(request.items.map(fromWire));
    } catch (err) {
      // An I/O error (EIO from a failing card) leaves nothing on this disk to trust,
      // as a failed sync does: stop. A full disk (SQLITE_FULL) is not one: the
      // group is refused and the next may fit once space returns.
      const fatal = String((err as { code?: unknown }).code).startsWith('SQLITE_IOERR');
      const code = (err as { code?: unknown }).code;
      port.postMessage({
        id: request.id,
        error: fatal ? `the disk failed a write: ${(err as Error).message}` : (err as Error).message,
        ...(fatal && { fatal }),
        ...(typeof code === 'string' && { code }),
      } satisfies WriterReply);
      if (fatal) close();
      return;
    }
    try {
      wal.sync();
    } catch (err) {
      // Committed, but the disk did not confirm it. After a failed fsync Linux may
      // drop the dirty pages and report the next one clean, so no later sync can
      // be trusted either: refuse this group and stop; the gateway exits and its
      // restart recovers from what the disk really holds.
      port.postMessage({
        id: request.id,
        error: `the disk failed to sync the database: ${(err as Error).message}`,
        fatal: true,
      } satisfies WriterReply);
      close();
      return;
    }
    port.postMessage({ id: request.id, results } satisfies WriterReply);
  });
  port.postMessage({ ready: true } satisfies WriterReply);

  // The scheduled checkpoint (TRUNCATE: the WAL emptied). The next commit after
  // it starts the WAL over, and SQLite syncs the new WAL header first, holding
  // the write lock: a whole fsync. Made here at once, by a commit that changes
  // nothing (page 1 rewritten as it is), so that it is never the commit of an
  // alarm event on the gateway's connection, on the event loop.
  function checkpoint(id: number): void {
    try {
      db.pragma('wal_checkpoint(TRUNCATE)');
      db.pragma(`user_version = ${db.pragma('user_version', { simple: true }) as number}`);
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      port.postMessage({
        id,
        error: (err as Error).message,
        ...(typeof code === 'string' && { code }),
      } satisfies WriterReply);
      return;
    }
    port.postMessage({ id, results: [] } satisfies WriterReply);
  }
}
