// What every cloud function's server does before the Functions Framework
// reads a byte of the body. The framework parses every body before the user
// function runs, inflating any Content-Encoding up to 1 GB: an unauthenticated
// 1 MB gzip request cost 11 s and 1.2 GB. So the guard answers from the
// headers alone: no Content-Encoding at all (the edge's gzip travels as
// application/gzip, inside the signature), no body larger than the function
// takes; and whatever the framework's own middleware fails on (a body-parser
// error, a malformed %-escape) is answered in the same JSON as the functions'.
import http, { STATUS_CODES, type IncomingMessage, type RequestListener, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { httpStatusOf, type HttpErrorCode } from '../shared/errors.js';
import { MAX_BATCH_BYTES, type CloudErrorBody } from '../shared/sync/wire.js';
import { MAX_VERIFY_BYTES } from '../shared/sync/verify.js';
import type { FunctionName } from './functions.js';

export interface BodyPolicy {
  /** Largest body, in bytes as sent. 0: the function takes no body. */
  readonly maxBytes: number;
  /** Whether a body may come without Content-Length (chunked), bounded only by the platform (32 MiB on Cloud Run). */
  readonly chunked: boolean;
}

/**
 * analyzeReadings takes Pub/Sub pushes (a message of at most 10 MB, base64 in
 * JSON), which only Pub/Sub can send: its trigger is IAM-only.
 */
const bodyPolicies: ReadonlyMap<string, BodyPolicy> = new Map<FunctionName, BodyPolicy>([
  ['ingestBatch', { maxBytes: MAX_BATCH_BYTES, chunked: false }],
  ['analyzeReadings', { maxBytes: 16 * 1024 * 1024, chunked: true }],
  ['wardApi', { maxBytes: 0, chunked: false }],
  ['edgeConfig', { maxBytes: 0, chunked: false }],
  ['verifyRange', { maxBytes: MAX_VERIFY_BYTES, chunked: false }],
]);

/** A function not listed takes a signed body no larger than a batch, with its length. */
const SIGNED_BODY: BodyPolicy = { maxBytes: MAX_BATCH_BYTES, chunked: false };

export function bodyPolicyOf(name: string | undefined): BodyPolicy {
  return (name === undefined ? undefined : bodyPolicies.get(name)) ?? SIGNED_BODY;
}

export type ErrorLog = (err: Error, req: IncomingMessage) => void;

/** Writes a JSON error on a plain Node response (the framework's Express helpers may not be attached yet). */
export function writeError(
  res: ServerResponse,
  code: HttpErrorCode,
  message: string,
  field?: string,
  headers: Record<string, string> = {},
): void {
  const body: CloudErrorBody = { ok: false, error: { code, message, ...(field !== undefined && { field }) } };
  res
    .writeHead(httpStatusOf(code), {
      'Content-Type': 'application/json; charset=utf-8',
      'Cache-Control': 'no-store',
      ...headers,
    })
    .end(JSON.stringify(body));
}

/** The refusal a request's headers already earn, or null to let it through. */
export function refusal(
  req: IncomingMessage,
  policy: BodyPolicy,
): { code: HttpErrorCode; message: string; field: string; headers?: Record<string, string> } | null {
  if (req.headers['content-encoding'] !== undefined) {
    return {
      code: 'WG_ERR_ENCODING',
      field: 'Content-Encoding',
      headers: { 'Accept-Encoding': 'identity' },
      message: 'send the body as it is, without Content-Encoding (a batch is application/gzip, inside its signature)',
    };
  }
  const length = req.headers['content-length'];
  if (length !== undefined) {
    const bytes = Number(length);
    if (bytes > policy.maxBytes) {
      return policy.maxBytes === 0
        ? { code: 'WG_ERR_TOO_LARGE', field: 'Content-Length', message: 'this endpoint takes no request body' }
        : {
            code: 'WG_ERR_TOO_LARGE',
            field: 'Content-Length',
            message: `body is ${bytes} bytes; the limit is ${policy.maxBytes}`,
          };
    }
  } else if (req.headers['transfer-encoding'] !== undefined && !policy.chunked) {
    return policy.maxBytes === 0
      ? { code: 'WG_ERR_TOO_LARGE', field: 'Transfer-Encoding', message: 'this endpoint takes no request body' }
      : { code: 'WG_ERR_LENGTH', field: 'Content-Length', message: 'send the body with a Content-Length' };
  }
  return null;
}

/** Express's own path answers (robots.txt, favicon.ico) would be empty pages: these get JSON too. */
const FRAMEWORK_ROUTES = /^\/(favicon\.ico|robots\.txt)(\?|$)/;

/** The framework's app behind the guard; errors the app's middleware raises are answered as JSON. */
export function guardedListener(app: RequestListener, policy: BodyPolicy, log?: ErrorLog): RequestListener {
  const express = app as (req: IncomingMessage, res: ServerResponse, done: (err?: unknown) => void) => void;
  return (req, res) => {
    const refused = refusal(req, policy);
    if (refused) {
      // Connection: close, so that the unread body is not read either.
      writeError(res, refused.code, refused.message, refused.field, { ...refused.headers, Connection: 'close' });
      return;
    }
    if (FRAMEWORK_ROUTES.test(req.url ?? '')) return writeError(res, 'WG_ERR_NOT_FOUND', 'no such route');
    express(req, res, (err) => middlewareFailed(req, res, err, log));
  };
}

/** The final handler Express would otherwise render as an HTML page with a stack trace. */
function middlewareFailed(req: IncomingMessage, res: ServerResponse, err: unknown, log?: ErrorLog): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (err === undefined) return writeError(res, 'WG_ERR_NOT_FOUND', 'no such route');
  const e = err as Error & { status?: number; type?: string };
  if (e instanceof URIError || (e.status === 400 && /decode/i.test(e.message))) {
    return writeError(res, 'WG_ERR_SCHEMA', 'the path holds a malformed %-escape', 'path');
  }
  switch (e.type) {
    case 'entity.too.large':
      return writeError(res, 'WG_ERR_TOO_LARGE', 'the body is larger than this endpoint takes');
    case 'entity.parse.failed':
      return writeError(res, 'WG_ERR_JSON', 'the body is not valid JSON');
    case 'encoding.unsupported':
      return writeError(res, 'WG_ERR_ENCODING', 'send the body without Content-Encoding', 'Content-Encoding');
    case 'charset.unsupported':
      return writeError(res, 'WG_ERR_ENCODING', 'send the body in UTF-8', 'Content-Type');
    case 'request.aborted':
    case 'request.size.invalid':
      return writeError(res, 'WG_ERR_SCHEMA', 'the body did not match its Content-Length', 'Content-Length');
  }
  // body-parser's other refusals of the caller's request (an aborted body, too many parameters): 413 or 400, as it chose.
  if (e.status === 413) return writeError(res, 'WG_ERR_TOO_LARGE', 'the request is larger than this endpoint takes');
  if (typeof e.status === 'number' && e.status >= 400 && e.status < 500)
    return writeError(res, 'WG_ERR_SCHEMA', 'the request could not be read');
  log?.(e, req);
  writeError(res, 'WG_ERR_INTERNAL', 'the request failed inside the cloud function; it is logged');
}

