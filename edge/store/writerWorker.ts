// The ingest writer thread: owns a connection of its own and commits the
// groups the broker thread sends it (synchronous=FULL: the commit returns once
// the WAL is on disk). Running here, the fsync and the row inserts leave the
// event loop that serves MQTT free. See writerThread.ts for the other side.
import { parentPort, workerData } from 'node:worker_threads';
import { openDatabase } from './database.js';
import { IngestStore } from './ingestStore.js';
import { fromWire, type WriterReply, type WriterRequest } from './writerThread.js';

const port = parentPort!;
const db = openDatabase((workerData as { dataDir: string }).dataDir);
const store = new IngestStore(db);

port.on('message', (request: WriterRequest) => {
  if (request.close) {
    db.close();
    port.close();
    return;
  }
  let reply: WriterReply;
  try {
    reply = { id: request.id, results: store.commitRows(request.items.map(fromWire)) };
  } catch (err) {
    reply = { id: request.id, error: (err as Error).message };
  }
  port.postMessage(reply);
});
port.postMessage({ ready: true } satisfies WriterReply);
