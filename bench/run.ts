// `npm run bench`: every benchmark, each against a baseline measured in the
// same run on the same machine. Never part of `npm test`.
import { cpus, totalmem } from 'node:os';
import { runAlarmBench } from './alarms.js';
import { runCloudBench } from './cloud.js';
import { runCloudRealTimeBench } from './cloudRealTime.js';
import { runDashboardBench } from './dashboard.js';
import { runFloorBench } from './floor.js';
import { runIngestBench } from './ingest.js';
import { runScenarioBench } from './scenarios.js';
import { runSerialHl7Bench } from './serialHl7.js';
import { runStormBench } from './storm.js';
import { runSyncBench } from './sync.js';

const log = (line: string) => console.log(line);

log(
  `wardgate benchmarks: ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`,
);

log('\n== MQTT ingest: acknowledged QoS 1 messages (4 readings, ~200 bytes each), wardgate vs bare aedes');
const ingest = await runIngestBench(log);
log(`daemon RSS ${ingest.daemonRssMiB.toFixed(0)} MiB (peak ${ingest.daemonPeakRssMiB.toFixed(0)} MiB)`);
log(
  `disk: ${ingest.bytesPerReading.toFixed(1)} bytes per stored reading (${ingest.storedReadings} readings, WAL checkpointed)`,
);

log('\n== Reconnect storm: every device connects at once after a start; time until all stream, wardgate vs bare aedes');
await runStormBench(log);

log(
  '\n== A floor at steady state: 30, 300 and 1,000 beds, 8 metrics at 1 Hz each; daemon CPU, RSS, PUBACK and alarm latency, bare aedes CPU beside',
);
await runFloorBench(log);

log('\n== Cloud: Firestore writes per 1,000 readings, function time, cost per bed (against the emulators)');
const cloud = await runCloudBench();
log(JSON.stringify(cloud, null, 2));

log('\n== Cloud at real rates: batches as the edge forms them for 8 and 30 beds, beside the former 5-second age bound');
log(JSON.stringify(await runCloudRealTimeBench(log), null, 2));

log('\n== Alarms: publish-to-alarm latency through the daemon, and alarms per 1,000 readings on a noisy ward');
await runAlarmBench(log);

log('\n== Serial and HL7: lines committed and messages acknowledged per second, beside the bare parse rate');
log(JSON.stringify(await runSerialHl7Bench(log), null, 2));

log('\n== Scenarios: labelled events caught, delay and false alarms, wardgate vs plain thresholds');
await runScenarioBench(log);

log('\n== Sync: backlog drain as a multiple of real time, beside the endpoint raw accept rate');
log(JSON.stringify(await runSyncBench(log), null, 2));

log('\n== Dashboard: commit-to-display latency and daemon CPU with 10 open dashboards');
log(JSON.stringify(await runDashboardBench(log), null, 2));