/** What Node itself refuses (a malformed request line or header) is answered as JSON too, then the connection closed. */
export function answerClientError(err: Error & { code?: string }, socket: Socket): void {
  // As Node's own handler does: a socket already answering (a pipelined request) or gone is only closed.
  const answering = (socket as Socket & { _httpMessage?: ServerResponse })._httpMessage?.headersSent === true;
  if (!socket.writable || answering || err.code === 'ECONNRESET') return void socket.destroy();
  const error: { code: HttpErrorCode; message: string } =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? { code: 'WG_ERR_HEADERS_TOO_LARGE', message: 'the request headers are larger than the server reads' }
      : { code: 'WG_ERR_SCHEMA', message: 'malformed HTTP request' };
  const body = JSON.stringify({ ok: false, error } satisfies CloudErrorBody);
  const status = httpStatusOf(error.code);
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/**
 * Deployed, the Functions Framework creates the server itself, after loading
 * this package's entry point and before reading any request; it offers no hook
 * ahead of its body parsers. So the entry point wraps the request listener of
 * the server the framework creates next. `target` is the function this
 * instance serves (the framework's --target or FUNCTION_TARGET).
 */
export function guardNextServers(target: string | undefined, log?: ErrorLog): void {
  const policy = bodyPolicyOf(target);
  const create = http.createServer;
  const guarded = ((...args: unknown[]) => {
    const i = args.findIndex((a) => typeof a === 'function');
    if (i >= 0) args[i] = guardedListener(args[i] as RequestListener, policy, log);
    const server = (create as (...a: unknown[]) => http.Server)(...args);
    server.on('clientError', answerClientError);
    return server;
  }) as typeof http.createServer;
  http.createServer = guarded;
}

/** The function an instance serves, as the framework resolves it: the --target flag, then FUNCTION_TARGET. */
export function functionTarget(argv: readonly string[], env: NodeJS.ProcessEnv): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    if (argv[i].startsWith('--target=')) return argv[i].slice('--target='.length);
    if (argv[i] === '--target') return argv[i + 1];
  }
  return env.FUNCTION_TARGET;
}
