// Hostile requests on the HTTP port of a real gateway, one row per attack with
// the answer it must get: pages of other sites replaying Basic credentials or
// a session cookie, missing and forged CSRF tokens, cookie tricks, traversal,
// malformed percent-escapes, unknown beds, methods, oversized bodies and
// headers, a slow client. Node's own HTTP client and raw sockets, so that
// every header is sent exactly as written (docs/SECURITY.md).
import t from 'tap';
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { errorCodes } from '../../shared/errors.js';
import { MAX_CONNECTIONS } from '../../edge/http/server.js';
import { waitFor } from '../helpers/env.js';
import { passwordOf, startTestGateway } from '../helpers/gateway.js';

/** The token with its last character changed (never to itself: a token already ending in 'A' stayed valid, one run in 64). */
const forged = (token: string) => `${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`;

t.setTimeout(180_000);

type Headers = Record<string, string>;
interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Record<string, unknown> | undefined;
}

function send(
  port: number,
  method: string,
  path: string,
  headers: Headers = {},
  body?: string | Buffer,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        headers: { ...headers, ...(body !== undefined && { 'content-length': String(Buffer.byteLength(body)) }) },
        agent: false,
        timeout: 20_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: Record<string, unknown> | undefined;
          try {
            parsed = JSON.parse(text) as Record<string, unknown>;
          } catch {
            parsed = undefined;
          }
          resolve({ status: res.statusCode!, headers: res.headers, body: parsed });
        });
      },
    );
    req.once('error', reject);
    req.once('timeout', () => req.destroy(new Error(`${method} ${path}: no answer in 20 s`)));
    req.end(body);
  });
}

/** Bytes on a raw socket; resolves with the status line of the answer (or '' when the server closes without one) and the time it took. */
function raw(
  port: number,
  bytes: string,
  options: { keepOpen?: boolean } = {},
): Promise<{ statusLine: string; ms: number }> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = connect(port, '127.0.0.1');
    let got = '';
    socket.setTimeout(60_000, () => socket.destroy(new Error('no answer and no close in 60 s')));
    socket.on('data', (d: Buffer) => (got += d.toString('latin1')));
    socket.once('error', reject);
    socket.once('close', () => resolve({ statusLine: got.split('\r\n')[0], ms: Date.now() - started }));
    socket.write(bytes, () => {
      if (!options.keepOpen) socket.end();
    });
  });
}

const basic = (name: string, password = passwordOf(name)) =>
  `Basic ${Buffer.from(`${name}:${password}`).toString('base64')}`;
const JSON_TYPE = { 'content-type': 'application/json' };

