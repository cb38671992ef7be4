// The request timeout fires even when garbage collection runs while the cloud
// stalls: a real server that accepts the connection and the request and never
// answers (as a SIGSTOPped cloud does), with GC forced throughout the wait.
import t from 'tap';
import { createServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Transport } from '../../../edge/sync/transport.js';
import { buildBatch, encodeBatch } from '../../../shared/sync/codec.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

t.setTimeout(60_000);

async function stalledServer() {
  const sockets = new Set<Socket>();
  let connections = 0;
  const server = createServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.on('data', () => undefined); // read the request, answer nothing
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    connections: () => connections,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

const batch = buildBatch({
  gateway: 'gw-1',
  ward: '3B',
  created: Date.now(),
  alarms: [],
  statuses: [],
  readings: [{ n: 1, device: 'pox-1', seq: 1, code: 'spo2', value: 97, unit: '%', ts: Date.now(), flags: 0, bed: '1' }],
});

for (const withCancel of [true, false]) {
  t.test(
    `a stalled cloud times out under forced GC (${withCancel ? 'with' : 'without'} a cancel signal)`,
    async (t) => {
      const server = await stalledServer();
      t.teardown(server.close);
      const cancel = new AbortController();
      const transport = new Transport({
        url: server.url,
        secret: 'gw-test-cloud-secret-0123456789abcdef',
        timeoutMs: 1000,
        now: Date.now,
      });
      const started = Date.now();
      const collector = setInterval(gc, 20);
      const watchdog = new Promise<'stuck'>((resolve) => setTimeout(() => resolve('stuck'), 10_000).unref());
      try {
        const attempt = await Promise.race([
          transport.send(batch, encodeBatch(batch), withCancel ? cancel.signal : undefined),
          watchdog,
        ]);
        const elapsed = Date.now() - started;
        t.not(attempt, 'stuck', 'the attempt ended: no answer does not hold it forever');
        if (attempt === 'stuck') return;
        t.match(attempt, { outcome: 'retry', status: null, code: 'timeout' }, 'reported as a timeout, to be retried');
        t.ok(elapsed >= 950 && elapsed < 9_000, `fired near its 1000 ms (${elapsed} ms)`);
        t.ok(server.connections() > 0, 'the cloud accepted the connection: a stall, not a refusal');
      } finally {
        clearInterval(collector);
      }
    },
  );
}

t.test('a cancel still ends an attempt at once, before its timeout', async (t) => {
  const server = await stalledServer();
  t.teardown(server.close);
  const cancel = new AbortController();
  const transport = new Transport({
    url: server.url,
    secret: 'gw-test-cloud-secret-0123456789abcdef',
    timeoutMs: 30_000,
    now: Date.now,
  });
  const started = Date.now();
  setTimeout(() => cancel.abort(new Error('stopping')), 200);
  const attempt = await transport.send(batch, encodeBatch(batch), cancel.signal);
  t.equal(attempt.outcome, 'retry');
  t.not((attempt as { code: string }).code, 'timeout', 'a cancel is not reported as a timeout');
  t.ok(Date.now() - started < 10_000, 'ended long before the 30 s timeout');
});
