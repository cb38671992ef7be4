// The real ingest writer on a disk whose fsync fails (EIO), as a failing SD
// card or a lost network volume answers.
import { parentPort, workerData } from 'node:worker_threads';
import { serveWriter } from '../../edge/store/ingestWriter.js';

serveWriter(parentPort!, (workerData as { dataDir: string }).dataDir, () => {
  throw Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
});
