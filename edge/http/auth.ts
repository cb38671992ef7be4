// Who is calling the edge API: a user from the config (HTTP Basic, checked
// against the salted hash), or the local command line with the token the
// daemon writes into its 0600 run file, or a dashboard session cookie (see
// edge/dashboard/sessions.ts). Devices have no business here.
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Authenticator } from '../auth/authenticator.js';
import type { Role } from '../config/schema.js';

export interface Caller {
  readonly name: string;
  readonly role: Role;
  /** How the caller came in, for the audit trail ('dashboard' for a session cookie). */
  readonly via?: string;
}

/** Finds the caller of a request that carries no Authorization header (the dashboard's session cookie). */
export interface SessionLookup {
  caller(req: IncomingMessage): Caller | undefined;
}

const rank: Readonly<Record<Role, number>> = { viewer: 0, nurse: 1, admin: 2 };

export function hasRole(caller: Caller, needed: Role): boolean {
  return rank[caller.role] >= rank[needed];
}

/** The local command line acts under this name (it shows in the audit trail). */
export const LOCAL_ADMIN = 'local-admin';

export async function identify(req: IncomingMessage, auth: Authenticator, localToken: string, sessions?: SessionLookup): Promise<Caller | undefined> {
  if (req.headers.authorization === undefined && sessions) return sessions.caller(req);
  const header = req.headers.authorization ?? '';
  const [scheme, credentials = ''] = header.split(' ', 2);
  if (scheme === 'Bearer') {
    const given = Buffer.from(credentials);
    const want = Buffer.from(localToken);
    return given.length === want.length && timingSafeEqual(given, want) ? { name: LOCAL_ADMIN, role: 'admin' } : undefined;
  }
  if (scheme !== 'Basic') return undefined;
  const decoded = Buffer.from(credentials, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) return undefined;
  const principal = await auth.check(decoded.slice(0, colon), decoded.slice(colon + 1), req.socket.remoteAddress ?? '');
  if (!principal || principal.kind !== 'user' || !principal.role) return undefined;
  return { name: principal.name, role: principal.role };
}
