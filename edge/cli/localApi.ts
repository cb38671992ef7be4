// How the command line talks to the running daemon: the edge API on loopback,
// authenticated by the token in the daemon's 0600 run file.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { WardgateError } from '../../shared/errors.js';
import { loadConfig } from '../config/load.js';
import { RUN_FILE, type RunInfo } from '../gateway.js';

export class DaemonNotRunning extends Error {}

export interface LocalApi {
  call(method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }>;
}

export function localApi(configFile: string | undefined, env: NodeJS.ProcessEnv): LocalApi {
  const config = loadConfig({ ...(configFile !== undefined && { file: configFile }), env });
  let run: RunInfo;
  try {
    run = JSON.parse(readFileSync(join(config.gateway.dataDir, RUN_FILE), 'utf8')) as RunInfo;
    process.kill(run.pid, 0);
  } catch {
    throw new DaemonNotRunning(`the daemon is not running (no live run file in ${config.gateway.dataDir}); start it with wardgate edge`);
  }
  const host = config.http.host === '0.0.0.0' || config.http.host === '::' ? '127.0.0.1' : config.http.host;
  const base = `http://${host.includes(':') ? `[${host}]` : host}:${run.ports.http}`;
  return {
    async call(method, path, body) {
      const res = await fetch(`${base}${path}`, {
        method,
        headers: { authorization: `Bearer ${run.token}`, 'content-type': 'application/json' },
        ...(body !== undefined && { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(10_000),
      });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    },
  };
}

/** Turns an API refusal into the command's error (exit code 2 for bad input, 1 otherwise). */
export function check(result: { status: number; body: Record<string, unknown> }): Record<string, unknown> {
  if (result.status < 300) return result.body;
  const message = `${String(result.body.message ?? 'refused')} (${String(result.body.code ?? result.status)})`;
  if (result.status === 400) throw new WardgateError('WG_ERR_USAGE', message);
  throw new Error(message);
}
