#!/usr/bin/env node
// Installs the programs the test suite drives beyond npm (Debian packages),
// once: a command already on PATH is left alone. Runs before `npm test`.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** command on PATH -> Debian package that provides it */
const needed = {
  mosquitto_pub: 'mosquitto-clients',
  mosquitto_sub: 'mosquitto-clients',
  openssl: 'openssl',
  // pseudo-terminal pairs for the serial tests (a virtual RS-232 cable that can be unplugged)
  socat: 'socat',
  // headless browser for the dashboard tests (driven by playwright-core, never a downloaded build)
  chromium: 'chromium',
  // the power-cut harness's interposer (test/powercut/powercut.c), compiled on first use
  gcc: 'gcc',
};
/** file that must exist -> Debian package that provides it */
const neededFiles = {
  // C headers for the interposer (gcc only recommends them)
  '/usr/include/stdio.h': 'libc6-dev',
};

const onPath = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
const missing = [
  ...new Set([
    ...Object.entries(needed)
      .filter(([cmd]) => !onPath(cmd))
      .map(([, pkg]) => pkg),
    ...Object.entries(neededFiles)
      .filter(([file]) => !existsSync(file))
      .map(([, pkg]) => pkg),
  ]),
];

if (missing.length === 0) process.exit(0);
if (process.getuid?.() !== 0) {
  console.error(
    `The tests need these Debian packages: ${missing.join(' ')}\nInstall them with: sudo apt-get update && sudo apt-get install -y ${missing.join(' ')}`,
  );
  process.exit(1);
}
console.error(`Installing test dependencies: ${missing.join(' ')}`);
const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], { stdio: 'inherit', env });
