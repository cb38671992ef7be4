// The ingest writer thread's entry point (see ingestWriter.ts).
import { parentPort, workerData } from 'node:worker_threads';
import { fdatasyncSync } from 'node:fs';
import { serveWriter } from './ingestWriter.js';
import { unsafeDurability } from './unsafeDurability.js';

// The power-cut tests' control runs only (unsafeDurability.ts): commits are
// acknowledged without syncing the WAL, so a cut must lose some of them.
const skipSync = unsafeDurability() !== null;

serveWriter(parentPort!, (workerData as { dataDir: string }).dataDir, skipSync ? () => {} : fdatasyncSync);
