// A free loopback port for a listener started next (the demo's processes, the
// tests' gateways). A port the OS picks is one of its ephemeral ports, which
// it also hands to outgoing connections: between the check and the listen,
// any client connecting anywhere could take it (EADDRINUSE). So the port is
// drawn below Linux's ephemeral range (32768-60999 by default), where only
// listeners that choose their port go, and checked free.
import { randomInt } from 'node:crypto';
import { createServer } from 'node:net';

/** Where ports are drawn: above the well-known and most registered services, below the ephemeral range. */
export const PORT_RANGE = { first: 20_000, last: 32_767 } as const;
const ATTEMPTS = 100;

export async function freeLoopbackPort(): Promise<number> {
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const port = randomInt(PORT_RANGE.first, PORT_RANGE.last + 1);
    if ((await listenOnce(port)) !== undefined) return port;
  }
  // A range that full is not this machine's usual state: let the OS pick.
  return (await listenOnce(0))!;
}

/** Listens on the port and closes again: the port listened on, or undefined if it was taken. */
function listenOnce(port: number): Promise<number | undefined> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', (err: NodeJS.ErrnoException) =>
      err.code === 'EADDRINUSE' || err.code === 'EACCES' ? resolve(undefined) : reject(err),
    );
    server.listen(port, '127.0.0.1', () => {
      const { port: bound } = server.address() as { port: number };
      server.close(() => resolve(bound));
    });
  });
}
