// The edge HTTP port: /healthz and Prometheus /metrics (and, later, the API and
// dashboard). Routes are registered by the features that own them.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../log.js';
import type { Service } from '../service.js';

export type Handler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

export class HttpServer implements Service {
  readonly name = 'http';
  readonly #host: string;
  readonly #port: number;
  readonly #log: Logger;
  readonly #routes = new Map<string, Handler>();
  #server: Server | undefined;

  constructor(options: { host: string; port: number; log: Logger }) {
    this.#host = options.host;
    this.#port = options.port;
    this.#log = options.log.child({ module: 'http' });
  }

  get port(): number | undefined {
    return (this.#server?.address() as AddressInfo | null)?.port;
  }

  /** Registers a handler for `METHOD /path`. */
  route(method: string, path: string, handler: Handler): void {
    this.#routes.set(`${method} ${path}`, handler);
  }

  async start(): Promise<void> {
    const server = createServer((req, res) => this.#dispatch(req, res));
    server.keepAliveTimeout = 5_000;
    server.headersTimeout = 10_000;
    server.requestTimeout = 30_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.#port, this.#host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.#server = server;
    this.#log.info({ host: this.#host, port: this.port }, 'http listening');
  }

  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  #dispatch(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0];
    const handler = this.#routes.get(`${req.method} ${path}`);
    if (!handler) return sendJson(res, 404, { error: 'not found' });
    Promise.resolve()
      .then(() => handler(req, res))
      .catch((err: Error) => {
        this.#log.error({ err, path }, 'request failed');
        if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
        else res.destroy();
      });
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}
