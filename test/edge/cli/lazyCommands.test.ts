// The daemon's process does not carry the cloud's clients: `wardgate edge`
// loads the command line, and the cloud, simulator and demo commands load
// their modules only when they run (about 35 MiB of RSS otherwise).
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT } from '../../helpers/gateway.js';

const loadedAfter = (code: string) => {
  const main = pathToFileURL(join(ROOT, 'dist', 'bin', 'main.js')).href;
  const script = `import { createRequire } from 'node:module';
const { main } = await import(${JSON.stringify(main)});
${code}
const cache = createRequire(import.meta.url).cache;
console.log(JSON.stringify(Object.keys(cache).filter((k) => k.includes('@google-cloud') || k.includes('functions-framework')).length));`;
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    encoding: 'utf8',
    timeout: 60_000,
    cwd: ROOT,
  });
  if (run.status !== 0) throw new Error(run.stderr);
  return Number(run.stdout.trim().split('\n').pop());
};

t.test('loading the command line loads no cloud client', async (t) => {
  t.equal(loadedAfter(''), 0);
});

t.test('the cloud command still loads them when it runs', async (t) => {
  const sink = '{ write: () => true }';
  t.ok(
    loadedAfter(
      `await main({ argv: ['cloud', '--help'], stdout: ${sink}, stderr: ${sink}, stdin: process.stdin, env: {} });`,
    ) > 0,
  );
});
