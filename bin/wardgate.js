#!/usr/bin/env node
// Launcher: the command line is written in TypeScript and built into dist/ by `npm install`.
import { main } from '../dist/bin/main.js';

process.exitCode = await main({
  argv: process.argv.slice(2),
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  env: process.env,
});
