// The dashboard's own endpoints: login and logout (session cookie), the
// session and its CSRF token, the live event stream, and the page itself.
// Everything else the page does goes through the edge API under /api, which
// accepts the session cookie (with the CSRF token for changes).
import type { IncomingMessage } from 'node:http';
import type { Authenticator } from '../auth/authenticator.js';
import type { AuditLog } from '../store/auditLog.js';
import { sendJson, sendJsonError, type HttpServer } from '../http/server.js';
import type { LiveFeed } from './live.js';
import { crossSite } from '../http/origin.js';
import { clearedCookie, csrfOk, isHttps, sessionCookie, type Session, type SessionStore } from './sessions.js';
import type { StaticAssets } from './static.js';
import type { LoginThrottle } from '../auth/loginThrottle.js';

export interface DashboardRouteDeps {
  readonly http: HttpServer;
  readonly auth: Authenticator;
  readonly sessions: SessionStore;
  readonly throttle: LoginThrottle;
  readonly audit: AuditLog;
  readonly live: LiveFeed;
  readonly assets: StaticAssets;
  readonly ward: string;
  /** Whether the ward sends vitals to the EHR (config ehr): the page shows the chart panel only then. */
  readonly ehr: boolean;
  readonly now?: () => number;
}

const MAX_LOGIN_BODY = 4096;
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function registerDashboard(deps: DashboardRouteDeps): void {
  const { http, sessions, assets } = deps;
  const now = deps.now ?? Date.now;
  const sessionView = (s: Session) => ({
    name: s.name,
    role: s.role,
    csrf: s.csrf,
    ward: deps.ward,
    ehr: deps.ehr,
    expiresAt: new Date(sessions.expiresAt(s)).toISOString(),
    idleTimeoutMs: sessions.limits.idleTimeoutMs,
  });

  http.route('GET', '/', (req, res) => void assets.send(req, res, 'index.html'));
  http.route('GET', '/assets/:file', (req, res, { file }) => {
    if (!assets.send(req, res, file)) sendJsonError(res, 'WG_ERR_NOT_FOUND', `no such asset: ${file}`);
  });

  http.route('POST', '/dashboard/login', async (req, res) => {
    // A login form posted from another site would log the ward screen into the attacker's account (login CSRF).
    if (crossSite(req)) return sendJsonError(res, 'WG_ERR_FORBIDDEN', 'cross-origin login refused');
    const body = await readSmallJson(req);
    const name = typeof body?.name === 'string' ? body.name : '';
    const password = typeof body?.password === 'string' ? body.password : '';
    if (!NAME.test(name) || password === '' || password.length > 1024)
      return sendJsonError(res, 'WG_ERR_SCHEMA', 'expected a user name and a password');
    const wait = deps.throttle.waitMs(name);
    if (wait > 0) {
      res.setHeader('retry-after', String(Math.ceil(wait / 1000)));
      return sendJsonError(
        res,
        'WG_ERR_THROTTLED',
        `too many failed logins for ${name}; try again in ${Math.ceil(wait / 1000)} s`,
      );
    }
    const principal = await deps.auth.check(name, password, req.socket.remoteAddress ?? '');
    if (!principal || principal.kind !== 'user' || !principal.role) {
      deps.throttle.failed(name);
      deps.audit.record({ ts: now(), actor: name, action: 'login-failed', target: null, detail: { via: 'dashboard' } });
      return sendJsonError(res, 'WG_ERR_AUTH', 'wrong user name or password');
    }
    deps.throttle.succeeded(name);
    const session = sessions.create(principal.name, principal.role);
    deps.audit.record({
      ts: now(),
      actor: session.name,
      action: 'login',
      target: null,
      detail: { via: 'dashboard', role: session.role },
    });
    res.setHeader('set-cookie', sessionCookie(session, sessions.limits, isHttps(req)));
    sendJson(res, 200, sessionView(session));
  });

  http.route('POST', '/dashboard/logout', (req, res) => {
    if (crossSite(req)) return sendJsonError(res, 'WG_ERR_FORBIDDEN', 'cross-origin logout refused');
    const session = sessions.fromRequest(req);
    res.setHeader('set-cookie', clearedCookie(isHttps(req)));
    if (!session) return sendJson(res, 200, { loggedOut: true });
    if (!csrfOk(req, session)) return sendJsonError(res, 'WG_ERR_FORBIDDEN', 'missing or wrong CSRF token');
    sessions.destroy(session.id);
    deps.audit.record({ ts: now(), actor: session.name, action: 'logout', target: null, detail: { via: 'dashboard' } });
    sendJson(res, 200, { loggedOut: true });
  });

  http.route('GET', '/dashboard/session', (req, res) => {
    const session = sessions.fromRequest(req);
    if (!session) return sendJsonError(res, 'WG_ERR_AUTH', 'not logged in');
    sendJson(res, 200, sessionView(session));
  });

  http.route('GET', '/dashboard/events', (req, res) => {
    const session = sessions.fromRequest(req);
    if (!session) return sendJsonError(res, 'WG_ERR_AUTH', 'not logged in');
    deps.live.open(req, res, session);
  });
}

async function readSmallJson(req: IncomingMessage): Promise<Record<string, unknown> | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_LOGIN_BODY) return undefined;
    chunks.push(chunk as Buffer);
  }
  try {
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
    return typeof body === 'object' && body !== null && !Array.isArray(body)
      ? (body as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}
