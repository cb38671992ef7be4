// The Firestore and Pub/Sub emulators on free loopback ports, for tests, the
// benchmark and local runs, stopped with their whole process group: `gcloud`
// is a Python wrapper that starts a java child, and killing only the wrapper
// leaves java running.
import { spawn, type ChildProcess } from 'node:child_process';
import { freeLoopbackPort } from '../../shared/net.js';

export interface Emulator {
  readonly host: string;
  stop(): Promise<void>;
}

export interface Emulators {
  readonly firestoreHost: string;
  readonly pubsubHost: string;
  readonly projectId: string;
  stop(): Promise<void>;
}

const READY_TIMEOUT_MS = 90_000;
/** Longer than the watchdog's own 4 s, so that it, not we, decides when to KILL. */
const STOP_GRACE_MS = 8_000;

/** Starts both emulators in parallel; if either fails, stops the other and throws. */
export async function startEmulatorPair(projectId: string): Promise<Emulators> {
  const started = await Promise.allSettled([startFirestore(), startPubsub(projectId)]);
  const ok = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const stop = async () => {
    await Promise.all(ok.map((e) => e.stop()));
  };
  const failed = started.find((s) => s.status === 'rejected');
  if (failed) {
    await stop();
    throw failed.reason;
  }
  return { firestoreHost: ok[0].host, pubsubHost: ok[1].host, projectId, stop };
}

export async function startFirestore(): Promise<Emulator> {
  const port = await freeLoopbackPort();
  const host = `127.0.0.1:${port}`;
  const child = launch(['emulators', 'firestore', 'start', `--host-port=${host}`]);
  await ready(child, host, '/', 'Firestore emulator');
  return { host, stop: () => stopGroup(child) };
}

export async function startPubsub(projectId: string): Promise<Emulator> {
  const port = await freeLoopbackPort();
  const host = `127.0.0.1:${port}`;
  const child = launch(['beta', 'emulators', 'pubsub', 'start', `--host-port=${host}`, `--project=${projectId}`]);
  await ready(child, host, `/v1/projects/${projectId}/topics`, 'Pub/Sub emulator');
  return { host, stop: () => stopGroup(child) };
}

/**
 * Runs the emulator under a small shell that ends it when our end of its stdin
 * closes: on stop, and also when this process dies without stopping it (kill
 * -9), which no exit handler can catch. gcloud makes itself the leader of a
 * process group of its own, with java in it; killing only the wrapper would
 * leave java running. So the shell signals that group: TERM, up to 4 s to go,
 * then KILL; and its own group too, in case gcloud made none. Should gcloud
 * end by itself (a port taken, a component missing), the shell ends with it,
 * so that the caller sees the failure at once.
 */
const WATCHDOG = [
  // A job started with & reads /dev/null, not our stdin: the reader below gets it as fd 3.
  'exec 3<&0',
  "trap '' TERM", // the shell outlives TERM to the group; gcloud gets the default back
  '(trap - TERM; exec "$@" 3<&-) & group=$!',
  'stop() {',
  '  kill -TERM -$group $group 2>/dev/null',
  '  i=0; while kill -0 -$group 2>/dev/null && [ $i -lt 40 ]; do sleep 0.1; i=$((i+1)); done',
  '  kill -KILL -$group 2>/dev/null; kill -KILL 0',
  '}',
  'trap stop USR1',
  '(cat <&3 > /dev/null; kill -USR1 $$) &',
  'wait $group',
  'kill -KILL -$group 2>/dev/null; kill -KILL 0',
].join('\n');

function launch(args: string[]): ChildProcess {
  // detached: the shell leads its own process group, so -pid reaches gcloud and java too.
  const child = spawn('sh', ['-c', WATCHDOG, 'watchdog', 'gcloud', ...args], {
    detached: true,
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, CLOUDSDK_CORE_DISABLE_PROMPTS: '1' },
  });
  let log = '';
  const keep = (chunk: Buffer) => {
    log = (log + chunk.toString('utf8')).slice(-4000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  (child as ChildProcess & { recentLog: () => string }).recentLog = () => log;
  return child;
}

async function ready(child: ChildProcess, host: string, path: string, what: string): Promise<void> {
  let exited = false;
  child.once('exit', () => {
    exited = true;
  });
  try {
    await waitFor(
      async () => {
        if (exited)
          throw new Error(`${what} exited early: ${(child as ChildProcess & { recentLog: () => string }).recentLog()}`);
        try {
          const res = await fetch(`http://${host}${path}`, { signal: AbortSignal.timeout(2000) });
          return res.ok ? true : undefined;
        } catch {
          return undefined;
        }
      },
      READY_TIMEOUT_MS,
      `${what} on ${host}`,
    );
  } catch (err) {
    await stopGroup(child);
    throw err;
  }
}

/** Closes the watchdog's stdin (it ends the group), SIGTERM to the whole group too, then SIGKILL after a grace period; resolves when the group is gone. */
export async function stopGroup(child: ChildProcess): Promise<void> {
  const pid = child.pid;
  if (pid === undefined) return;
  child.stdin?.end();
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-pid, sig);
      return true;
    } catch {
      return false; // ESRCH: the group is already gone
    }
  };
  if (!signal('SIGTERM')) return;
  const deadline = Date.now() + STOP_GRACE_MS;
  while (Date.now() < deadline) {
    if (!groupAlive(pid)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  signal('SIGKILL');
  const hardDeadline = Date.now() + STOP_GRACE_MS;
  while (groupAlive(pid) && Date.now() < hardDeadline) await new Promise((r) => setTimeout(r, 50));
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitFor<T>(check: () => Promise<T | undefined>, ms: number, what: string): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
