// `wardgate demo` (what `npm start` runs): a whole ward on one machine. Starts,
// in order, the emulators and local cloud functions (when gcloud is
// installed), the serial cables, the edge daemon, the simulated devices; prints
// where to look; on Ctrl-C stops them in reverse and leaves no port bound.
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ExitCode, parseCommandArgs, type Command, type CommandIO } from '../../shared/cli.js';
import { WardgateError } from '../../shared/errors.js';
import { parseDuration } from '../scenarios.js';
import { createLinks, Session } from '../session.js';
import { Ward, demoPlans } from '../ward.js';
import { onPath, readJson, startChild, waitForChild, type Child } from './children.js';
import { freeLoopbackPort } from '../../shared/net.js';
import { startDemoCloud, type DemoCloud } from './localCloud.js';
import { printGuide } from './guide.js';
import { secret, writeDemoFiles } from './wardConfig.js';

const EDGE_READY_MS = 30_000;
/** The demo's spot checks, paced so that NEWS2 has fresh inputs within minutes. */
const DEMO_CADENCE = { nibpEveryS: 180, tempEveryS: 300 };

const help = `Usage: wardgate demo [options]

A whole ward on this machine: the Firestore and Pub/Sub emulators and the cloud
functions (when gcloud is installed), the edge daemon, and eight simulated beds
with a mix of scenarios. Prints the dashboard URL, MQTT topics and credentials
(fresh for every run). Ctrl-C stops everything.

Options:
      --seed N        the simulated ward's seed (default 1)
      --speed M       scenario seconds per real second (default 1)
      --duration D    stop by itself after D (e.g. 10m; default: run until Ctrl-C)
      --no-cloud      edge and simulators only, even when gcloud is installed
      --dir DIR       keep the run's files (config, credentials, data) in DIR;
                      default: a temporary directory removed at the end`;

/** bin/wardgate.js, from the built (dist/simulators/demo) or the source (simulators/demo) layout. */
function wardgateBin(): string {
  for (const up of ['../../../bin/wardgate.js', '../../bin/wardgate.js']) {
    const path = fileURLToPath(new URL(up, import.meta.url));
    if (existsSync(path)) return path;
  }
  throw new Error('bin/wardgate.js not found');
}

export const demoCommand: Command = {
  name: 'demo',
  summary: 'a whole simulated ward in one command: cloud emulators, edge, eight beds',
  help,
  async run(io: CommandIO): Promise<number> {
    const { values: v } = parseCommandArgs(io.argv, {
      seed: { type: 'string' },
      speed: { type: 'string' },
      duration: { type: 'string' },
      'no-cloud': { type: 'boolean' },
      dir: { type: 'string' },
    });
    if (v.help) {
      io.stdout.write(`${help}\n`);
      return ExitCode.ok;
    }
    const seed = Number(v.seed ?? '1');
    if (!Number.isSafeInteger(seed) || seed < 0)
      throw new WardgateError('WG_ERR_USAGE', 'expected a whole number >= 0', '--seed');
    const speed = Number(v.speed ?? '1');
    if (!(speed > 0 && speed <= 1000))
      throw new WardgateError('WG_ERR_USAGE', 'expected a number above 0 and at most 1000', '--speed');
    const limitS = v.duration === undefined ? undefined : parseDuration(v.duration, '--duration');
    const keep = v.dir !== undefined;
    const dir = keep ? resolve(v.dir!) : mkdtempSync(join(tmpdir(), 'wardgate-demo-'));
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const stopping = new AbortController();
    const onSignal = () => stopping.abort();
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    const stack: Array<{ name: string; stop: () => Promise<void> }> = [];
    const say = (line: string) => io.stdout.write(`wardgate demo: ${line}\n`);
    try {
      await start(io, dir, { seed, speed, limitS, cloud: v['no-cloud'] !== true }, stack, stopping.signal, say);
      return ExitCode.ok;
    } finally {
      say('stopping');
      for (const part of stack.reverse()) {
        await part
          .stop()
          .catch((err: unknown) =>
            io.stderr.write(`wardgate demo: stopping ${part.name}: ${(err as Error).message}\n`),
          );
      }
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      if (!keep) rmSync(dir, { recursive: true, force: true });
      say('stopped');
    }
  },
};

