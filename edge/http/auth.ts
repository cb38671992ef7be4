// Who is calling the edge API: a user from the config (HTTP Basic, checked
// against the salted hash), or the local command line with the token the
// daemon writes into its 0600 run file, or a dashboard session cookie (see
// edge/dashboard/sessions.ts). Devices have no business here.
//
// A browser replays a session cookie, and Basic credentials it has cached, by
// itself on requests other sites' pages make. So a change (POST, PUT, ...)
// needs more than the credential: a session's CSRF token, or for Basic a JSON
// content type, which no browser sends to another origin without a CORS
// preflight that the gateway never grants (docs/SECURITY.md). The bearer
// token is never held by a browser.
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Authenticator } from '../auth/authenticator.js';
import type { Role } from '../config/schema.js';
import { changesState, declaresJson } from './origin.js';

export interface Caller {
  readonly name: string;
  readonly role: Role;
  /** How the caller came in, for the audit trail ('dashboard' for a session cookie). */
  readonly via?: string;
}

/** Finds the session of a request that carries no Authorization header (the dashboard's session cookie). */
export interface SessionLookup {
  /** The session's user, and whether the request carries the session's CSRF token from its own origin. */
  session(req: IncomingMessage): { readonly caller: Caller; readonly csrfOk: boolean } | undefined;
}

/** The caller, or why the request is refused (401: who are you; 403: not like this). */
export type Identity =
  | { readonly ok: true; readonly caller: Caller }
  | { readonly ok: false; readonly code: 'WG_ERR_AUTH' | 'WG_ERR_FORBIDDEN'; readonly message: string };

const rank: ReadonlyMap<Role, number> = new Map([
  ['viewer', 0],
  ['nurse', 1],
  ['admin', 2],
]);

export function hasRole(caller: Caller, needed: Role): boolean {
  return (rank.get(caller.role) ?? -1) >= (rank.get(needed) ?? Infinity);
}

/** The local command line acts under this name (it shows in the audit trail). */
export const LOCAL_ADMIN = 'local-admin';

const unauthenticated: Identity = {
  ok: false,
  code: 'WG_ERR_AUTH',
  message: 'log in with a user name and password from the gateway configuration',
};

const forbidden = (message: string): Identity => ({ ok: false, code: 'WG_ERR_FORBIDDEN', message });

export async function identify(
  req: IncomingMessage,
  auth: Authenticator,
  localToken: string,
  sessions?: SessionLookup,
): Promise<Identity> {
  const change = changesState(req);
  const header = req.headers.authorization;
  if (header === undefined) {
    const found = sessions?.session(req);
    if (!found) return unauthenticated;
    if (change && !found.csrfOk) return forbidden('missing or wrong CSRF token');
    return { ok: true, caller: found.caller };
  }
  const [scheme, credentials = ''] = header.split(' ', 2);
  if (scheme === 'Bearer') {
    const given = Buffer.from(credentials);
    const want = Buffer.from(localToken);
    return given.length === want.length && timingSafeEqual(given, want)
      ? { ok: true, caller: { name: LOCAL_ADMIN, role: 'admin' } }
      : unauthenticated;
  }
  if (scheme !== 'Basic') return unauthenticated;
  // Checked before the password: a forged request costs no scrypt.
  if (change && !declaresJson(req))
    return forbidden(
      'with HTTP Basic, a change needs Content-Type: application/json (a request no page of another site can make a browser send)',
    );
  const decoded = Buffer.from(credentials, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) return unauthenticated;
  const principal = await auth.check(decoded.slice(0, colon), decoded.slice(colon + 1), req.socket.remoteAddress ?? '');
  if (!principal || principal.kind !== 'user' || !principal.role) return unauthenticated;
  return { ok: true, caller: { name: principal.name, role: principal.role } };
}
