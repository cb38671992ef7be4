// Answers that every batch would get the same way pause the sync instead of
// quarantining batch after batch: a TLS-inspecting proxy that re-chunks the
// body (411 WG_ERR_LENGTH) or adds a Content-Encoding (415 WG_ERR_ENCODING)
// does it to every request, not to one batch.
import t, { type Test } from 'tap';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Transport } from '../../../edge/sync/transport.js';
import { buildBatch, encodeBatch } from '../../../shared/sync/codec.js';

const batch = buildBatch({
  gateway: 'gw-1',
  ward: '3B',
  created: Date.now(),
  alarms: [],
  statuses: [],
  readings: [{ n: 1, device: 'pox-1', seq: 1, code: 'spo2', value: 97, unit: '%', ts: Date.now(), flags: 0, bed: '1' }],
});

/** A server that answers every request with one status and error code, as the cloud's request guard does. */
async function answering(t: Test, status: number, code: string): Promise<string> {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code, message: `refused: ${code}` } }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const cases: Array<[number, string, boolean]> = [
  [411, 'WG_ERR_LENGTH', true],
  [415, 'WG_ERR_ENCODING', true],
  [401, 'WG_ERR_SIGNATURE', true],
  [400, 'WG_ERR_SCHEMA', false], // this batch only
];

for (const [status, code, pause] of cases) {
  t.test(
    `${status} ${code}: ${pause ? 'quarantined and the sync paused' : 'quarantined, the sync goes on'}`,
    async (t) => {
      const url = await answering(t, status, code);
      const transport = new Transport({
        url,
        secret: 'gw-test-cloud-secret-0123456789abcdef',
        timeoutMs: 5000,
        now: Date.now,
      });
      const attempt = await transport.send(batch, encodeBatch(batch));
      t.match(attempt, { outcome: 'quarantine', status, code, pause });
    },
  );
}
