// The MLLP port the three listeners share, over real loopback sockets: who
// may connect, the limits in all and per address, a silent connection giving
// way only where the listener asks for it, and TLS only when configured.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { connect as tlsConnect } from 'node:tls';
import type { MessageHandler } from '../../../edge/hl7/connection.js';
import { mllpFrame } from '../../../edge/hl7/mllp.js';
import { MllpServer, type ConnectRefusal, type MllpServerOptions } from '../../../edge/hl7/mllpServer.js';
import { createLogger } from '../../../edge/log.js';
import { tempDir } from '../../helpers/env.js';
import { MllpClient } from '../../helpers/mllp.js';
import { selfSignedCert } from '../../helpers/tls.js';

/** Answers each message AA with its own text as MSA-2. */
const echo: MessageHandler = {
  handle: async (bytes) => ({ code: 'AA', ack: `MSH|^~\\&|GW\rMSA|AA|${bytes.toString()}\r` }),
  overlong: async () => ({ code: 'AR', ack: 'MSH|^~\\&|GW\rMSA|AR|\r' }),
};

interface Seen {
  refused: Array<[string, ConnectRefusal]>;
  evicted: string[];
  open: number[];
}

async function started(t: { teardown(fn: () => unknown): void }, options: Partial<MllpServerOptions> = {}) {
  const seen: Seen = { refused: [], evicted: [], open: [] };
  const server = new MllpServer({
    host: '127.0.0.1',
    port: 0,
    handler: echo,
    log: createLogger('silent'),
    maxMessageBytes: 4096,
    firstMessageTimeoutMs: 0,
    idleTimeoutMs: 0,
    maxConnections: 2,
    evictSilent: false,
    onRefused: (address, reason) => seen.refused.push([address, reason]),
    onEvicted: (address) => seen.evicted.push(address),
    onConnections: (open) => seen.open.push(open),
    onAnswer: () => {},
    onFault: () => {},
    ...options,
  });
  await server.listen();
  t.teardown(() => server.close(500));
  return { server, seen };
}

async function closedSoon(client: MllpClient, ms = 5000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!client.closed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  return client.closed;
}

t.test('messages pipelined on one connection are answered in order, and the open count follows', async (t) => {
  const { server, seen } = await started(t);
  const client = await MllpClient.connect(t, server.port!);
  for (const id of ['a', 'b', 'c']) client.send(id);
  const acks = await client.waitForAcks(3);
  t.same(
    acks.map((a) => a.controlId),
    ['a', 'b', 'c'],
  );
  t.equal(server.connections, 1);
  client.end();
  t.ok(await closedSoon(client));
  while (server.connections) await new Promise((r) => setTimeout(r, 10));
  t.same(seen.open, [1, 0]);
});

t.test('an address it does not admit is refused at connect, before any limit', async (t) => {
  const { server, seen } = await started(t, { admits: (a) => a === '127.0.0.2' });
  const other = await MllpClient.connect(t, server.port!);
  t.ok(await closedSoon(other), 'closed at once');
  t.same(seen.refused, [['127.0.0.1', 'address']]);
  const admitted = await MllpClient.connect(t, server.port!, '127.0.0.2');
  admitted.send('x');
  t.equal((await admitted.waitForAcks(1))[0].controlId, 'x');
});

t.test('the per-address limit leaves room for another host', async (t) => {
  const { server, seen } = await started(t, { maxConnections: 3, maxConnectionsPerAddress: 1 });
  const first = await MllpClient.connect(t, server.port!);
  const second = await MllpClient.connect(t, server.port!);
  t.ok(await closedSoon(second));
  const elsewhere = await MllpClient.connect(t, server.port!, '127.0.0.2');
  elsewhere.send('y');
  t.equal((await elsewhere.waitForAcks(1))[0].controlId, 'y');
  t.notOk(first.closed);
  t.same(seen.refused, [['127.0.0.1', 'per-address']]);
});

t.test('when full, a silent connection gives way only where the listener asks for it', async (t) => {
  for (const evictSilent of [false, true]) {
    await t.test(`evictSilent ${evictSilent}`, async (t) => {
      const { server, seen } = await started(t, { maxConnections: 2, evictSilent });
      const spoke = await MllpClient.connect(t, server.port!);
      spoke.send('1');
      await spoke.waitForAcks(1);
      const silent = await MllpClient.connect(t, server.port!);
      while (server.connections < 2) await new Promise((r) => setTimeout(r, 10));
      const late = await MllpClient.connect(t, server.port!);
      if (evictSilent) {
        t.ok(await closedSoon(silent), 'the silent one is closed');
        late.send('2');
        t.equal((await late.waitForAcks(1))[0].controlId, '2', 'the new one is answered');
        t.same(seen.evicted, ['127.0.0.1']);
        t.same(seen.refused, []);
      } else {
        t.ok(await closedSoon(late), 'the new one is refused');
        t.notOk(silent.closed, 'the silent one stays');
        t.same(seen.refused, [['127.0.0.1', 'full']]);
        t.same(seen.evicted, []);
      }
      t.notOk(spoke.closed, 'a connection that spoke is never the one to go');
    });
  }
});

t.test('with TLS the port speaks MLLP inside TLS, and a failed handshake is reported', async (t) => {
  const dir = tempDir(t);
  const cert = selfSignedCert(dir, 'mllp', 'localhost', '127.0.0.1');
  const tlsErrors: Error[] = [];
  const { server } = await started(t, {
    tls: { cert: readFileSync(cert.cert), key: readFileSync(cert.key) },
    onTlsError: (err) => tlsErrors.push(err),
  });
  const ack = await new Promise<string>((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port: server.port!, ca: readFileSync(cert.cert) }, () =>
      socket.write(mllpFrame('z')),
    );
    socket.on('data', (d: Buffer) => {
      resolve(d.toString());
      socket.destroy();
    });
    socket.on('error', reject);
  });
  t.match(ack, /MSA\|AA\|z/);
  const plain = await MllpClient.connect(t, server.port!);
  plain.send('plain');
  t.ok(await closedSoon(plain), 'a plain MLLP frame on the TLS port is not answered');
  t.equal(plain.acks.length, 0);
  while (!tlsErrors.length) await new Promise((r) => setTimeout(r, 10));
  t.ok(tlsErrors.length >= 1, 'the failed handshake is reported');
});
