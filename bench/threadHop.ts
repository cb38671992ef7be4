// What a hop to another thread and back costs on this machine, in CPU, at the
// rates a floor commits (one round trip per group commit): the measure of the
// writer thread's hop (docs/PERFORMANCE.md, "Seventh round"). Each round trip
// gets an fdatasync of a small file done off the main thread, as a group
// commit's does, and starts from a timer tick, so the tick alone is measured
// too and taken off:
//   timer        a timer tick and nothing else (the baseline);
//   threadPool   an fstat on libuv's thread pool: the hop alone, no sync, no JavaScript on the other side;
//   fdatasync    the fdatasync on the thread pool (how the alarm store syncs its commits);
//   postMessage  a message to a worker that syncs, and its answer (the ingest writer thread's way);
//   atomics      a word written in shared memory, a worker blocked in Atomics.wait woken to sync, its
//                answer awaited with Atomics.waitAsync.
//
//   node dist/bench/threadHop.js [seconds=10] [rates=30,160,300]
import { closeSync, fdatasync, fdatasyncSync, fstat, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';

export const hopWays = ['timer', 'threadPool', 'fdatasync', 'postMessage', 'atomics'] as const;
export type HopWay = (typeof hopWays)[number];

export interface HopFigures {
  way: HopWay;
  perSecond: number;
  trips: number;
  /** Process CPU (every thread, user + system) per round trip, microseconds, the timer tick included. */
  usPerTrip: number;
  /** Wall time of one round trip, p50, microseconds. */
  p50Us: number;
}

/** Atomics.waitAsync (Node 16+), which this TypeScript library does not declare yet. */
const waitAsync = (
  Atomics as unknown as {
    waitAsync(
      this: void,
      words: Int32Array,
      index: number,
      value: number,
    ): { async: boolean; value: Promise<unknown> | string };
  }
).waitAsync;

interface WorkerData {
  shared: SharedArrayBuffer;
  way: HopWay;
  /** The file the worker syncs before it answers. */
  file: string;
}

/** Slot 0: the last request the main thread made; slot 1: the last the worker answered. */
function serveHops({ shared, way, file }: WorkerData): void {
  const words = new Int32Array(shared);
  const fd = openSync(file, 'r');
  if (way === 'postMessage') {
    parentPort!.on('message', (n: number) => {
      fdatasyncSync(fd);
      parentPort!.postMessage(n);
    });
    return;
  }
  // Blocked here between requests: the thread is woken by the main thread's notify alone.
  for (let last = 0; ;) {
    Atomics.wait(words, 0, last);
    last = Atomics.load(words, 0);
    fdatasyncSync(fd);
    Atomics.store(words, 1, last);
    Atomics.notify(words, 1);
  }
}

/** Round trips at `perSecond` for `seconds`, each started from a timer tick. */
export async function measureHop(way: HopWay, perSecond: number, seconds: number): Promise<HopFigures> {
  const shared = new SharedArrayBuffer(8);
  const words = new Int32Array(shared);
  const dir = mkdtempSync(join(tmpdir(), 'wardgate-hop-'));
  const file = join(dir, 'file');
  const fd = openSync(file, 'w');
  const needsWorker = way === 'postMessage' || way === 'atomics';
  const worker = needsWorker
    ? new Worker(fileURLToPath(import.meta.url), { workerData: { shared, way, file } satisfies WorkerData })
    : undefined;
  if (worker) await new Promise((resolve) => worker.once('online', resolve));
  let n = 0;
  const trip = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const done = (err?: Error | null) => (err ? reject(err) : resolve());
      switch (way) {
        case 'timer':
          return resolve();
        case 'postMessage':
          worker!.once('message', () => resolve());
          return worker!.postMessage(++n);
        case 'threadPool':
          return fstat(fd, done);
        case 'fdatasync':
          return fdatasync(fd, done);
        case 'atomics': {
          const request = ++n;
          Atomics.store(words, 0, request);
          Atomics.notify(words, 0);
          const answered = (): void => {
            if (Atomics.load(words, 1) === request) return resolve();
            const wait = waitAsync(words, 1, request - 1);
            if (wait.async) void (wait.value as Promise<unknown>).then(answered);
            else answered();
          };
          return answered();
        }
      }
    });
  const gapMs = 1000 / perSecond;
  const tick = (at: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, at - performance.now())));
  // Warm-up: the code optimized, the worker settled.
  for (let i = 0; i < Math.min(100, perSecond); i++) await trip();
  await tick(performance.now() + 200);
  const walls: number[] = [];
  const cpu = process.cpuUsage();
  const start = performance.now();
  for (let i = 0; performance.now() - start < seconds * 1000; i++) {
    await tick(start + i * gapMs);
    const from = performance.now();
    await trip();
    walls.push(performance.now() - from);
  }
  const used = process.cpuUsage(cpu);
  closeSync(fd);
  rmSync(dir, { recursive: true, force: true });
  await worker?.terminate();
  walls.sort((a, b) => a - b);
  return {
    way,
    perSecond,
    trips: walls.length,
    usPerTrip: (used.user + used.system) / walls.length,
    p50Us: walls[walls.length >> 1] * 1000,
  };
}

if (!isMainThread) serveHops(workerData as WorkerData);
else if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const seconds = Number(process.argv[2] ?? 10);
  const rates = (process.argv[3] ?? '30,160,300').split(',').map(Number);
  for (const perSecond of rates) {
    const figures: HopFigures[] = [];
    for (const way of hopWays) figures.push(await measureHop(way, perSecond, seconds));
    const tick = figures[0].usPerTrip;
    for (const f of figures)
      console.log(
        `${String(perSecond).padStart(4)}/s ${f.way.padEnd(12)} ${f.usPerTrip.toFixed(0).padStart(5)} us CPU a round trip` +
          (f.way === 'timer' ? ' (the tick alone)' : ` (${(f.usPerTrip - tick).toFixed(0)} beyond the tick)`) +
          `, p50 ${f.p50Us.toFixed(0)} us wall`,
      );
  }
}
