import t from 'tap';
import { readFileSync } from 'node:fs';
import { createServer, connect, type Server } from 'node:net';
import { PORT_RANGE, freeLoopbackPort } from '../../shared/net.js';

t.test(
  'a free port is drawn below the ephemeral range, so no outgoing connection can take it before its listener',
  async (t) => {
    const [first, last] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')
      .trim()
      .split(/\s+/)
      .map(Number);
    const ports = await Promise.all(Array.from({ length: 20 }, () => freeLoopbackPort()));
    for (const port of ports) {
      t.ok(port >= PORT_RANGE.first && port <= PORT_RANGE.last, `${port} in the range`);
      t.ok(port < first || port > last, `${port} outside the ephemeral ports ${first}-${last}`);
    }
    // Each one can be listened on, and a client's own ports (ephemeral) never collide with it.
    const servers: Server[] = [];
    t.teardown(() => Promise.all(servers.map((s) => new Promise((r) => s.close(r)))));
    for (const port of new Set(ports)) {
      const server = createServer((socket) => socket.end());
      await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, '127.0.0.1', resolve));
      servers.push(server);
      const client = connect(port, '127.0.0.1');
      await new Promise<void>((resolve, reject) => client.once('error', reject).once('connect', resolve));
      t.ok(client.localPort! >= first && client.localPort! <= last, 'the client side is an ephemeral port');
      client.destroy();
    }
  },
);

t.test('a port already listened on is never returned', async (t) => {
  const taken = new Set<number>();
  const servers: Server[] = [];
  t.teardown(() => Promise.all(servers.map((s) => new Promise((r) => s.close(r)))));
  for (let i = 0; i < 50; i++) {
    const port = await freeLoopbackPort();
    t.notOk(taken.has(port), `${port} was free`);
    const server = createServer();
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, '127.0.0.1', resolve));
    servers.push(server);
    taken.add(port);
  }
});
