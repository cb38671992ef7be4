// Dashboard sessions: an unguessable id in an HttpOnly, SameSite=Strict cookie,
// a CSRF token the page sends back in a header on every change, an idle
// timeout and an absolute one (HIPAA 164.312(a)(2)(iii) automatic logoff).
// Sessions live in memory only: a restart logs everyone out, which is the safe
// failure for a shared ward screen.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Role } from '../config/schema.js';
import { sameOrigin } from '../http/origin.js';

export const SESSION_COOKIE = 'wg_session';
export const CSRF_HEADER = 'x-csrf-token';
/** Requests the page makes by itself (refreshes) carry this header: they are not user activity. */
export const BACKGROUND_HEADER = 'x-wardgate-background';

export interface Session {
  readonly id: string;
  readonly csrf: string;
  readonly name: string;
  readonly role: Role;
  readonly createdAt: number;
  lastActiveAt: number;
}

export interface SessionLimits {
  readonly idleTimeoutMs: number;
  readonly absoluteTimeoutMs: number;
}

const MAX_SESSIONS = 1000;

export class SessionStore {
  readonly #limits: SessionLimits;
  readonly #now: () => number;
  /** Keyed by a hash of the cookie value, so that a heap dump does not hand out live cookies. */
  readonly #sessions = new Map<string, Session>();

  constructor(limits: SessionLimits, now: () => number = Date.now) {
    this.#limits = limits;
    this.#now = now;
  }

  get limits(): SessionLimits {
    return this.#limits;
  }

  get size(): number {
    return this.#sessions.size;
  }

  create(name: string, role: Role): Session {
    const now = this.#now();
    this.#sweep(now);
    // A full table drops the oldest session rather than refusing a nurse at the bedside.
    if (this.#sessions.size >= MAX_SESSIONS) this.#sessions.delete(this.#sessions.keys().next().value!);
    const session: Session = { id: token(), csrf: token(), name, role, createdAt: now, lastActiveAt: now };
    this.#sessions.set(digest(session.id), session);
    return session;
  }

  /** The live session with this cookie value; `activity` renews its idle timer. */
  get(id: string, activity: boolean): Session | undefined {
    const key = digest(id);
    const session = this.#sessions.get(key);
    if (!session) return undefined;
    const now = this.#now();
    if (this.expiresAt(session) <= now) {
      this.#sessions.delete(key);
      return undefined;
    }
    if (activity) session.lastActiveAt = now;
    return session;
  }

  /** When the session ends if nobody acts: the earlier of the idle and the absolute limit. */
  expiresAt(session: Session): number {
    return Math.min(
      session.lastActiveAt + this.#limits.idleTimeoutMs,
      session.createdAt + this.#limits.absoluteTimeoutMs,
    );
  }

  isLive(session: Session): boolean {
    return this.#sessions.get(digest(session.id)) === session && this.expiresAt(session) > this.#now();
  }

  destroy(id: string): Session | undefined {
    const key = digest(id);
    const session = this.#sessions.get(key);
    this.#sessions.delete(key);
    return session;
  }

  /** The session of a request's cookie, or undefined. Only user-initiated requests count as activity. */
  fromRequest(req: IncomingMessage): Session | undefined {
    const id = cookieValue(req.headers.cookie, SESSION_COOKIE);
    if (!id) return undefined;
    return this.get(id, req.headers[BACKGROUND_HEADER] === undefined);
  }

  #sweep(now: number): void {
    for (const [key, s] of this.#sessions) if (this.expiresAt(s) <= now) this.#sessions.delete(key);
  }
}

/**
 * Whether a state-changing request really comes from the dashboard page: the
 * CSRF token of the session in its header, and (when the browser says) the
 * page's own origin. SameSite=Strict already keeps the cookie off cross-site
 * requests; this is the second lock.
 */
export function csrfOk(req: IncomingMessage, session: Session): boolean {
  if (!sameOrigin(req)) return false;
  const given = req.headers[CSRF_HEADER];
  if (typeof given !== 'string') return false;
  const a = Buffer.from(given);
  const b = Buffer.from(session.csrf);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** `secure`: the page came over HTTPS, so the browser must never send the cookie over plain HTTP. */
export function sessionCookie(session: Session, limits: SessionLimits, secure = false): string {
  const maxAge = Math.ceil(limits.absoluteTimeoutMs / 1000);
  return `${SESSION_COOKIE}=${session.id}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAge}${secure ? '; Secure' : ''}`;
}

export function clearedCookie(secure = false): string {
  return `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0${secure ? '; Secure' : ''}`;
}

/** The request came over TLS. */
export function isHttps(req: IncomingMessage): boolean {
  return (req.socket as { encrypted?: boolean }).encrypted === true;
}

export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim() || undefined;
  }
  return undefined;
}

function token(): string {
  return randomBytes(32).toString('base64url');
}

function digest(id: string): string {
  return createHash('sha256').update(id).digest('base64url');
}
