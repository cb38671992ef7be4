// A virtual RS-232 cable for tests: socat makes a pseudo-terminal pair whose
// two ends appear at fixed paths (the gateway opens one, a writer process
// plays a device on the other). Killing socat unplugs the cable (both paths
// vanish, as a USB serial adapter's node does); starting it again on the same
// paths plugs it back in. Every socat and writer is killed at teardown.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from './env.js';

interface T {
  teardown(fn: () => unknown): void;
}

export class PtyCable {
  readonly device: string;
  readonly gateway: string;
  #socat: ChildProcess | undefined;

  constructor(t: T, dir: string, name = 'tty') {
    this.gateway = join(dir, `${name}-gw`);
    this.device = join(dir, `${name}-dev`);
    t.teardown(() => this.unplug());
  }

  get plugged(): boolean {
    return this.#socat !== undefined;
  }

  async plug(): Promise<void> {
    if (this.#socat) return;
    const socat = spawn('socat', [`pty,raw,echo=0,link=${this.gateway}`, `pty,raw,echo=0,link=${this.device}`], {
      stdio: 'ignore',
    });
    this.#socat = socat;
    await waitFor(
      () => {
        if (socat.exitCode !== null) throw new Error(`socat exited with ${socat.exitCode}`);
        return existsSync(this.gateway) && existsSync(this.device) ? true : undefined;
      },
      10_000,
      'socat to create the pty pair',
    );
  }

  /** SIGTERM: socat removes both links, as the kernel removes a USB adapter's node. */
  async unplug(): Promise<void> {
    const socat = this.#socat;
    this.#socat = undefined;
    if (!socat || socat.exitCode !== null || socat.signalCode !== null) return;
    const exited = new Promise((resolve) => socat.once('exit', resolve));
    socat.kill('SIGTERM');
    const timer = setTimeout(() => socat.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(timer);
  }

  /**
   * Unplugs without yielding to the event loop: returns once socat has closed
   * its ends and the gateway's end is hung up, all while the caller still runs
   * (as a gateway busy with the bytes it last read is when the cable goes).
   */
  unplugNow(): void {
    const socat = this.#socat;
    this.#socat = undefined;
    if (!socat?.pid || socat.exitCode !== null || socat.signalCode !== null) return;
    socat.kill('SIGTERM');
    // A process is a zombie (state Z) only once its files are closed; nobody reaps it while we hold the loop.
    const deadline = Date.now() + 5000;
    const pause = new Int32Array(new SharedArrayBuffer(4));
    while (readFileSync(`/proc/${socat.pid}/stat`, 'utf8').split(' ')[2] !== 'Z') {
      if (Date.now() > deadline) throw new Error('socat did not exit');
      Atomics.wait(pause, 0, 0, 5);
    }
  }
}

const WRITER = fileURLToPath(new URL('./ptyWriter.mjs', import.meta.url));

export interface PlayOptions {
  /** Pause between writes, ms (1000: a device's once-a-second output). */
  readonly intervalMs: number;
  /** Lines per write (several: a burst, as after a USB hiccup). */
  readonly burst?: number;
}

/**
 * Plays `chunks` (lines with their line ends, or raw bytes) into the device
 * end of a cable from a separate writer process. Resolves with how many were
 * written when the writer ends (at the end, or when the cable is unplugged).
 */
export function play(
  t: T,
  path: string,
  chunks: ReadonlyArray<string | Buffer>,
  options: PlayOptions,
): Promise<{ written: number; error?: string }> {
  const child = spawn(process.execPath, [WRITER, path, String(options.intervalMs), String(options.burst ?? 1)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stdin.end(JSON.stringify(chunks.map((c) => Buffer.from(c).toString('base64'))));
  return new Promise((resolve) =>
    child.once('exit', () => {
      const result = JSON.parse(out.trim().split('\n').pop() || '{"written":0}') as { written: number; error?: string };
      resolve(result);
    }),
  );
}
