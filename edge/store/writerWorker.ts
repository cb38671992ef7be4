// The ingest writer thread's entry point (see ingestWriter.ts).
import { parentPort, workerData } from 'node:worker_threads';
import { serveWriter } from './ingestWriter.js';

serveWriter(parentPort!, (workerData as { dataDir: string }).dataDir);