t.test('every attack on the HTTP port gets its documented answer, and changes nothing', async (t) => {
  const { gateway, config } = await startTestGateway(t);
  const port = config.http.port;
  const host = `127.0.0.1:${port}`;
  const self = `http://${host}`;
  const admin = { authorization: basic('biomed') };

  // A patient in bed 1, for forged discharges to aim at.
  const admitted = await send(
    port,
    'POST',
    '/api/admissions',
    { ...admin, ...JSON_TYPE, origin: self },
    JSON.stringify({ bed: '1', identifier: 'MRN-TEST-1' }),
  );
  t.equal(admitted.status, 201, 'a script with Basic and JSON, from the gateway itself, may admit');

  // A dashboard session of an admin, as a browser holds it.
  const login = await send(
    port,
    'POST',
    '/dashboard/login',
    { ...JSON_TYPE, origin: self },
    JSON.stringify({ name: 'biomed', password: passwordOf('biomed') }),
  );
  t.equal(login.status, 200);
  const cookie = String(login.headers['set-cookie']).split(';')[0];
  const csrf = String(login.body!.csrf);
  const otherLogin = await send(
    port,
    'POST',
    '/dashboard/login',
    JSON_TYPE,
    JSON.stringify({ name: 'station', password: passwordOf('station') }),
  );
  const otherCsrf = String(otherLogin.body!.csrf);

  const admission = JSON.stringify({ bed: '2', identifier: 'MRN-TEST-2' });
  // The body a form with enctype="text/plain" makes: name `{"bed":"2","identifier":"MRN-TEST-2","x":"` and value `"}`, joined by `=`.
  const formJson = '{"bed":"2","identifier":"MRN-TEST-2","x":"="}';
  const rows: Array<{
    attack: string;
    method: string;
    path: string;
    headers?: Headers;
    body?: string;
    status: number;
    code?: string;
  }> = [
    // Pages of other sites, with credentials the browser holds.
    {
      attack: 'foreign Origin with cached Basic',
      method: 'POST',
      path: '/api/beds/1/discharge',
      headers: { ...admin, ...JSON_TYPE, origin: 'http://evil.example' },
      status: 403,
      code: 'WG_ERR_FORBIDDEN',
    },
    {
      attack: 'foreign Origin with Basic, admitting',
      method: 'POST',
      path: '/api/admissions',
      headers: { ...admin, ...JSON_TYPE, origin: 'http://evil.example' },
      body: admission,
      status: 403,
      code: 'WG_ERR_FORBIDDEN',
    },
    {
      attack: 'opaque Origin (sandboxed frame) with Basic',
      method: 'POST',
      path: '/api/beds/1/discharge',
      headers: { ...admin, ...JSON_TYPE, origin: 'null' },
      status: 403,
      code: 'WG_ERR_FORBIDDEN',
    },
    {
      attack: 'another port of the same host with Basic',
      method: 'POST',
      path: '/api/beds/1/discharge',
      headers: { ...admin, ...JSON_TYPE, origin: 'http://127.0.0.1:1' },
      status: 403,
      code: 'WG_ERR_FORBIDDEN',
    },
    {
      attack: 'Sec-Fetch-Site cross-site with Basic, no Origin',
      method: 'POST',
      path: '/api/beds/1/discharge',
      headers: { ...admin, ...JSON_TYPE, 'sec-fetch-site': 'cross-site' },
      status: 403,
      code: 'WG_ERR_FORBIDDEN',
    },
    {
      attack: 'Sec-Fetch-Site same-site with Basic',
      method: 'POST',
      path: '/api/beds/1/discharge',
      headers: { ...admin, ...JSON_TYPE, 'sec-fetch-site': 'same-site' },
      status: 403,
      code: 'WG_ERR_FORBIDDEN',
    },
    {
      attack: 'a form post with Basic from a browser that sends no Origin',
      method: 'POST',
      path: '/api/beds/1/discharge',
      headers: { ...admin, 'content-type': 'application/x-www-form-urlencoded' },
      body: '',
      status: 403,
      code: 'WG_ERR_FORBIDDEN',
    },
    {
      attack: 'a text/plain form carrying JSON, with Basic',
      method: 'POST',
      path: '/api/admissions',
      headers: { ...admin, 'content-type': 'text/plain' },
      body: formJson,
      status: 403,
      code: 'WG_ERR_FORBIDDEN',
    },
    {
      attack: 'Basic without a content type',
      method: 'POST',
      path: '/api/beds/1/discharge',
      headers: admin,
      status: 403,
      code: 'WG_ERR_FORBIDDEN',
    },
    {
      attack: 'a settings change with Basic as text/plain',
      method: 'PUT',
      path: '/api/beds/1/settings',
      headers: { ...admin, 'content-type': 'text/plain' },
      body: '{"onOxygen":true}',
      status: 403,
      code: 'WG_ERR_FORBIDDEN',
    },
    // Dashboard sessions.
    {
      attack: 'session cookie without the CSRF token',
      method: 'POST',
      path: '/api/beds/1/discharge',
      headers: { cookie },
      status: 403,
      code: 'WG_ERR_FORBIDDEN',
    },
    {
      attack: 'session cookie with a forged CSRF token',
      method: 'POST',
      path: '/api/beds/1/discharge',
      headers: { cookie, 'x-csrf-token': forged(csrf) },
      status: 403,
      code: 'WG_ERR_FORBIDDEN',
    },
    {
      attack: "session cookie with another session's CSRF token",
      method: 'POST',
      path: '/api/beds/1/discharge',
      headers: { cookie, 'x-csrf-token': otherCsrf },
      status: 403,
      code: 'WG_ERR_FORBIDDEN',
    },
    {
      attack: 'session cookie and token, from another origin',
      method: 'POST',
      path: '/api/beds/1/discharge',
      headers: { cookie, 'x-csrf-token': csrf, origin: 'http://evil.example' },
      status: 403,
      code: 'WG_ERR_FORBIDDEN',
    },
    {
      attack: 'session cookie and token, Sec-Fetch-Site cross-site',
      method: 'POST',
      path: '/api/beds/1/discharge',
      headers: { cookie, 'x-csrf-token': csrf, 'sec-fetch-site': 'cross-site' },
      status: 403,
      code: 'WG_ERR_FORBIDDEN',
    },
    {
      attack: 'logout from another site',
      method: 'POST',
      path: '/dashboard/logout',
      headers: { cookie, 'x-csrf-token': csrf, 'sec-fetch-site': 'cross-site' },
      status: 403,
      code: 'WG_ERR_FORBIDDEN',
    },
    {
      attack: 'login from another site (login CSRF)',
      method: 'POST',
      path: '/dashboard/login',
      headers: { ...JSON_TYPE, 'sec-fetch-site': 'cross-site' },
      body: JSON.stringify({ name: 'station', password: passwordOf('station') }),
      status: 403,
      code: 'WG_ERR_FORBIDDEN',
    },
    // Cookie tricks.
    {
      attack: 'a made-up session cookie',
      method: 'GET',
      path: '/api/beds',
      headers: { cookie: 'wg_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' },
      status: 401,
      code: 'WG_ERR_AUTH',
    },
    {
      attack: 'the CSRF token as the session cookie',
      method: 'GET',
      path: '/api/beds',
      headers: { cookie: `wg_session=${csrf}` },
      status: 401,
      code: 'WG_ERR_AUTH',
    },
    {
      attack: 'a bogus session cookie ahead of the real one',
      method: 'GET',
      path: '/api/beds',
      headers: { cookie: `wg_session=bogus; ${cookie}` },
      status: 401,
      code: 'WG_ERR_AUTH',
    },
    {
      attack: 'a session cookie beside wrong Basic credentials',
      method: 'GET',
      path: '/api/beds',
      headers: { cookie, authorization: basic('biomed', 'wrong') },
      status: 401,
      code: 'WG_ERR_AUTH',
    },
    {
      attack: 'a wrong bearer token',
      method: 'POST',
      path: '/api/beds/1/discharge',
      headers: { ...JSON_TYPE, authorization: 'Bearer x' },
      status: 401,
      code: 'WG_ERR_AUTH',
    },
    { attack: 'no credentials', method: 'GET', path: '/api/beds', status: 401, code: 'WG_ERR_AUTH' },
    {
      attack: 'wrong Basic password',
      method: 'GET',
      path: '/api/beds',
      headers: { authorization: basic('station', 'guess') },
      status: 401,
      code: 'WG_ERR_AUTH',
    },
    {
      attack: 'a viewer acknowledging',
      method: 'POST',
      path: '/api/alarms/x/ack',
      headers: { authorization: basic('station'), ...JSON_TYPE },
      status: 403,
      code: 'WG_ERR_FORBIDDEN',
    },
    // Paths.
    {
      attack: 'traversal with encoded slashes',
      method: 'GET',
      path: '/assets/..%2f..%2fpackage.json',
      status: 404,
      code: 'WG_ERR_NOT_FOUND',
    },
    {
      attack: 'traversal with dot segments',
      method: 'GET',
      path: '/assets/../../package.json',
      status: 404,
      code: 'WG_ERR_NOT_FOUND',
    },
    {
      attack: 'traversal with encoded dots',
      method: 'GET',
      path: '/assets/%2e%2e%2f%2e%2e%2fetc%2fpasswd',
      status: 404,
      code: 'WG_ERR_NOT_FOUND',
    },
    {
      attack: 'an asset named like a prototype key',
      method: 'GET',
      path: '/assets/__proto__',
      status: 404,
      code: 'WG_ERR_NOT_FOUND',
    },
    {
      attack: 'a malformed percent-escape',
      method: 'GET',
      path: '/api/beds/%zz',
      headers: admin,
      status: 404,
      code: 'WG_ERR_NOT_FOUND',
    },
    {
      attack: 'a truncated UTF-8 percent-escape',
      method: 'GET',
      path: '/api/beds/%E0%A4%A',
      headers: admin,
      status: 404,
      code: 'WG_ERR_NOT_FOUND',
    },
    {
      attack: 'a lone surrogate escape',
      method: 'GET',
      path: '/api/beds/%ED%A0%80',
      headers: admin,
      status: 404,
      code: 'WG_ERR_NOT_FOUND',
    },
    // Beds that do not exist.
    {
      attack: 'an unknown bed',
      method: 'GET',
      path: '/api/beds/99',
      headers: admin,
      status: 404,
      code: 'WG_ERR_NOT_FOUND',
    },
    {
      attack: 'a bed named __proto__',
      method: 'GET',
      path: '/api/beds/__proto__',
      headers: admin,
      status: 404,
      code: 'WG_ERR_NOT_FOUND',
    },
    {
      attack: 'trends of a bed named constructor',
      method: 'GET',
      path: '/api/beds/constructor/trends',
      headers: admin,
      status: 404,
      code: 'WG_ERR_NOT_FOUND',
    },
    {
      attack: 'discharging an unknown bed',
      method: 'POST',
      path: '/api/beds/99/discharge',
      headers: { ...admin, ...JSON_TYPE },
      status: 404,
      code: 'WG_ERR_NOT_FOUND',
    },
    // Methods.
    {
      attack: 'DELETE on a bed',
      method: 'DELETE',
      path: '/api/beds/1',
      headers: admin,
      status: 405,
      code: 'WG_ERR_METHOD',
    },
    {
      attack: 'a CORS preflight',
      method: 'OPTIONS',
      path: '/api/admissions',
      headers: {
        origin: 'http://evil.example',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type',
      },
      status: 405,
      code: 'WG_ERR_METHOD',
    },
    { attack: 'TRACE', method: 'TRACE', path: '/api/beds', headers: admin, status: 405, code: 'WG_ERR_METHOD' },
    { attack: 'an unknown method', method: 'PROPFIND', path: '/', status: 405, code: 'WG_ERR_METHOD' },
    // Sizes.
    {
      attack: 'an API body over 16 KiB',
      method: 'POST',
      path: '/api/admissions',
      headers: { ...admin, ...JSON_TYPE },
      body: JSON.stringify({ bed: '2', identifier: 'x'.repeat(20_000) }),
      status: 413,
      code: 'WG_ERR_TOO_LARGE',
    },
    {
      attack: 'a login body over 4 KiB',
      method: 'POST',
      path: '/dashboard/login',
      headers: JSON_TYPE,
      body: JSON.stringify({ name: 'biomed', password: 'x'.repeat(5000) }),
      status: 400,
      code: 'WG_ERR_SCHEMA',
    },
    {
      attack: 'a JSON body that is not an object',
      method: 'POST',
      path: '/api/admissions',
      headers: { ...admin, ...JSON_TYPE },
      body: '["__proto__"]',
      status: 400,
      code: 'WG_ERR_SCHEMA',
    },
    {
      attack: 'a body that sets __proto__',
      method: 'POST',
      path: '/api/admissions',
      headers: { ...admin, ...JSON_TYPE },
      body: '{"__proto__":{"bed":"2","identifier":"MRN-TEST-2"}}',
      status: 400,
      code: 'WG_ERR_SCHEMA',
    },
  ];
  for (const row of rows) {
    const answer = await send(port, row.method, row.path, row.headers, row.body);
    t.equal(answer.status, row.status, `${row.attack}: ${row.status}`);
    if (row.code) t.equal(answer.body?.code, row.code, `${row.attack}: ${row.code}`);
    t.notOk(answer.headers['www-authenticate'], `${row.attack}: no Basic challenge`);
    t.notOk(answer.headers['access-control-allow-origin'], `${row.attack}: no CORS grant`);
    if (answer.body)
      t.equal(
        answer.headers['x-content-type-options'],
        'nosniff',
        `${row.attack}: the JSON answer is never sniffed as HTML`,
      );
  }

  // Nothing of the above changed the ward: bed 1 still has its patient, bed 2 none, and the audit trail has the one admission.
  t.ok(gateway.alarms!.admissions.get('1'), 'bed 1 is still occupied');
  t.notOk(gateway.alarms!.admissions.get('2'), 'no patient was admitted to bed 2');
  const changes = gateway
    .db!.prepare("SELECT action FROM audit WHERE action NOT IN ('login', 'login-failed') ORDER BY id")
    .pluck()
    .all();
  t.same(changes, ['admit'], 'the one admission made by the script is the only change');

  // The same requests done right are served: the checks refuse the forgery, not the function.
  t.equal((await send(port, 'GET', '/api/beds/1', admin)).status, 200, 'a known bed');
  t.equal((await send(port, 'GET', '/api/beds/1/trends', admin)).status, 200, "a known bed's trends");
  const fromPage = await send(
    port,
    'PUT',
    '/api/beds/1/settings',
    { cookie, 'x-csrf-token': csrf, ...JSON_TYPE, origin: self, 'sec-fetch-site': 'same-origin' },
    '{"onOxygen":true}',
  );
  t.equal(fromPage.status, 200, "the dashboard's own page, with its token");
  const discharged = await send(port, 'POST', '/api/beds/1/discharge', { ...admin, ...JSON_TYPE });
  t.equal(discharged.status, 200, 'a script with Basic and the JSON content type');
});

