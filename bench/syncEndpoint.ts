// The benchmark's cloud endpoint, in a worker thread so that it does not share
// an event loop with the sync it measures: speaks the ingestBatch contract as
// the real function does before Firestore (signature, replay, bounded gunzip,
// full validation, idempotent store of each item by (gateway, stream, n)),
// with an in-memory store instead of Firestore.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parentPort, workerData } from 'node:worker_threads';
import { decodeBatchBody, validateBatch, verifySignature } from '../shared/sync/index.js';
import { syncStreams } from '../shared/sync/wire.js';
import { isRejection } from '../shared/timestamp.js';

const secret = (workerData as { secret: string }).secret;
const stored = new Map<string, Set<number>>();
const seen = new Set<string>();
const stats = { requests: 0, readings: 0, items: 0, refused: 0 };

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    const answer = (status: number, json: unknown) =>
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(json));
    // The sync's start check (the highest number held per stream), before its first batch: not counted as a batch request.
    if (req.url === '/verifyRange')
      return void answer(200, heads(JSON.parse(body.toString('utf8')) as { gateway: string }));
    stats.requests++;
    const sig = req.headers['x-wardgate-signature'] as string | undefined;
    const check = verifySignature(
      secret,
      req.headers['x-wardgate-timestamp'] as string | undefined,
      sig,
      body,
      Date.now(),
    );
    if (!check.ok || seen.has(sig!)) {
      stats.refused++;
      return answer(401, {
        ok: false,
        error: { code: check.ok ? 'WG_ERR_REPLAY' : 'WG_ERR_SIGNATURE', message: 'refused' },
      });
    }
    seen.add(sig!);
    const decoded = decodeBatchBody(body);
    const batch = decoded.ok ? validateBatch(decoded.json, { now: Date.now(), maxFutureMs: 300_000 }) : decoded.error;
    if (isRejection(batch)) {
      stats.refused++;
      return answer(400, { ok: false, error: batch });
    }
    const counts = { readings: 0, alarms: 0, statuses: 0, audit: 0 };
    for (const stream of syncStreams) {
      const key = `${batch.gateway}/${stream}`;
      let set = stored.get(key);
      if (!set) stored.set(key, (set = new Set()));
      for (const item of batch[stream] ?? []) {
        if (set.has(item.n)) continue;
        set.add(item.n);
        counts[stream]++;
      }
    }
    stats.readings += counts.readings;
    const fresh = counts.readings + counts.alarms + counts.statuses + counts.audit;
    stats.items += fresh;
    answer(200, { ok: true, batchId: batch.batchId, stored: counts, skipped: 0, duplicate: fresh === 0 });
  });
});
function heads(request: { gateway: string }) {
  const top = (stream: string) => {
    let max = 0;
    for (const n of stored.get(`${request.gateway}/${stream}`) ?? []) max = Math.max(max, n);
    return max;
  };
  return {
    ok: true,
    gateway: request.gateway,
    ranges: [],
    heads: Object.fromEntries(syncStreams.map((s) => [s, top(s)])),
  };
}

server.listen(0, '127.0.0.1', () => parentPort!.postMessage({ port: (server.address() as AddressInfo).port }));
parentPort!.on('message', (msg: string) => {
  if (msg === 'stats') parentPort!.postMessage({ stats: { ...stats } });
  if (msg === 'stop') server.close(() => process.exit(0));
});
