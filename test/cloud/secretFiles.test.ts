// The gateways' secrets are read from a file in the background, never on a
// request's path: a file that cannot be read at the moment (here a FIFO with
// no writer, on which a read waits until someone writes) leaves every request
// answered at once, for known and unknown gateway ids alike, with the last
// good value. A failed reading is logged without the file's content, and a
// new version is taken up by the next reading, through the functions' own
// context (createContext follows the files).
import t from 'tap';
import { closeSync, constants, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { closeContext, createContext } from '../../cloud/context.js';
import { createCloudLogger } from '../../cloud/log.js';
import { reloadSecrets, settingsFromEnv } from '../../cloud/settings.js';
import { tempDir, waitFor } from '../helpers/env.js';

const A1 = 'first-secret-of-gw-a-0123456789abcdef';
const A2 = 'second-secret-of-gw-a-0123456789abcdef';
const LEAK = 'would-be-secret-in-a-bad-version-0123456789';
const gateways = (entries: Record<string, string>) =>
  JSON.stringify(Object.fromEntries(Object.entries(entries).map(([id, secret]) => [id, { ward: '3B', secret }])));

t.test(
  'no request waits for a secret file; failures are logged without content; new versions are taken up',
  async (t) => {
    const dir = tempDir(t);
    const file = join(dir, 'gateways.json');
    writeFileSync(file, gateways({ 'gw-a': A1 }), { mode: 0o600 });
    const lines: string[] = [];
    const log = createCloudLogger('warn', { write: (line: string) => void lines.push(line) });
    const settings = settingsFromEnv({ WARDGATE_GATEWAYS_FILE: file, WARDGATE_PROJECT: 'wardgate-secrets-test' });
    const ctx = createContext(settings, log);
    t.teardown(() => closeContext(ctx));

    // The file cannot be read now: a read would wait for a writer.
    rmSync(file);
    execFileSync('mkfifo', ['-m', '600', file]);
    const pending = reloadSecrets(settings);
    const started = process.hrtime.bigint();
    const answers = new Set<string | undefined>();
    for (let i = 0; i < 200; i++) {
      answers.add(ctx.settings.gateways.get('gw-a')?.secret);
      answers.add(ctx.settings.gateways.get(`gw-unknown-${i}`)?.secret);
    }
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    t.same([...answers], [A1, undefined], 'known and unknown ids answered from what was read');
    t.ok(ms < 1000, `400 lookups answered at once while the file blocks (${ms.toFixed(1)} ms)`);

    // A bad version arrives through the pipe: the reading fails, the last good value stays, the log names the setting only.
    // Written until the background reader has it: a pipe's content is dropped if the writer closes before a reader opens.
    let failures: Awaited<typeof pending> | undefined;
    void pending.then((f) => (failures = f));
    while (failures === undefined) {
      const fd = openSync(file, constants.O_RDWR);
      writeSync(fd, `{"gw-a": {"ward": "3B", "secret": "${LEAK}"`);
      await new Promise((r) => setTimeout(r, 100));
      closeSync(fd);
      await Promise.race([pending, new Promise((r) => setTimeout(r, 400))]);
    }
    t.same(
      failures.map((f) => f.what),
      ['WARDGATE_GATEWAYS_FILE'],
      'the reading failed',
    );
    t.equal(ctx.settings.gateways.get('gw-a')?.secret, A1, 'the last good secret stays in force');
    rmSync(file);
    writeFileSync(file, '{"gw-a": {"ward": "3B", "secret": "short-but-secret-text"}}', { mode: 0o600 });
    await reloadSecrets(settings);
    const logged = lines.join('\n');
    t.match(logged, /a secret file could not be read again/, 'failed readings are logged');
    t.notMatch(logged, new RegExp(`${LEAK}|short-but-secret-text|${A1}`), "without the secrets or the file's text");

    // A good new version is in force after the next reading.
    writeFileSync(file, gateways({ 'gw-a': A2, 'gw-b': A1 }), { mode: 0o600 });
    t.same(await reloadSecrets(settings), []);
    t.equal(ctx.settings.gateways.get('gw-a')?.secret, A2, 'a rotated secret');
    t.equal(ctx.settings.gateways.get('gw-b')?.secret, A1, 'a new gateway');
  },
);

t.test('the context reads the files again on its own, in the background', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'gateways.json');
  writeFileSync(file, gateways({ 'gw-a': A1 }), { mode: 0o600 });
  const settings = settingsFromEnv({ WARDGATE_GATEWAYS_FILE: file, WARDGATE_PROJECT: 'wardgate-secrets-test' });
  const ctx = createContext(settings, createCloudLogger('silent'));
  t.teardown(() => closeContext(ctx));
  writeFileSync(file, gateways({ 'gw-a': A1, 'gw-c': A2 }), { mode: 0o600 });
  // An unknown id asks for a reading soon: gw-c is known shortly after its first request.
  t.equal(ctx.settings.gateways.get('gw-c'), undefined);
  t.equal(await waitFor(() => ctx.settings.gateways.get('gw-c')?.secret, 5000, 'gw-c'), A2);
});
