// The `wardgate` launcher runs Node with the daemon's memory settings from its
// first line, whoever starts it (a shell, npm's bin link, the systemd unit):
// the young generation capped and malloc held to two arenas.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import t from 'tap';

const LAUNCHER = fileURLToPath(new URL('../../bin/wardgate.js', import.meta.url));

/** What the Node process the launcher starts sees, read before the command line runs. */
async function launched(env: NodeJS.ProcessEnv): Promise<{ execArgv: string[]; arenas?: string; newSpaceMiB: number }> {
  const probe =
    'import v8 from "node:v8";' +
    'console.log(JSON.stringify({execArgv: process.execArgv, arenas: process.env.MALLOC_ARENA_MAX,' +
    'newSpaceMiB: v8.getHeapSpaceStatistics().find((s) => s.space_name === "new_space").space_size / 1048576}));' +
    'process.exit(0);';
  const { stdout } = await promisify(execFile)(LAUNCHER, ['--help'], {
    env: { ...env, NODE_OPTIONS: `--import=data:text/javascript,${encodeURIComponent(probe)}` },
    timeout: 20_000,
  });
  return JSON.parse(stdout) as { execArgv: string[]; arenas?: string; newSpaceMiB: number };
}

t.test('run directly, the launcher caps the young generation and the malloc arenas', async (t) => {
  const seen = await launched({ PATH: process.env.PATH });
  t.same(seen.execArgv, ['--max-semi-space-size=2']);
  t.equal(seen.arenas, '2');
  t.ok(seen.newSpaceMiB <= 4, `young generation ${seen.newSpaceMiB} MiB`);
});
