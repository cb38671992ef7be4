// The status files `wardgate status` reads (the HL7 senders', the ADT
// link's): replaced whole by a rename, never written in place; with the mode
// asked for; at most one write of changes an interval; a write that fails
// leaves the last good file and throws nothing.
import { mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { readStatusFile, StatusFile } from '../../edge/statusFile.js';
import { tempDir, waitFor } from '../helpers/env.js';

/** A status file over a counter, and how often its snapshot was taken. */
function counter(file: string | undefined, minIntervalMs = 60_000, mode?: number) {
  const state = { n: 0, snapshots: 0 };
  const status = new StatusFile(
    file,
    () => {
      state.snapshots++;
      return { n: state.n };
    },
    { minIntervalMs, ...(mode !== undefined && { mode }) },
  );
  return { state, status };
}

t.test(
  'each write replaces the file by a rename: a new file, never a half-written one, no temporary left',
  async (t) => {
    const dir = tempDir(t);
    const file = join(dir, 'x-status.json');
    const { state, status } = counter(file);
    status.write();
    const first = statSync(file).ino;
    state.n = 7;
    status.write();
    t.not(statSync(file).ino, first, 'another file took its name');
    t.same(readStatusFile(file), { n: 7 });
    t.same(readdirSync(dir), ['x-status.json']);

    // A write that fails (here its temporary name is taken by a folder) keeps the last good file.
    mkdirSync(`${file}.tmp`);
    state.n = 8;
    t.doesNotThrow(() => status.write());
    t.same(readStatusFile(file), { n: 7 });
  },
);

t.test('the mode asked for (owner only), else the process default', async (t) => {
  const dir = tempDir(t);
  const old = process.umask(0o022);
  t.teardown(() => process.umask(old));
  counter(join(dir, 'private.json'), 60_000, 0o600).status.write();
  counter(join(dir, 'plain.json')).status.write();
  t.equal(statSync(join(dir, 'private.json')).mode & 0o777, 0o600);
  t.equal(statSync(join(dir, 'plain.json')).mode & 0o777, 0o644);
});

t.test('changes are written at most once an interval, the last state; flush writes only what is pending', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'x-status.json');
  const { state, status } = counter(file, 300);
  status.write();
  for (let i = 1; i <= 3; i++) {
    state.n = i;
    status.changed();
  }
  t.same(readStatusFile(file), { n: 0 }, 'not at once after a write');
  await waitFor(() => (readStatusFile<{ n: number }>(file)?.n === 3 ? true : undefined), 3000, 'the change written');
  t.equal(state.snapshots, 2, 'three changes, one write');

  state.n = 4;
  status.changed();
  status.flush();
  t.same(readStatusFile(file), { n: 4 }, 'flushed at once');
  status.flush();
  await new Promise((r) => setTimeout(r, 400));
  t.equal(state.snapshots, 3, 'nothing pending: flush and the interval write nothing more');
});

t.test('no file: the state is kept in memory only; a missing or broken file reads as none', async (t) => {
  const { state, status } = counter(undefined, 0);
  status.changed();
  status.write();
  status.flush();
  await new Promise((r) => setTimeout(r, 20));
  t.equal(state.snapshots, 0);

  const dir = tempDir(t);
  t.equal(readStatusFile(join(dir, 'none.json')), undefined);
  writeFileSync(join(dir, 'broken.json'), '{"n":');
  t.equal(readStatusFile(join(dir, 'broken.json')), undefined);
});
