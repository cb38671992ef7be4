// A fake systemd notification socket (sdNotifyReceiver.c, compiled on first
// use): what a daemon told the service manager, with the time it arrived.
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir, waitFor } from './env.js';

const SOURCE = fileURLToPath(new URL('./sdNotifyReceiver.c', import.meta.url));

interface T {
  teardown(fn: () => unknown): void;
}

export interface Notification {
  /** Milliseconds since the receiver started. */
  at: number;
  assignment: string;
}

export interface NotifyReceiver {
  socket: string;
  received: Notification[];
  /** Arrival times of the messages that assign `assignment` (e.g. WATCHDOG=1). */
  times(assignment: string): number[];
  /** Milliseconds since the receiver started, on its clock. */
  now(): number;
}

function build(): string {
  const source = readFileSync(SOURCE);
  const dir = join(tmpdir(), 'wardgate-sdnotify', createHash('sha256').update(source).digest('hex').slice(0, 16));
  const bin = join(dir, 'receiver');
  if (existsSync(bin)) return bin;
  mkdirSync(dir, { recursive: true });
  execFileSync('gcc', ['-O2', '-Wall', '-o', `${bin}.${process.pid}`, SOURCE], { stdio: ['ignore', 'ignore', 'pipe'] });
  renameSync(`${bin}.${process.pid}`, bin);
  return bin;
}

export async function notifyReceiver(t: T): Promise<NotifyReceiver> {
  const socket = join(tempDir(t, 'wardgate-notify-'), 'notify');
  const child = spawn(build(), [socket], { stdio: ['ignore', 'pipe', 'inherit'] });
  const started = performance.now();
  t.teardown(() => child.kill('SIGKILL'));
  const received: Notification[] = [];
  let partial = '';
  child.stdout.on('data', (chunk: Buffer) => {
    const lines = (partial + chunk.toString()).split('\n');
    partial = lines.pop()!;
    for (const line of lines) {
      const space = line.indexOf(' ');
      received.push({ at: Number(line.slice(0, space)), assignment: line.slice(space + 1) });
    }
  });
  await waitFor(
    () => (received.some((n) => n.assignment === 'LISTENING=1') ? true : undefined),
    10_000,
    'the notify receiver',
  );
  return {
    socket,
    received,
    times: (assignment) => received.filter((n) => n.assignment === assignment).map((n) => n.at),
    now: () => performance.now() - started,
  };
}
