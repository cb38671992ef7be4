// Session rules without a server: idle and absolute expiry on a fake clock,
// background requests that do not count as activity, CSRF and origin checks,
// cookie attributes, and the login throttle.
import t from 'tap';
import type { IncomingMessage } from 'node:http';
import {
  BACKGROUND_HEADER,
  cookieValue,
  csrfOk,
  sessionCookie,
  SessionStore,
} from '../../../edge/dashboard/sessions.js';
import { LoginThrottle } from '../../../edge/auth/loginThrottle.js';

const req = (headers: Record<string, string>, method = 'GET') => ({ headers, method }) as unknown as IncomingMessage;

t.test('idle timeout, renewed by user requests only; absolute timeout regardless', async (t) => {
  let now = 1_000_000;
  const store = new SessionStore({ idleTimeoutMs: 10_000, absoluteTimeoutMs: 30_000 }, () => now);
  const s = store.create('nurse-ann', 'nurse');
  const cookie = { cookie: `other=1; wg_session=${s.id}` };
  now += 9_000;
  t.ok(store.fromRequest(req({ ...cookie, [BACKGROUND_HEADER]: '1' })), 'alive at 9 s');
  now += 2_000;
  t.notOk(store.fromRequest(req(cookie)), 'a background refresh did not renew it: gone at 11 s');

  const s2 = store.create('nurse-ann', 'nurse');
  const c2 = { cookie: `wg_session=${s2.id}` };
  for (let i = 0; i < 3; i++) {
    now += 9_000;
    t.ok(store.fromRequest(req(c2)), `a user request at ${(i + 1) * 9} s keeps it`);
  }
  now += 4_000;
  t.notOk(store.fromRequest(req(c2)), 'past the absolute limit, however active');
  t.notOk(store.get('not-a-session', true));
  t.equal(store.size, 0, 'expired sessions are dropped');
});

t.test('CSRF token and origin', async (t) => {
  const store = new SessionStore({ idleTimeoutMs: 10_000, absoluteTimeoutMs: 30_000 });
  const s = store.create('nurse-ann', 'nurse');
  const host = '127.0.0.1:8080';
  t.ok(csrfOk(req({ host, 'x-csrf-token': s.csrf }, 'POST'), s));
  t.ok(csrfOk(req({ host, origin: `http://${host}`, 'x-csrf-token': s.csrf }, 'POST'), s));
  t.notOk(csrfOk(req({ host }, 'POST'), s), 'no token');
  t.notOk(csrfOk(req({ host, 'x-csrf-token': `${s.csrf.slice(1)}x` }, 'POST'), s), 'wrong token');
  t.notOk(csrfOk(req({ host, origin: 'http://evil.example', 'x-csrf-token': s.csrf }, 'POST'), s), 'foreign origin');
  t.notOk(csrfOk(req({ host, origin: 'null', 'x-csrf-token': s.csrf }, 'POST'), s), 'opaque origin');
  t.notOk(
    csrfOk(req({ host, 'x-csrf-token': store.create('other', 'nurse').csrf }, 'POST'), s),
    "another session's token",
  );
});

t.test('cookie attributes', async (t) => {
  const store = new SessionStore({ idleTimeoutMs: 10_000, absoluteTimeoutMs: 3_600_000 });
  const s = store.create('station', 'viewer');
  const cookie = sessionCookie(s, store.limits);
  t.match(cookie, /; HttpOnly/);
  t.match(cookie, /; SameSite=Strict/);
  t.match(cookie, /; Path=\//);
  t.match(cookie, /; Max-Age=3600/);
  t.equal(cookieValue(`a=b; wg_session=${s.id}; c=d`, 'wg_session'), s.id);
  t.equal(cookieValue('wg_session=', 'wg_session'), undefined);
  t.equal(cookieValue(undefined, 'wg_session'), undefined);
});

t.test('the login throttle locks a name after repeated failures, and a success resets it', async (t) => {
  let now = 0;
  const throttle = new LoginThrottle({ freeFailures: 3, lockMs: 1000, now: () => now });
  for (let i = 0; i < 2; i++) throttle.failed('nurse-ann');
  t.equal(throttle.waitMs('nurse-ann'), 0, 'two failures are free');
  throttle.failed('nurse-ann');
  t.equal(throttle.waitMs('nurse-ann'), 1000, 'the third locks');
  throttle.failed('nurse-ann');
  t.equal(throttle.waitMs('nurse-ann'), 2000, 'and each further failure doubles the wait');
  t.equal(throttle.waitMs('station'), 0, 'other names are not affected');
  now += 2000;
  t.equal(throttle.waitMs('nurse-ann'), 0);
  throttle.succeeded('nurse-ann');
  throttle.failed('nurse-ann');
  t.equal(throttle.waitMs('nurse-ann'), 0, 'reset by a success');
});
