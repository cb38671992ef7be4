// A gateway for tests: a config with known devices and users (cheap hashes),
// written as YAML, started in-process or as a real child process.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import mqtt, { type MqttClient } from 'mqtt';
import { deviceVerifier } from '../../edge/auth/deviceSecret.js';
import { hashPassword } from '../../edge/auth/password.js';
import { loadConfig, type GatewayConfig } from '../../edge/config/load.js';
import { Gateway, RUN_FILE, type RunInfo } from '../../edge/gateway.js';
import { createLogger } from '../../edge/log.js';
import { freePort, tempDir, waitFor } from './env.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const WARDGATE_BIN = join(ROOT, 'bin', 'wardgate.js');

/** Every test principal's password is its name plus this suffix. */
export const PASSWORD_SUFFIX = '-test-password';
export const passwordOf = (name: string) => `${name}${PASSWORD_SUFFIX}`;

const hashes = new Map<string, Promise<string>>();
/** A low-cost hash (2^10) so tests stay fast; the format is the production one. */
export function testHash(name: string): Promise<string> {
  let hash = hashes.get(name);
  if (!hash) {
    hash = hashPassword(passwordOf(name), { logN: 10 });
    hashes.set(name, hash);
  }
  return hash;
}

/** A device's fast verifier (wardgate passwd --device) for the test password, as devices are configured now. */
export function testDeviceVerifier(name: string): string {
  return deviceVerifier(passwordOf(name));
}

export interface TestWard {
  devices?: Array<{ id: string; bed?: string }>;
  users?: Array<{ name: string; role: 'viewer' | 'nurse' | 'admin' }>;
  extra?: Record<string, unknown>;
  /** Environment for secrets named by the config (secretHashEnv, webhook secretEnv). */
  env?: NodeJS.ProcessEnv;
}

interface T {
  teardown(fn: () => unknown): void;
}

/** Writes a config file into a fresh temp dir; ports are free loopback ports. */
export async function writeTestConfig(
  t: T,
  ward: TestWard = {},
): Promise<{ dir: string; file: string; mqttPort: number; httpPort: number }> {
  const dir = tempDir(t);
  const mqttPort = await freePort();
  const httpPort = await freePort();
  const devices = ward.devices ?? [
    { id: 'pox-1', bed: '1' },
    { id: 'pox-2', bed: '2' },
  ];
  const users = ward.users ?? [
    { name: 'station', role: 'viewer' },
    { name: 'nurse-ann', role: 'nurse' },
    { name: 'biomed', role: 'admin' },
  ];
  const doc = {
    ward: '3B',
    gateway: { id: 'gw-test', dataDir: './data' },
    mqtt: { host: '127.0.0.1', port: mqttPort },
    http: { host: '127.0.0.1', port: httpPort },
    devices: devices.map((d) => ({ ...d, secretHash: testDeviceVerifier(d.id) })),
    users: await Promise.all(users.map(async (u) => ({ ...u, secretHash: await testHash(u.name) }))),
    log: { level: 'warn' },
  };
  merge(doc, ward.extra ?? {});
  const file = join(dir, 'wardgate.yaml');
  writeFileSync(file, stringify(doc));
  return { dir, file, mqttPort, httpPort };
}

/** A gateway running in this process, stopped at teardown. */
export async function startTestGateway(
  t: T,
  ward: TestWard = {},
): Promise<{ gateway: Gateway; config: GatewayConfig; url: string }> {
  const env = ward.env ?? {};
  for (let attempt = 1; ; attempt++) {
    const { file, mqttPort, httpPort } = await writeTestConfig(t, ward);
    const config = loadConfig({ file, env });
    const gateway = new Gateway(config, { log: createLogger('silent'), env });
    try {
      await gateway.start();
    } catch (err) {
      // A port found free can be taken before the listener binds it (any outgoing connection may get it as its
      // own): the start is tried again on newly drawn ports. A port the test chose itself is the test's to retry.
      const { code, port } = err as { code?: string; port?: number };
      if (code === 'EADDRINUSE' && (port === mqttPort || port === httpPort) && attempt < 3) continue;
      throw err;
    }
    t.teardown(() => gateway.stop());
    return { gateway, config, url: `mqtt://127.0.0.1:${config.mqtt.port}` };
  }
}

/**
 * An mqtt.js client logged in as a test principal; ended at teardown. Its
 * client identifier is the principal's name (the broker refuses another's).
 */
export async function connectAs(
  t: T,
  url: string,
  name: string,
  options: mqtt.IClientOptions = {},
): Promise<MqttClient> {
  const client = await mqtt.connectAsync(url, {
    ...(name !== '' && { clientId: name }),
    username: name,
    password: passwordOf(name),
    reconnectPeriod: 0,
    connectTimeout: 5000,
    ...options,
  });
  t.teardown(() => client.endAsync(true));
  return client;
}

export interface Daemon {
  child: ChildProcess;
  run: RunInfo;
  output(): string;
  /** Resolves with the exit code (or signal name) when the process ends. */
  exited: Promise<number | string>;
}

/** Runs `wardgate ARGS` as a child process, collecting its output; killed at teardown if still running. */
export function spawnWardgate(t: T, args: string[], env: NodeJS.ProcessEnv = {}): Omit<Daemon, 'run'> {
  const child = spawn(process.execPath, [WARDGATE_BIN, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)),
  );
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    return exited;
  });
  return { child, output: () => out, exited };
}

/** Starts `wardgate edge --config FILE` as a child process and waits for its run file. */
export async function spawnDaemon(t: T, file: string, dataDir: string, env: NodeJS.ProcessEnv = {}): Promise<Daemon> {
  const { child, output, exited } = spawnWardgate(t, ['edge', '--config', file], env);
  const run = await waitFor(
    () => {
      if (child.exitCode !== null) throw new Error(`daemon exited with ${child.exitCode}: ${output()}`);
      try {
        const info = JSON.parse(readFileSync(join(dataDir, RUN_FILE), 'utf8')) as RunInfo;
        return info.pid === child.pid ? info : undefined;
      } catch {
        return undefined;
      }
    },
    15_000,
    'the daemon to start',
  );
  return { child, run, output, exited };
}

/** Deep-merges plain objects from `extra` into `into` (arrays and scalars replace). */
function merge(into: Record<string, unknown>, extra: Record<string, unknown>): void {
  for (const [key, value] of Object.entries(extra)) {
    const current = into[key];
    if (isObject(value) && isObject(current)) merge(current, value);
    else into[key] = value;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
