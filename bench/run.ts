// `npm run bench`: every benchmark, each against a baseline measured in the
// same run on the same machine. Never part of `npm test`.
import { cpus, totalmem } from 'node:os';
import { runCloudBench } from './cloud.js';
import { runIngestBench } from './ingest.js';

const log = (line: string) => console.log(line);

log(`wardgate benchmarks: ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`);

log('\n== MQTT ingest: acknowledged QoS 1 messages (4 readings, ~200 bytes each), wardgate vs bare aedes');
const ingest = await runIngestBench(log);
log(`daemon RSS ${ingest.daemonRssMiB.toFixed(0)} MiB (peak ${ingest.daemonPeakRssMiB.toFixed(0)} MiB)`);
log(`disk: ${ingest.bytesPerReading.toFixed(1)} bytes per stored reading (${ingest.storedReadings} readings, WAL checkpointed)`);

log('\n== Cloud: Firestore writes per 1,000 readings, function time, cost per bed (against the emulators)');
const cloud = await runCloudBench();
log(JSON.stringify(cloud, null, 2));
