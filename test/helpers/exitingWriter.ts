// A writer thread that says it is ready, then dies at its first group: how the
// gateway copes with a writer that crashes.
import { parentPort } from 'node:worker_threads';

parentPort!.postMessage({ ready: true });
parentPort!.on('message', () => process.exit(3));
