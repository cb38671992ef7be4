// The processes a bench measures: a `wardgate edge` child with a config the
// bench writes, and the baseline, a bare aedes broker (bareBroker.ts); their
// CPU time and memory read from /proc.
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { RUN_FILE } from '../edge/gateway.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface BrokerChild {
  readonly port: number;
  /** wardgate's HTTP port (its /metrics), when it has one. */
  readonly httpPort?: number;
  readonly child: ChildProcess;
  stop(): Promise<void>;
}

function stopper(child: ChildProcess): () => Promise<void> {
  return async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    await exited;
    clearTimeout(timer);
  };
}

export async function startBare(): Promise<BrokerChild> {
  const child = spawn(process.execPath, [join(ROOT, 'dist/bench/bareBroker.js'), '0'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.once('data', (d: Buffer) => resolve((JSON.parse(d.toString()) as { port: number }).port));
    child.once('exit', () => reject(new Error('bare broker exited')));
  });
  return { port, child, stop: stopper(child) };
}

/** Writes `config` (YAML) into `dir` and starts `wardgate edge` on it; resolves once its run file names it. */
export async function startWardgate(
  dir: string,
  config: Record<string, unknown>,
  nodeArgs: string[] = [],
): Promise<BrokerChild> {
  const file = join(dir, 'wardgate.yaml');
  writeFileSync(file, stringify(config), { mode: 0o600 });
  // Run as a user runs it, with the launcher's own first line (its environment and Node options), on this bench's
  // Node so that both brokers run on the same one. The bench's options go on the command line after the launcher's:
  // some (--cpu-prof) are refused in NODE_OPTIONS.
  const launcher = join(ROOT, 'bin/wardgate.js');
  const { env, nodeOptions } = launcherLine(launcher);
  // WARDGATE_BENCH_NODE_ARGS: Node or V8 options for the daemon of every bench (e.g. a GC flag to compare).
  const extra = process.env.WARDGATE_BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  const child = spawn(process.execPath, [...nodeOptions, ...nodeArgs, ...extra, launcher, 'edge', '--config', file], {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, ...env },
  });
  const runFile = join(dir, 'data', RUN_FILE);
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      const info = JSON.parse(readFileSync(runFile, 'utf8')) as { pid: number; ports: { mqtt: number; http?: number } };
      if (info.pid === child.pid)
        return {
          port: info.ports.mqtt,
          ...(info.ports.http !== undefined && { httpPort: info.ports.http }),
          child,
          stop: stopper(child),
        };
    } catch {
      // not written yet
    }
    if (Date.now() > deadline || child.exitCode !== null) {
      child.kill('SIGKILL');
      throw new Error('wardgate did not start');
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** CPU time a process has used, all its threads (Linux: utime + stime in /proc/PID/stat, 100 ticks a second). */
/** The environment and Node options the launcher's `#!/usr/bin/env -S NAME=value ... node --option ...` line sets. */
export function launcherLine(launcher: string): { env: Record<string, string>; nodeOptions: string[] } {
  const words = (readFileSync(launcher, 'utf8').split('\n', 1)[0] ?? '').replace(/^#!\S*env -S /, '').split(/\s+/);
  const node = words.indexOf('node');
  if (node < 0) throw new Error(`${launcher}: expected a first line that runs node by env -S`);
  const env = Object.fromEntries(
    words.slice(0, node).map((w) => [w.slice(0, w.indexOf('=')), w.slice(w.indexOf('=') + 1)]),
  );
  return { env, nodeOptions: words.slice(node + 1).filter(Boolean) };
}

export function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

export function rssMiB(pid: number, field: 'VmRSS' | 'VmHWM' = 'VmRSS'): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith(field))!;
  return Number(line.split(/\s+/)[1]) / 1024;
}

/** CPU seconds per thread (/proc/PID/task/TID/stat: utime + stime), by thread id; the main thread's id is the pid. */
export function cpuByThread(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const fields = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8').split(') ')[1].split(' ');
      out.set(tid, (Number(fields[11]) + Number(fields[12])) / 100);
    } catch {
      // the thread ended meanwhile
    }
  }
  return out;
}

/** The daemon's /metrics, each series (name with its labels) to its value. */
export async function daemonMetrics(httpPort: number): Promise<Map<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

/**
 * The daemon's main isolate as its /metrics reports it, in MiB: the V8 heap
 * (committed and used) and memory outside it (Buffers, native). What RSS holds
 * beyond them is the writer thread's isolate, SQLite's caches, code and the
 * allocator's slack.
 */
export function mainIsolateMiB(metrics: ReadonlyMap<string, number>): {
  heapTotal: number;
  heapUsed: number;
  external: number;
} {
  const mib = (name: string) => (metrics.get(`wardgate_process_${name}`) ?? Number.NaN) / 2 ** 20;
  return {
    heapTotal: mib('nodejs_heap_size_total_bytes'),
    heapUsed: mib('nodejs_heap_size_used_bytes'),
    external: mib('nodejs_external_memory_bytes'),
  };
}
