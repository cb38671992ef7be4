// A hospital's web proxy on loopback for tests: HTTP CONNECT only, optionally
// with Basic Proxy-Authorization, tunnelling to ports of 127.0.0.1 alone.
// Hosts under .wardgate.test stand for hosts outside the ward box: the proxy
// takes them to 127.0.0.1 (the gateway cannot resolve them itself unless
// testHosts.mjs is preloaded). Anything else is refused 403; a plain request
// (not CONNECT) is answered 405. `answer` lets the test itself answer the
// tunnel to a named `host:port` (a TLS server standing for a Google endpoint).
// Nothing leaves the machine.
import { createServer, type IncomingMessage } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';

interface T {
  teardown(fn: () => unknown): void;
}

export interface ConnectProxy {
  /** http://127.0.0.1:port, without credentials. */
  readonly url: string;
  readonly port: number;
  /** Tunnels opened, by target `host:port`. */
  readonly tunnels: string[];
  /** CONNECTs refused 407 (no or wrong credentials). */
  refused: number;
  /** Requests that were not CONNECT. */
  plain: number;
}

export async function startConnectProxy(
  t: T,
  auth?: { user: string; password: string },
  answer: Record<string, (socket: Socket) => void> = {},
): Promise<ConnectProxy> {
  const sockets = new Set<Socket>();
  const server = createServer((_req, res) => {
    state.plain++;
    res.writeHead(405).end();
  });
  const expected = auth && `Basic ${Buffer.from(`${auth.user}:${auth.password}`).toString('base64')}`;
  server.on('connect', (req: IncomingMessage, client: Socket, head: Buffer) => {
    sockets.add(client);
    client.on('error', () => undefined);
    if (expected !== undefined && req.headers['proxy-authorization'] !== expected) {
      state.refused++;
      return void client.end(
        'HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="ward"\r\nContent-Length: 0\r\n\r\n',
      );
    }
    const local = answer[req.url ?? ''];
    if (local) {
      state.tunnels.push(req.url!);
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) client.unshift(head);
      return local(client);
    }
    const m = /^(127\.0\.0\.1|[a-z0-9-]+(?:\.[a-z0-9-]+)*\.wardgate\.test):(\d+)$/i.exec(req.url ?? '');
    if (!m) return void client.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n');
    const upstream = connect(Number(m[2]), '127.0.0.1', () => {
      state.tunnels.push(req.url!);
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    sockets.add(upstream);
    upstream.on('error', () => client.end('HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const state: ConnectProxy = { url: `http://127.0.0.1:${port}`, port, tunnels: [], refused: 0, plain: 0 };
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return state;
}
