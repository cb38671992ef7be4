// The edge HTTP port: /healthz and Prometheus /metrics (and, later, the API and
// dashboard). Routes are registered by the features that own them.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Logger } from '../log.js';
import type { Service } from '../service.js';
import { httpStatusOf, type HttpErrorCode } from '../../shared/errors.js';

/** A TLS handshake left half-done is dropped after this (Node's default is 120 s). */
const HANDSHAKE_TIMEOUT_MS = 10_000;
/** Open connections beyond this are closed at once (a flood must not exhaust file descriptors). */
export const MAX_CONNECTIONS = 512;
/** Timings of the connection: a client that sends its headers or request too slowly is cut off. */
const TIMEOUTS = {
  keepAliveTimeout: 5_000,
  headersTimeout: 10_000,
  requestTimeout: 30_000,
  connectionsCheckingInterval: 1_000,
};

export type Handler = (
  req: IncomingMessage,
  res: ServerResponse,
  params: Record<string, string>,
) => void | Promise<void>;

interface Route {
  readonly method: string;
  /** Path segments; ':name' matches any one segment. */
  readonly segments: readonly string[];
  readonly handler: Handler;
}

export class HttpServer implements Service {
  readonly name = 'http';
  readonly #host: string;
  readonly #port: number;
  readonly #log: Logger;
  readonly #tls: { cert: Buffer; key: Buffer } | undefined;
  readonly #routes: Route[] = [];
  #server: Server | undefined;
  readonly #sockets = new Set<Socket>();

  /** With `tls` (PEM certificate chain and key) the port speaks HTTPS only. */
  constructor(options: { host: string; port: number; log: Logger; tls?: { cert: Buffer; key: Buffer } }) {
    this.#host = options.host;
    this.#port = options.port;
    this.#log = options.log.child({ module: 'http' });
    this.#tls = options.tls;
  }

  get port(): number | undefined {
    return (this.#server?.address() as AddressInfo | null)?.port;
  }

  /** Registers a handler for `METHOD /path`, where a segment `:name` captures a parameter. */
  route(method: string, path: string, handler: Handler): void {
    this.#routes.push({ method, segments: path.split('/'), handler });
  }

  async start(): Promise<void> {
    const handler = (req: IncomingMessage, res: ServerResponse) => this.#dispatch(req, res);
    // The timeouts are checked every second, not at Node's default of every 30 s.
    const server: Server = this.#tls
      ? createHttpsServer(
          {
            ...TIMEOUTS,
            cert: this.#tls.cert,
            key: this.#tls.key,
            minVersion: 'TLSv1.2',
            handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
          },
          handler,
        )
      : createServer(TIMEOUTS, handler);
    server.maxConnections = MAX_CONNECTIONS;
    server.on('connection', (socket: Socket) => {
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.#port, this.#host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.#server = server;
    this.#log.info({ host: this.#host, port: this.port, tls: this.#tls !== undefined }, 'http listening');
  }

  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      // Every socket, HTTP or not yet (a TLS handshake under way): close() waits for them all.
      for (const socket of this.#sockets) socket.destroy();
    });
  }

  #dispatch(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0];
    const match = this.#match(req.method ?? 'GET', path);
    if (match === 'method') return sendJsonError(res, 'WG_ERR_METHOD', `${req.method} is not allowed on ${path}`);
    if (!match) return sendJsonError(res, 'WG_ERR_NOT_FOUND', `no such resource: ${path}`);
    Promise.resolve()
      .then(() => match.route.handler(req, res, match.params))
      .catch((err: Error) => {
        this.#log.error({ err, path }, 'request failed');
        if (!res.headersSent) sendJsonError(res, 'WG_ERR_INTERNAL', 'internal error');
        else res.destroy();
      });
  }

  #match(method: string, path: string): { route: Route; params: Record<string, string> } | 'method' | undefined {
    const segments = path.split('/');
    let wrongMethod = false;
    for (const route of this.#routes) {
      if (route.segments.length !== segments.length) continue;
      // Keys come from the route table; values from the request: no prototype for them to reach.
      const params = Object.create(null) as Record<string, string>;
      const fits = route.segments.every((seg, i) => {
        if (seg.startsWith(':')) {
          if (!segments[i]) return false;
          const value = safeDecode(segments[i]);
          if (value === undefined) return false;
          params[seg.slice(1)] = value;
          return true;
        }
        return seg === segments[i];
      });
      if (!fits) continue;
      if (route.method === method) return { route, params };
      wrongMethod = true;
    }
    return wrongMethod ? 'method' : undefined;
  }
}

/** The body of every edge API error: the code, a sentence, and the field at fault when there is one. */
export interface EdgeErrorBody {
  readonly code: HttpErrorCode;
  readonly message: string;
  readonly field?: string;
}

/** An error answer, with the status shared/errors.ts gives its code (documented in docs/ERRORS.md). */
export function sendJsonError(res: ServerResponse, code: HttpErrorCode, message: string, field?: string): void {
  const body: EdgeErrorBody = field === undefined ? { code, message } : { code, message, field };
  sendJson(res, httpStatusOf(code), body);
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  // nosniff: an answer that echoes part of the request (a path, a bed) is never read as HTML or script.
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
  });
  res.end(text);
}

function safeDecode(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}