t.test('an oversized header, a slow client and a malformed request line', async (t) => {
  const { config } = await startTestGateway(t);
  const port = config.http.port;
  t.match(
    (await raw(port, `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`)).statusLine,
    /^HTTP\/1\.1 431 /,
    'headers over 16 KiB: 431',
  );
  t.match(
    (await raw(port, 'GET /api/beds HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n')).statusLine,
    /^HTTP\/1\.1 400 /,
    'a negative Content-Length: 400',
  );
  t.match((await raw(port, 'GARBAGE\r\n\r\n')).statusLine, /^HTTP\/1\.1 400 /, 'not HTTP: 400');

  // Slowloris: a request whose headers never end holds its connection at most the headers timeout (10 s, checked every second).
  const slow = raw(port, 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: 1\r\n', { keepOpen: true });
  // Meanwhile the port serves others at once.
  const started = Date.now();
  t.equal((await send(port, 'GET', '/healthz')).status, 200, 'others are served while the slow client waits');
  t.ok(Date.now() - started < 5_000, 'and without delay');
  const { statusLine, ms } = await slow;
  t.ok(ms >= 9_000 && ms < 25_000, `the slow client is cut off after the headers timeout (${ms} ms)`);
  t.match(statusLine, /^(HTTP\/1\.1 408 .*)?$/, 'with 408 or a plain close');
});

t.test('connections beyond the cap are closed at once; the port serves again when they go', async (t) => {
  const { config } = await startTestGateway(t);
  const port = config.http.port;
  const open = (): Promise<Socket> =>
    new Promise((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => resolve(socket));
      socket.once('error', reject);
    });
  const held: Socket[] = [];
  t.teardown(() => held.forEach((s) => s.destroy()));
  for (let i = 0; i < MAX_CONNECTIONS; i++) held.push(await open());
  // One more: accepted by the kernel, closed by the server before it can ask anything.
  const extra = await open();
  const answer = await new Promise<string>((resolve) => {
    let got = '';
    extra.on('data', (d: Buffer) => (got += d.toString('latin1')));
    extra.once('close', () => resolve(got));
    extra.once('error', () => undefined);
    extra.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
  });
  t.equal(answer, '', `connection ${MAX_CONNECTIONS + 1} is closed unanswered`);
  for (const s of held.splice(0)) s.destroy();
  const served = await waitFor(
    async () => ((await send(port, 'GET', '/healthz').catch(() => undefined))?.status === 200 ? true : undefined),
    10_000,
    'the port to serve again',
  );
  t.ok(served, 'once the flood is gone, requests are served');
});

t.test('WG_ERR_THROTTLED, answered to repeated failed logins, is a registered code', async (t) => {
  const { config } = await startTestGateway(t);
  const port = config.http.port;
  let last: Answer | undefined;
  for (let i = 0; i < 6; i++)
    last = await send(
      port,
      'POST',
      '/dashboard/login',
      JSON_TYPE,
      JSON.stringify({ name: 'station', password: 'guess' }),
    );
  t.equal(last!.status, 429);
  t.equal(last!.body?.code, 'WG_ERR_THROTTLED');
  t.ok(Number(last!.headers['retry-after']) > 0, 'with Retry-After');
  t.ok(
    Object.hasOwn(errorCodes, 'WG_ERR_THROTTLED'),
    'registered in shared/errors.ts (and so documented in docs/ERRORS.md)',
  );
});
