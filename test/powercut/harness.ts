// The power-cut harness (powercut.c) from the tests' side: compiles the
// interposer once per source version, prepares a watched directory and its
// shadow, cuts the power (rebuilds the directory from what was made durable),
// and sets the slow, failing and full disk faults. See docs/RELIABILITY.md.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

// Beside this file in the sources; a compiled copy (dist/, for the benchmarks) finds it in the sources.
const SOURCE =
  [new URL('./powercut.c', import.meta.url), new URL('../../../test/powercut/powercut.c', import.meta.url)]
    .map((u) => fileURLToPath(u))
    .find((p) => existsSync(p)) ?? '';

/** Builds the interposer (gcc, installed by scripts/test-deps.js) into a cache dir keyed by its source; returns the library's path. */
export function buildInterposer(): string {
  const source = readFileSync(SOURCE);
  const dir = join(tmpdir(), 'wardgate-powercut', createHash('sha256').update(source).digest('hex').slice(0, 16));
  const lib = join(dir, 'libpowercut.so');
  if (existsSync(lib)) return lib;
  mkdirSync(dir, { recursive: true });
  // Built beside and renamed: two test files compiling at once never load half a library.
  const partial = `${lib}.${process.pid}`;
  execFileSync('gcc', ['-O2', '-Wall', '-shared', '-fPIC', '-o', partial, SOURCE, '-ldl', '-lpthread'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  renameSync(partial, lib);
  return lib;
}

export interface DiskFaults {
  /** Every fsync/fdatasync of a watched file or the directory sleeps this long first. */
  fsyncDelayMs?: number;
  /** fsync/fdatasync fail with EIO (and make nothing durable). */
  fsyncFails?: boolean;
  /** Writes (and truncations, and creations for ENOSPC) fail with this error. */
  writeFails?: 'EIO' | 'ENOSPC';
}

export class PowerCutDir {
  /** The watched directory (the gateway's data dir), resolved. */
  readonly root: string;
  readonly shadow: string;
  readonly control: string;
  readonly #lib: string;

  /** `root` is created if missing; `work` holds the shadow and the fault control file. */
  constructor(root: string, work: string) {
    mkdirSync(root, { recursive: true });
    this.root = realpathSync(root);
    this.shadow = join(work, 'shadow');
    this.control = join(work, 'faults');
    this.#lib = buildInterposer();
    this.setFaults({});
    this.markDurable();
  }

  /** The environment that makes a child process write through the harness. */
  env(): NodeJS.ProcessEnv {
    return {
      LD_PRELOAD: this.#lib,
      POWERCUT_ROOT: this.root,
      POWERCUT_SHADOW: this.shadow,
      POWERCUT_CONTROL: this.control,
      // libuv could otherwise hand file writes to io_uring, past the interposer.
      UV_USE_IO_URING: '0',
    };
  }

  setFaults(faults: DiskFaults): void {
    const lines = [
      ...(faults.fsyncDelayMs ? [`fsync_delay_ms=${faults.fsyncDelayMs}`] : []),
      ...(faults.fsyncFails ? ['fsync=eio'] : []),
      ...(faults.writeFails ? [`write=${faults.writeFails.toLowerCase()}`] : []),
    ];
    // Renamed into place: the interposer reads it whole when its time changes.
    const partial = `${this.control}.tmp`;
    writeFileSync(partial, lines.map((l) => `${l}\n`).join(''));
    renameSync(partial, this.control);
  }

  /**
   * The power cut, once every process writing the directory is dead (SIGKILL):
   * the directory is rebuilt with the entries of its last directory sync, each
   * file holding the bytes of its last file sync. What is left is durable.
   * Returns what was lost: the names that vanished, came back or changed size.
   */
  cut(): { files: Array<{ name: string; before: number; after: number | null }> } {
    const listed = this.#durableEntries();
    const before = new Map(this.#files().map((name) => [name, statSync(join(this.root, name)).size]));
    for (const name of before.keys()) rmSync(join(this.root, name));
    for (const [name, key] of listed) copyFileSync(join(this.shadow, 'data', key), join(this.root, name));
    const files = [...new Set([...before.keys(), ...listed.keys()])].map((name) => ({
      name,
      before: before.get(name) ?? -1,
      after: listed.has(name) ? statSync(join(this.root, name)).size : null,
    }));
    this.markDurable();
    return { files };
  }

  /** name -> image key, as of the last directory sync. */
  #durableEntries(): Map<string, string> {
    const text = readFileSync(join(this.shadow, 'dir.list'), 'utf8');
    const entries = new Map<string, string>();
    for (const line of text.split('\n')) {
      if (!line) continue;
      const [key, name] = line.split('\t');
      entries.set(name, key);
    }
    return entries;
  }

  #files(): string[] {
    return readdirSync(this.root).filter((name) => statSync(join(this.root, name)).isFile());
  }

  /** What the directory holds now is durable (as after a cut, or once a test has written it outside the harness): a fresh shadow of it. */
  markDurable(): void {
    rmSync(this.shadow, { recursive: true, force: true });
    mkdirSync(join(this.shadow, 'data'), { recursive: true });
    mkdirSync(join(this.shadow, 'ino'));
    const list: string[] = [];
    for (const name of this.#files()) {
      const path = join(this.root, name);
      const { ino } = statSync(path);
      const key = `${ino}-snapshot`;
      copyFileSync(path, join(this.shadow, 'data', key));
      writeFileSync(join(this.shadow, 'ino', String(ino)), key);
      list.push(`${key}\t${name}\n`);
    }
    writeFileSync(join(this.shadow, 'dir.list'), list.join(''));
  }
}