interface DemoOptions {
  readonly seed: number;
  readonly speed: number;
  readonly limitS: number | undefined;
  readonly cloud: boolean;
}

async function start(
  io: CommandIO,
  dir: string,
  o: DemoOptions,
  stack: Array<{ name: string; stop: () => Promise<void> }>,
  signal: AbortSignal,
  say: (l: string) => void,
): Promise<void> {
  const bin = wardgateBin();
  const serial = onPath('socat', io.env);
  const plans = demoPlans(serial);
  const ward = new Ward({ seed: o.seed, duration: o.limitS ?? 7 * 24 * 3600, plans, cadence: DEMO_CADENCE });
  const ports = { mqtt: await freeLoopbackPort(), http: await freeLoopbackPort(), hl7: await freeLoopbackPort() };

  let cloud: DemoCloud | undefined;
  const apiToken = secret();
  const cloudSecret = secret(32);
  const gcloud = onPath('gcloud', io.env);
  if (o.cloud && gcloud) {
    say('starting the Firestore and Pub/Sub emulators and the cloud functions (this can take a minute)');
    cloud = await startDemoCloud(bin, cloudSecret, apiToken, io.env);
    stack.push({ name: 'cloud', stop: () => cloud!.stop() });
  }
  if (signal.aborted) return;
  const files = await writeDemoFiles(dir, plans, ports, cloud && { url: cloud.url, secret: cloudSecret });

  const session = new Session(
    createLinks(plans, {
      mqttUrl: `mqtt://127.0.0.1:${ports.mqtt}`,
      hl7: { host: '127.0.0.1', port: ports.hl7 },
      credentials: files.credentials,
      stateDir: join(dir, 'simulator'),
      ptyDir: join(dir, 'tty'),
    }),
  );
  stack.push({ name: 'simulated devices', stop: () => session.stop() });
  await session.start('serial');

  const edge: Child = startChild('wardgate edge', process.execPath, [bin, 'edge', '--config', files.configFile], {
    ...io.env,
    ...files.edgeEnv,
  });
  stack.push({ name: 'edge', stop: () => edge.stop() });
  const runFile = join(dir, 'edge-data', 'wardgate.run.json');
  await waitForChild(
    edge,
    () => {
      const run = readJson<{ pid: number }>(runFile);
      return run?.pid === edge.process.pid ? run : undefined;
    },
    EDGE_READY_MS,
    'the edge daemon',
  );
  await session.start('network');

  const startTs = Date.now();
  writeFileSync(join(dir, 'labels.json'), `${JSON.stringify(ward.labels(o.speed, startTs), null, 2)}\n`, {
    mode: 0o600,
  });
  // For scripts and tests: what this run started, so they can check it all stopped.
  writeFileSync(
    join(dir, 'demo.json'),
    `${JSON.stringify({
      pid: process.pid,
      ports: { ...ports, ...(cloud && { cloud: Number(new URL(cloud.url).port) }) },
      children: { edge: edge.process.pid, ...(cloud && { cloud: cloud.child.process.pid }) },
      emulators: cloud ? { firestore: cloud.emulators.firestoreHost, pubsub: cloud.emulators.pubsubHost } : null,
    })}\n`,
    { mode: 0o600 },
  );
  printGuide(io.stdout, {
    dir,
    ports,
    files,
    bin,
    plans,
    cloud: cloud ? { url: cloud.url, apiToken } : gcloud ? 'off' : 'no-gcloud',
    serial,
    seed: o.seed,
    speed: o.speed,
  });

  // Its own stop signal: Ctrl-C, and also an edge that died, end the run.
  const ending = new AbortController();
  const end = () => ending.abort();
  signal.addEventListener('abort', end, { once: true });
  const run = session.run(ward, o.speed, startTs, ending.signal);
  // The demo ends on Ctrl-C, at --duration, or if the edge dies (said loudly: that is a bug to see).
  const edgeDied = edge.exited.then(() => {
    if (!ending.signal.aborted)
      io.stderr.write(`wardgate demo: the edge daemon exited unexpectedly:\n${edge.output()}\n`);
  });
  await Promise.race([run, edgeDied]);
  end();
  signal.removeEventListener('abort', end);
  await run;
}
