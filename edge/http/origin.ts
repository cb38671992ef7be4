// Where a request comes from, as the browser tells it. A browser attaches
// credentials it holds for the gateway (a session cookie, cached HTTP Basic)
// to requests that pages from other sites make, so no change may rest on the
// credential alone: a change that the browser marks as coming from another
// site is refused whatever the authentication. Clients that are not browsers
// send neither header and are judged by their credentials.
import type { IncomingMessage } from 'node:http';

/** Methods that change nothing (RFC 9110 section 9.2.1); every other one is a change. */
const SAFE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD']);

export function changesState(req: IncomingMessage): boolean {
  return !SAFE_METHODS.has(req.method ?? 'GET');
}

/** An Origin header, when present, must name the host the request was sent to (`null`, an opaque origin, never does). */
export function sameOrigin(req: IncomingMessage): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false;
  }
}

/**
 * Why a request counts as sent by a page of another site, or undefined.
 * Fetch metadata (Sec-Fetch-Site) where the browser sends it: `same-origin`
 * is the gateway's own page, `none` the user's own navigation; `same-site`
 * (another port of the same host) and `cross-site` are other sites. Origin
 * for the browsers that send only that.
 */
export function crossSite(req: IncomingMessage): string | undefined {
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none')
    return `a request from another site (Sec-Fetch-Site: ${String(site).slice(0, 32)}) may not change anything`;
  if (!sameOrigin(req)) return 'a request from another origin may not change anything';
  return undefined;
}

/** Whether the request body is declared JSON: a content type no browser sends to another origin without a CORS preflight. */
export function declaresJson(req: IncomingMessage): boolean {
  const type = req.headers['content-type'];
  return typeof type === 'string' && type.split(';', 1)[0].trim().toLowerCase() === 'application/json';
}
