#!/usr/bin/env -S MALLOC_ARENA_MAX=2 node --max-semi-space-size=2
// The daemon's memory on a floor: V8's young generation capped at 2 MiB a
// semi-space (it grows to 16 under a floor's allocation) and glibc's malloc
// held to two arenas: 300 beds in about 120 MiB instead of 160, for about a
// point of a core (docs/PERFORMANCE.md, "Fourth round"). A first line, so
// that every way of running the `wardgate` command, the systemd unit's
// included, gets them. They win over NODE_OPTIONS and the environment; to run
// without them, start `node bin/wardgate.js ...`. `env -S` is GNU coreutils
// 8.30 or later, or a BSD env; where there is neither (BusyBox), the same.
// Launcher: the command line is written in TypeScript and built into dist/ by `npm install`.
import { main } from '../dist/bin/main.js';

process.exitCode = await main({
  argv: process.argv.slice(2),
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  env: process.env,
});
