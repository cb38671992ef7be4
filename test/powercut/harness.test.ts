// The power-cut harness itself: what a cut keeps and what it discards, and the
// injected faults, on a plain child process that writes, syncs and renames.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../helpers/env.js';
import { PowerCutDir } from './harness.js';

/** Runs a script in a child node process writing through the harness; returns its stdout. */
function child(dir: PowerCutDir, script: string): string {
  const result = spawnSync(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `import * as fs from 'node:fs';\nconst root = ${JSON.stringify(dir.root)};\n${script}`,
    ],
    {
      env: { ...process.env, ...dir.env() },
      encoding: 'utf8',
      timeout: 20_000,
    },
  );
  if (result.status !== 0) throw new Error(`child failed: ${result.stderr}`);
  return result.stdout;
}

/** A watched directory holding `files` from before the harness (durable). */
function setup(t: { teardown(fn: () => unknown): void }, files: Record<string, string> = {}): PowerCutDir {
  const work = tempDir(t, 'wardgate-powercut-');
  mkdirSync(join(work, 'data'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(work, 'data', name), text);
  return new PowerCutDir(join(work, 'data'), work);
}

t.test('a cut keeps synced bytes and synced entries, and discards the rest', async (t) => {
  const fresh = setup(t, { 'old.txt': 'from before the harness' });
  child(
    fresh,
    `
    const a = fs.openSync(root + '/a.txt', 'w');
    fs.writeSync(a, 'durable ');
    fs.fdatasyncSync(a);
    const d = fs.openSync(root, 'r');
    fs.fsyncSync(d);
    fs.writeSync(a, 'volatile');
    fs.closeSync(a);
    fs.writeFileSync(root + '/b.txt', 'never synced, entry not synced');
    const c = fs.openSync(root + '/c.txt', 'w');
    fs.writeSync(c, 'synced data, entry not synced');
    fs.fsyncSync(c);
    fs.unlinkSync(root + '/old.txt');
  `,
  );
  t.equal(
    readFileSync(join(fresh.root, 'a.txt'), 'utf8'),
    'durable volatile',
    'before the cut the page cache holds everything',
  );
  fresh.cut();
  t.equal(
    readFileSync(join(fresh.root, 'a.txt'), 'utf8'),
    'durable ',
    'the bytes written after the last fdatasync are gone',
  );
  t.notOk(existsSync(join(fresh.root, 'b.txt')), 'a file whose directory entry was never synced is gone');
  t.notOk(existsSync(join(fresh.root, 'c.txt')), 'even if its data was synced');
  t.equal(
    readFileSync(join(fresh.root, 'old.txt'), 'utf8'),
    'from before the harness',
    'an unlink the directory never synced is undone',
  );
});

t.test('renames and truncations take effect only once synced', async (t) => {
  const dir = setup(t);
  child(
    dir,
    `
    fs.writeFileSync(root + '/state', 'one');
    const f = fs.openSync(root + '/state', 'r+'); fs.fsyncSync(f); fs.closeSync(f);
    const d = fs.openSync(root, 'r'); fs.fsyncSync(d);
    fs.writeFileSync(root + '/state.tmp', 'two');
    const g = fs.openSync(root + '/state.tmp', 'r+'); fs.fsyncSync(g); fs.closeSync(g);
    fs.renameSync(root + '/state.tmp', root + '/state');
    fs.truncateSync(root + '/state', 1);
  `,
  );
  t.equal(readFileSync(join(dir.root, 'state'), 'utf8'), 't');
  dir.cut();
  t.equal(
    readFileSync(join(dir.root, 'state'), 'utf8'),
    'one',
    'the unsynced rename is undone: the old file with its synced bytes',
  );
  child(
    dir,
    `
    fs.writeFileSync(root + '/state.tmp', 'two');
    const g = fs.openSync(root + '/state.tmp', 'r+'); fs.fsyncSync(g); fs.closeSync(g);
    fs.renameSync(root + '/state.tmp', root + '/state');
    const d = fs.openSync(root, 'r'); fs.fsyncSync(d);
  `,
  );
  dir.cut();
  t.equal(readFileSync(join(dir.root, 'state'), 'utf8'), 'two', 'the synced rename stays');
  t.notOk(existsSync(join(dir.root, 'state.tmp')));
});

t.test('faults: slow fsync, failing fsync and writes, full disk', async (t) => {
  const dir = setup(t);
  dir.setFaults({ fsyncDelayMs: 200 });
  const ms = Number(
    child(
      dir,
      `
    const f = fs.openSync(root + '/x', 'w'); fs.writeSync(f, 'x');
    const t0 = performance.now(); fs.fdatasyncSync(f); console.log(performance.now() - t0);
  `,
    ),
  );
  t.ok(ms >= 195, `fdatasync took ${ms.toFixed(0)} ms with 200 ms injected`);
  dir.setFaults({ fsyncFails: true });
  t.match(
    child(
      dir,
      `
    const f = fs.openSync(root + '/x', 'r+'); fs.writeSync(f, 'y');
    try { fs.fsyncSync(f); console.log('synced'); } catch (e) { console.log(e.code); }
  `,
    ),
    /^EIO/,
    'fsync fails with EIO',
  );
  dir.setFaults({ writeFails: 'ENOSPC' });
  t.match(
    child(
      dir,
      `
    try { fs.writeFileSync(root + '/y', 'data'); console.log('written'); } catch (e) { console.log(e.code); }
  `,
    ),
    /^ENOSPC/,
    'a write fails with ENOSPC',
  );
  dir.setFaults({ writeFails: 'EIO' });
  t.match(
    child(
      dir,
      `
    const f = fs.openSync(root + '/x', 'r+');
    try { fs.writeSync(f, 'z'); console.log('written'); } catch (e) { console.log(e.code); }
  `,
    ),
    /^EIO/,
    'a write fails with EIO',
  );
  t.match(
    child(
      dir,
      `
    const f = fs.openSync(${JSON.stringify(join(dir.shadow, '..', 'elsewhere'))}, 'w');
    fs.writeSync(f, 'z'); fs.fsyncSync(f); console.log('ok');
  `,
    ),
    /^ok/,
    'files outside the watched directory are left alone',
  );
  dir.setFaults({});
});

t.test('writes from many threads at once are all tracked', async (t) => {
  const dir = setup(t);
  // Four threads write interleaved blocks of one file, then each syncs it.
  child(
    dir,
    `
    const { Worker } = await import('node:worker_threads');
    const f = fs.openSync(root + '/shared', 'w');
    const code = "import fs from 'node:fs'; import { workerData, parentPort } from 'node:worker_threads';" +
      "const [f, i] = workerData; const b = Buffer.alloc(4096, 65 + i);" +
      "for (let k = 0; k < 200; k++) fs.writeSync(f, b, 0, b.length, (k * 4 + i) * 4096); fs.fdatasyncSync(f); parentPort.postMessage(1);";
    await Promise.all([0, 1, 2, 3].map((i) => new Promise((r) => new Worker(code, { eval: true, workerData: [f, i] }).once('message', r))));
    const d = fs.openSync(root, 'r'); fs.fsyncSync(d);
  `,
  );
  dir.cut();
  const bytes = readFileSync(join(dir.root, 'shared'));
  t.equal(bytes.length, 800 * 4096, 'every synced byte kept');
  let wrong = 0;
  for (let block = 0; block < 800; block++)
    if (bytes[block * 4096] !== 65 + (block % 4) || bytes[block * 4096 + 4095] !== 65 + (block % 4)) wrong++;
  t.equal(wrong, 0, 'each block holds the bytes its thread wrote');
});
