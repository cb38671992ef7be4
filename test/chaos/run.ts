// `npm run chaos`: the long chaos run (test/chaos/harness.ts), figures as
// JSON on stdout, progress on stderr; exit code 1 if anything acknowledged
// was lost or stored twice. `npm run chaos -- short` runs the short profile.
import { LONG, runChaos, SHORT } from './harness.js';

const profile = process.argv[2] === 'short' ? SHORT : LONG;
const figures = await runChaos(profile, (line) => process.stderr.write(`${new Date().toISOString()} ${line}\n`));
process.stdout.write(`${JSON.stringify(figures, null, 2)}\n`);
const ok =
  figures.lost === 0 &&
  figures.duplicated === 0 &&
  figures.control.lostSeen === figures.control.deleted &&
  figures.control.lostAfterRepair === 0;
process.exitCode = ok ? 0 : 1;
