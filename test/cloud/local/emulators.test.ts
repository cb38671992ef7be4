// The local emulators never outlive what started them: stopped, they are gone
// with their java child; and when the process that started them is killed
// with SIGKILL (no exit handler runs), their watchdog ends them anyway.
import t from 'tap';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startFirestore } from '../../../cloud/local/emulators.js';
import { waitFor } from '../../helpers/env.js';
import { ROOT } from '../../helpers/gateway.js';

t.setTimeout(120_000);

/** Processes whose command line names this emulator address (gcloud's wrapper and java). */
function processesFor(host: string): string[] {
  const port = host.split(':')[1];
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    let cmdline: string;
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
    } catch {
      continue; // gone meanwhile
    }
    if (cmdline.includes(`127.0.0.1:${port}`) || cmdline.includes(`--port=${port} `))
      found.push(`${pid} ${cmdline.slice(0, 80)}`);
  }
  return found;
}

const answers = (host: string) =>
  fetch(`http://${host}/`, { signal: AbortSignal.timeout(2000) }).then(
    (r) => r.ok,
    () => false,
  );

t.test('stop() ends the emulator and its java child', async (t) => {
  const emulator = await startFirestore();
  t.ok(await answers(emulator.host));
  t.ok(processesFor(emulator.host).length >= 2, 'the gcloud wrapper and java run');
  await emulator.stop();
  t.same(processesFor(emulator.host), [], 'nothing left');
  t.notOk(await answers(emulator.host));
});

t.test('an emulator whose parent is killed with SIGKILL goes too', async (t) => {
  const script = `const m = await import(${JSON.stringify(join(ROOT, 'dist/cloud/local/emulators.js'))});
    const e = await m.startFirestore(); console.log(JSON.stringify({ host: e.host })); setInterval(() => {}, 1e6);`;
  const parent = spawn(process.execPath, ['--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise((resolve) => parent.once('exit', resolve));
  t.teardown(() => {
    parent.kill('SIGKILL');
    return exited;
  });
  const host = await new Promise<string>((resolve, reject) => {
    parent.stdout.once('data', (d: Buffer) => resolve((JSON.parse(d.toString()) as { host: string }).host));
    parent.once('exit', (code) => reject(new Error(`the parent exited with ${code} before its emulator was ready`)));
  });
  t.ok(await answers(host));
  parent.kill('SIGKILL');
  await exited;
  await waitFor(() => (processesFor(host).length === 0 ? true : undefined), 15_000, 'the orphaned emulator to end');
  t.notOk(await answers(host), 'nothing answers on its port');
});
