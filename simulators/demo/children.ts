// Child processes of the demo: started with their output kept (for a useful
// error if one dies), stopped with SIGTERM then SIGKILL, each awaited, so
// Ctrl-C leaves nothing running and no port bound.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';

const STOP_GRACE_MS = 8000;

export interface Child {
  readonly name: string;
  readonly process: ChildProcess;
  readonly exited: Promise<void>;
  output(): string;
  stop(): Promise<void>;
}

export function startChild(name: string, command: string, args: readonly string[], env: NodeJS.ProcessEnv): Child {
  const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const keep = (d: Buffer) => {
    out = (out + d.toString('utf8')).slice(-8000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    name,
    process: child,
    exited,
    output: () => out,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Polls until `check` gives a value; fails early if the child dies, or after `ms`. */
export async function waitForChild<T>(child: Child, check: () => T | undefined, ms: number, what: string): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = check();
    if (value !== undefined) return value;
    if (child.process.exitCode !== null || child.process.signalCode !== null)
      throw new Error(`${child.name} exited while starting:\n${child.output()}`);
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}:\n${child.output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export function readJson<T>(file: string): T | undefined {
  try {
    return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as T) : undefined;
  } catch {
    return undefined; // being written
  }
}

/** Whether an executable is on PATH (no process started). */
export function onPath(name: string, env: NodeJS.ProcessEnv): boolean {
  return (env.PATH ?? '').split(':').some((dir) => dir !== '' && existsSync(`${dir}/${name}`));
}
