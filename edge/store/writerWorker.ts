// The ingest writer thread: owns a connection of its own and commits the
// groups the broker thread sends it. The connection commits with
// synchronous=NORMAL, then WalSync (walSync.ts) fsyncs the WAL before the
// group is answered: a group is reported only once it is on disk, as with
// synchronous=FULL, but the write lock is released before the fsync, so the
// gateway's other writers (alarm events above all) never wait for the disk on
// the ingest's behalf. This thread may block; the broker's never does. See
// writerThread.ts for the other side.
import { join } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { DB_FILE, openDatabase } from './database.js';
import { IngestStore } from './ingestStore.js';
import { WalSync } from './walSync.js';
import { fromWire, type WriterReply, type WriterRequest } from './writerThread.js';

const port = parentPort!;
const { dataDir } = workerData as { dataDir: string };
const db = openDatabase(dataDir);
db.pragma('synchronous = NORMAL');
const store = new IngestStore(db);
const wal = new WalSync(join(dataDir, `${DB_FILE}-wal`));

port.on('message', (request: WriterRequest) => {
  if (request.close) {
    wal.close();
    db.close();
    port.close();
    return;
  }
  let reply: WriterReply;
  try {
    const results = store.commitRows(request.items.map(fromWire));
    reply = { id: request.id, results };
    try {
      wal.sync();
    } catch (err) {
      // Committed but not known to be on disk: no acknowledgement. A device that
      // sends it again is told 'duplicate' once it is there.
      reply = { id: request.id, error: `the commit could not be synced to disk: ${(err as Error).message}` };
    }
  } catch (err) {
    reply = { id: request.id, error: (err as Error).message };
  }
  port.postMessage(reply);
});
port.postMessage({ ready: true } satisfies WriterReply);
