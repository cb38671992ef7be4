// `npm run powercut`: the long power-cut run (scenario.ts), 100 cuts by default
// (`npm run powercut -- 20` for fewer), then the control runs: durability off
// (must lose), and the WAL sync alone skipped (reported). All three sync to one
// local cloud (the emulators and `wardgate cloud`), each as its own gateway.
// Figures as JSON on stdout, progress on stderr; exit code 1 if the real run
// lost or corrupted anything, on the gateway or in the cloud, or the control
// lost nothing.
import { startPowerCutCloud } from './cloudSide.js';
import { RUN_GATEWAYS, runPowerCuts } from './scenario.js';

const cuts = Number(process.argv[2] ?? 100);
const controlCuts = Math.max(3, Math.round(cuts / 10));
const teardowns: Array<() => unknown> = [];
const t = { teardown: (fn: () => unknown) => void teardowns.push(fn) };
const log = (line: string) => process.stderr.write(`${new Date().toISOString()} ${line}\n`);

try {
  const started = Date.now();
  const cloud = await startPowerCutCloud(t, Object.values(RUN_GATEWAYS));
  log(`cloud up in ${Math.round((Date.now() - started) / 1000)} s`);
  const realStarted = Date.now();
  const real = await runPowerCuts(t, { cuts, cloud: { cloud, gateway: RUN_GATEWAYS.real }, log });
  const realSeconds = Math.round((Date.now() - realStarted) / 1000);
  log('control: durability off');
  const off = await runPowerCuts(t, {
    cuts: controlCuts,
    unsafe: 'off',
    cloud: { cloud, gateway: RUN_GATEWAYS.off },
    drainMs: 60_000,
    log,
  });
  log('control: WAL sync skipped');
  const skipWalSync = await runPowerCuts(t, {
    cuts: controlCuts,
    unsafe: 'skip-wal-sync',
    cloud: { cloud, gateway: RUN_GATEWAYS['skip-wal-sync'] },
    drainMs: 60_000,
    log,
  });
  process.stdout.write(
    `${JSON.stringify({ real: { ...real, seconds: realSeconds }, control: { off, skipWalSync } }, null, 2)}\n`,
  );
  const c = real.cloud;
  const ok =
    real.lost === 0 &&
    real.duplicated === 0 &&
    real.integrityFailures === 0 &&
    real.alarmEventsLost === 0 &&
    real.admissionsLost === 0 &&
    real.serial.countedStoredLost === 0 &&
    real.serial.miscounted === 0 &&
    c.pastTheCloud === 0 &&
    c.unknownToEdge === 0 &&
    c.drainSeconds !== null &&
    c.acknowledgedLost === 0 &&
    c.duplicated === 0 &&
    c.edgeReadingsMissing === 0 &&
    c.alarmEventsMissing === 0 &&
    off.lost > 0;
  process.exitCode = ok ? 0 : 1;
} finally {
  for (const fn of teardowns.reverse()) await fn();
}
