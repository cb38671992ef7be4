// How the command line talks to the running daemon: the edge API on loopback,
// authenticated by the token in the daemon's 0600 run file. Where the port
// speaks HTTPS, the daemon must present the very certificate its config names
// (pinned by fingerprint: it is reached by a loopback address, not the name the
// certificate was made for) before the token is sent.
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { connect } from 'node:tls';
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
    throw new DaemonNotRunning(
      `the daemon is not running (no live run file in ${config.gateway.dataDir}); start it with wardgate edge`,
    );
  }
  const host = config.http.host === '0.0.0.0' || config.http.host === '::' ? '127.0.0.1' : config.http.host;
  const pinned = config.http.tls && new X509Certificate(readFileSync(config.http.tls.cert)).fingerprint256;
  return {
    async call(method, path, body) {
      const socket = pinned ? await pinnedTls(host, run.ports.http!, pinned) : undefined;
      const payload = body === undefined ? undefined : JSON.stringify(body);
      const res = await new Promise<IncomingMessage>((resolve, reject) => {
        const req = request({
          host,
          port: run.ports.http,
          method,
          path,
          timeout: 10_000,
          headers: {
            authorization: `Bearer ${run.token}`,
            'content-type': 'application/json',
            ...(payload !== undefined && { 'content-length': Buffer.byteLength(payload) }),
          },
          ...(socket && { createConnection: () => socket }),
        });
        req.once('response', resolve);
        req.once('error', reject);
        req.once('timeout', () => req.destroy(new Error('the daemon did not answer within 10 s')));
        req.end(payload);
      });
      const chunks: Buffer[] = [];
      for await (const chunk of res) chunks.push(chunk as Buffer);
      return {
        status: res.statusCode!,
        body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>,
      };
    },
  };
}

/** A TLS connection to the daemon, once it has shown the certificate with this SHA-256 fingerprint. */
function pinnedTls(host: string, port: number, fingerprint: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    // The chain is not checked against a CA: the pin is the check.
    const socket = connect({ host, port, rejectUnauthorized: false, timeout: 10_000 });
    socket.once('error', reject);
    socket.once('timeout', () => socket.destroy(new Error('the daemon did not answer within 10 s')));
    socket.once('secureConnect', () => {
      if (socket.getPeerCertificate().fingerprint256 === fingerprint) return resolve(socket);
      socket.destroy();
      reject(
        new Error(
          `the daemon on port ${port} did not present the certificate named by http.tls.cert; refusing to send it the local token`,
        ),
      );
    });
  });
}

/** Turns an API refusal into the command's error (exit code 2 for bad input, 1 otherwise). */
export function check(result: { status: number; body: Record<string, unknown> }): Record<string, unknown> {
  if (result.status < 300) return result.body;
  const { message: why, code } = result.body;
  const message = `${typeof why === 'string' ? why : 'refused'} (${typeof code === 'string' ? code : result.status})`;
  if (result.status === 400) throw new WardgateError('WG_ERR_USAGE', message);
  throw new Error(message);
}
