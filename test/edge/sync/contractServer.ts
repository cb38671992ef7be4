// A local HTTP server that speaks the ingestBatch contract (docs/DEPLOY.md):
// verifies the signature, refuses a replayed one, validates the batch with the
// cloud's own validator and stores each item once by its (stream, n) key.
// Its `mode` injects the failures the sync must survive.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { decodeBatchBody, validateBatch, verifySignature, type SyncBatch } from '../../../shared/sync/index.js';
import { isRejection } from '../../../shared/timestamp.js';

export type Mode = 'ok' | 'down' | 'error500' | 'slow' | 'lose200' | 'reject400' | 'reject401';

export interface ContractServer {
  readonly url: string;
  mode: Mode;
  /** Every item stored, by key `readings/1042`. */
  readonly items: Map<string, unknown>;
  /** Raw inflated JSON of every request body, for the pseudonym check. */
  readonly bodies: string[];
  readonly batchIds: string[];
  attempts: number;
  /** The Authorization header of every batch attempt ('' for none). */
  readonly authorizations: string[];
  /** While true, every request (the start check too) is refused 401 WG_ERR_SIGNATURE, as the cloud answers a gateway it has not loaded yet. */
  unknownGateway: boolean;
  /** Requests refused so while unknownGateway was true. */
  refusedUnknown: number;
  stop(): Promise<void>;
}

export interface ContractServerOptions {
  slowMs?: number;
  /** Other functions under the same base URL (edgeConfig), by path. */
  routes?: Record<string, (req: IncomingMessage, res: ServerResponse) => void>;
}

export async function startContractServer(
  secret: string,
  options: ContractServerOptions = {},
): Promise<ContractServer> {
  const seen = new Set<string>();
  const state: ContractServer = {
    url: '',
    mode: 'ok',
    items: new Map(),
    bodies: [],
    batchIds: [],
    attempts: 0,
    authorizations: [],
    unknownGateway: false,
    refusedUnknown: 0,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  // A throw in here is a bug of this test server: left unhandled, it fails the test that met it.
  const server: Server = createServer(
    (req, res) =>
      void (async () => {
        const path = new URL(req.url ?? '/', 'http://localhost').pathname;
        const route = options.routes?.[path];
        if (route) return route(req, res);
        const body = await read(req);
        if (state.unknownGateway) {
          state.refusedUnknown++;
          return void res
            .writeHead(401, { 'content-type': 'application/json' })
            .end(JSON.stringify({ ok: false, error: { code: 'WG_ERR_SIGNATURE', message: 'unknown gateway' } }));
        }
        // The start check of the numbering: the highest number stored per stream, whatever the mode (the modes are the batches').
        if (path === '/verifyRange') return answerHeads(secret, req, body, state.items, res);
        state.attempts++;
        state.authorizations.push(req.headers.authorization ?? '');
        const mode = state.mode;
        if (mode === 'down') return req.socket.destroy();
        try {
          state.bodies.push(gunzipSync(body).toString('utf8'));
        } catch {
          /* not gzip: the validator says so below */
        }
        const answer = (status: number, json: unknown) => {
          res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(json));
        };
        if (mode === 'error500')
          return answer(503, { ok: false, error: { code: 'WG_ERR_UNAVAILABLE', message: 'try later' } });
        if (mode === 'reject401')
          return answer(401, { ok: false, error: { code: 'WG_ERR_SIGNATURE', message: 'bad signature' } });
        const sig = req.headers['x-wardgate-signature'] as string | undefined;
        const check = verifySignature(
          secret,
          req.headers['x-wardgate-timestamp'] as string | undefined,
          sig,
          body,
          Date.now(),
        );
        if (!check.ok) return answer(401, { ok: false, error: { code: 'WG_ERR_SIGNATURE', message: check.message } });
        if (seen.has(sig!)) return answer(401, { ok: false, error: { code: 'WG_ERR_REPLAY', message: 'replayed' } });
        seen.add(sig!);
        const decoded = decodeBatchBody(body);
        if (!decoded.ok) return answer(400, { ok: false, error: decoded.error });
        const batch = validateBatch(decoded.json, { now: Date.now(), maxFutureMs: 300_000 });
        if (isRejection(batch)) return answer(400, { ok: false, error: batch });
        if (mode === 'reject400')
          return answer(400, {
            ok: false,
            error: { code: 'WG_ERR_SCHEMA', message: 'refused for the test', field: 'readings' },
          });
        state.batchIds.push(batch.batchId);
        const stored = store(state.items, batch);
        const ok = {
          ok: true,
          batchId: batch.batchId,
          stored,
          skipped: 0,
          duplicate: stored.readings + stored.alarms + stored.statuses + stored.audit === 0,
        };
        if (mode === 'lose200') return req.socket.destroy();
        if (mode === 'slow') return void setTimeout(() => answer(200, ok), options.slowMs ?? 2000);
        answer(200, ok);
      })(),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  (state as { url: string }).url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return state;
}

function store(items: Map<string, unknown>, batch: SyncBatch) {
  const stored = { readings: 0, alarms: 0, statuses: 0, audit: 0 };
  for (const stream of ['readings', 'alarms', 'statuses', 'audit'] as const) {
    for (const item of batch[stream] ?? []) {
      const key = `${stream}/${item.n}`;
      if (items.has(key)) continue;
      items.set(key, item);
      stored[stream]++;
    }
  }
  return stored;
}

function read(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** verifyRange with `heads` and no ranges: the highest number stored per stream (0 when none). */
function answerHeads(
  secret: string,
  req: IncomingMessage,
  body: Buffer,
  items: Map<string, unknown>,
  res: ServerResponse,
): void {
  const answer = (status: number, json: unknown) =>
    void res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(json));
  const check = verifySignature(
    secret,
    req.headers['x-wardgate-timestamp'] as string | undefined,
    req.headers['x-wardgate-signature'] as string | undefined,
    body,
    Date.now(),
  );
  if (!check.ok) return answer(401, { ok: false, error: { code: 'WG_ERR_SIGNATURE', message: check.message } });
  const request = JSON.parse(body.toString('utf8')) as { gateway: string; ranges: unknown[]; heads?: true };
  if (!request.heads || request.ranges.length > 0)
    return answer(404, { ok: false, error: { code: 'WG_ERR_NOT_FOUND', message: 'only heads here' } });
  const heads = { readings: 0, alarms: 0, statuses: 0, audit: 0 };
  for (const key of items.keys()) {
    const [stream, n] = key.split('/') as [keyof typeof heads, string];
    heads[stream] = Math.max(heads[stream], Number(n));
  }
  answer(200, { ok: true, gateway: request.gateway, ranges: [], heads });
}
