// The dashboard's HTTP side through a real gateway: login against the config
// hashes, cookie-authenticated API calls with and without the CSRF token,
// logout, the audit trail, the live feed's events, and the page and assets
// served by `wardgate edge` itself (run from the package, as installed).
import t from 'tap';
import { request } from 'node:http';
import { waitFor } from '../../helpers/env.js';
import { connectAs, passwordOf, spawnDaemon, startTestGateway, writeTestConfig } from '../../helpers/gateway.js';

t.setTimeout(120_000);

type Json = Record<string, unknown>;

async function login(base: string, name: string, password = passwordOf(name), headers: Record<string, string> = {}) {
  const res = await fetch(`${base}/dashboard/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ name, password }),
  });
  const cookie = res.headers.get('set-cookie') ?? '';
  return { res, body: (await res.json()) as Json, cookie, session: cookie.split(';')[0] };
}

/** Reads server-sent events from the dashboard's stream until `until` says stop. */
function events(
  base: string,
  cookie: string,
  until: (got: Array<{ event: string; data: Json }>) => boolean,
  ms = 10_000,
) {
  return new Promise<Array<{ event: string; data: Json }>>((resolve, reject) => {
    const got: Array<{ event: string; data: Json }> = [];
    const req = request(`${base}/dashboard/events`, { headers: { cookie } }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`status ${res.statusCode}`));
      let buffer = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event && data) got.push({ event, data: JSON.parse(data) as Json });
        }
        if (until(got)) {
          clearTimeout(timer);
          req.destroy();
          resolve(got);
        }
      });
      res.on('end', () => resolve(got));
    });
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error(`timed out; got ${got.map((g) => g.event).join(', ')}`));
    }, ms);
    req.on('error', (err) => (err.message.includes('aborted') ? undefined : reject(err)));
    req.end();
  });
}

t.test('login, cookie-authenticated API, CSRF, logout, audit', async (t) => {
  const { gateway, config, url } = await startTestGateway(t);
  const base = `http://127.0.0.1:${config.http.port}`;

  const wrong = await login(base, 'nurse-ann', 'not-the-password');
  t.equal(wrong.res.status, 401);
  t.equal(wrong.cookie, '', 'no cookie for a wrong password');
  t.equal((await login(base, 'pox-1')).res.status, 401, 'a device is not a dashboard user');
  t.equal(
    (await login(base, 'nurse-ann', passwordOf('nurse-ann'), { origin: 'http://evil.example' })).res.status,
    403,
    'login from another origin is refused',
  );
  t.equal((await fetch(`${base}/dashboard/login`, { method: 'POST', body: 'not json' })).status, 400);

  const { res, body, cookie, session } = await login(base, 'nurse-ann');
  t.equal(res.status, 200);
  t.match(body, { name: 'nurse-ann', role: 'nurse', csrf: /^[\w-]{43}$/ });
  t.match(cookie, /^wg_session=[\w-]{43}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=\d+$/);
  t.notOk(JSON.stringify(body).includes(session.split('=')[1]), 'the session id is only in the HttpOnly cookie');

  const device = await connectAs(t, url, 'pox-1');
  await device.publishAsync(
    'wardgate/devices/pox-1/obs',
    JSON.stringify({ seq: 1, obs: [{ code: 'nibp_sys', value: 82, unit: 'mm[Hg]' }] }),
    { qos: 1 },
  );
  const open = await waitFor(async () => {
    const r = (await (await fetch(`${base}/api/alarms`, { headers: { cookie: session } })).json()) as {
      alarms: Json[];
    };
    return r.alarms.length ? r.alarms : undefined;
  });
  const ack = (headers: Record<string, string>) =>
    fetch(`${base}/api/alarms/${open[0].id}/ack`, {
      method: 'POST',
      headers: { cookie: session, 'x-wardgate-client': 'dashboard', ...headers },
    });
  const noToken = await ack({});
  t.equal(noToken.status, 403, 'a change without the CSRF token is refused');
  t.match(await noToken.json(), { code: 'WG_ERR_FORBIDDEN', message: /CSRF/ });
  t.notOk(
    noToken.headers.get('www-authenticate'),
    'and the dashboard gets no Basic challenge (no browser password dialog)',
  );
  t.equal(
    (await ack({ 'x-csrf-token': body.csrf as string, origin: 'http://evil.example' })).status,
    403,
    'nor one from another origin',
  );
  const done = await ack({ 'x-csrf-token': body.csrf as string });
  t.equal(done.status, 200);
  t.match(await done.json(), { state: 'acknowledged', acknowledgedBy: 'nurse-ann' });

  const trends = (await (
    await fetch(`${base}/api/beds/1/trends?hours=1&points=60`, { headers: { cookie: session } })
  ).json()) as Json;
  t.match(trends, { bed: '1', series: { nibp_sys: [[Number, 82, 82, 82, 1]] } }, 'trends through the same session');
  t.equal((await fetch(`${base}/api/beds/1/trends?hours=0`, { headers: { cookie: session } })).status, 400);

  const csrf = body.csrf as string;
  t.equal(
    (await fetch(`${base}/dashboard/logout`, { method: 'POST', headers: { cookie: session } })).status,
    403,
    'logout needs the token too',
  );
  const out = await fetch(`${base}/dashboard/logout`, {
    method: 'POST',
    headers: { cookie: session, 'x-csrf-token': csrf },
  });
  t.equal(out.status, 200);
  t.match(out.headers.get('set-cookie'), /Max-Age=0/);
  t.equal(
    (await fetch(`${base}/dashboard/session`, { headers: { cookie: session } })).status,
    401,
    'the session is gone',
  );
  t.equal((await fetch(`${base}/api/beds`, { headers: { cookie: session } })).status, 401);

  const audit = gateway
    .db!.prepare(
      "SELECT actor, action FROM audit WHERE action IN ('login', 'login-failed', 'logout', 'acknowledge') ORDER BY id",
    )
    .all();
  t.same(audit, [
    { actor: 'nurse-ann', action: 'login-failed' },
    { actor: 'pox-1', action: 'login-failed' },
    { actor: 'nurse-ann', action: 'login' },
    { actor: 'nurse-ann', action: 'acknowledge' },
    { actor: 'nurse-ann', action: 'logout' },
  ]);
});

t.test('repeated wrong passwords lock the name for a while', async (t) => {
  const { config } = await startTestGateway(t);
  const base = `http://127.0.0.1:${config.http.port}`;
  for (let i = 0; i < 5; i++) t.equal((await login(base, 'station', 'guess')).res.status, 401);
  const locked = await login(base, 'station');
  t.equal(locked.res.status, 429, 'even the right password waits');
  t.match(locked.res.headers.get('retry-after'), /^\d+$/);
  t.equal((await login(base, 'nurse-ann')).res.status, 200, 'another name is not locked');
});

t.test('the live feed: a snapshot, then bed updates and alarms as they happen', async (t) => {
  const { gateway, config, url } = await startTestGateway(t, { extra: { dashboard: { statusIntervalMs: 300 } } });
  const base = `http://127.0.0.1:${config.http.port}`;
  t.equal((await fetch(`${base}/dashboard/events`)).status, 401, 'no session, no feed');
  const { session } = await login(base, 'station');
  const device = await connectAs(t, url, 'pox-2');
  const feed = events(
    base,
    session,
    (got) => got.some((g) => g.event === 'alarms') && got.some((g) => g.event === 'status'),
  );
  // Publish only once the stream is open, so that the changes come as events, not in the snapshot.
  await waitFor(() => (gateway.dashboard?.liveClients === 1 ? true : undefined), 5000, 'the stream to open');
  await device.publishAsync(
    'wardgate/devices/pox-2/obs',
    JSON.stringify({ seq: 1, obs: [{ code: 'spo2', value: 96, unit: '%' }] }),
    { qos: 1 },
  );
  await device.publishAsync(
    'wardgate/devices/pox-2/obs',
    JSON.stringify({ seq: 2, obs: [{ code: 'nibp_sys', value: 80, unit: 'mm[Hg]' }] }),
    { qos: 1 },
  );
  const got = await feed;
  t.equal(got[0].event, 'snapshot', 'the snapshot comes first');
  t.match(got[0].data, { ward: '3B', beds: [{ bed: '1' }, { bed: '2' }], alarms: [], status: { readings: Object } });
  t.notOk(JSON.stringify(got).match(/identifier|MRN/i), 'no patient identifiers in the feed');
  const bed = got.find((g) => g.event === 'bed' && (g.data.vitals as Json).spo2);
  t.match(bed?.data, { bed: '2', vitals: { spo2: { value: 96 } }, devices: [{ id: 'pox-2', state: 'connected' }] });
  const alarms = got.find((g) => g.event === 'alarms');
  t.match(alarms?.data, { alarms: [{ bed: '2', metric: 'nibp_sys', priority: 'medium' }] });
});

t.test('an admission or discharge made elsewhere reaches every open dashboard at once', async (t) => {
  const { gateway, config } = await startTestGateway(t);
  const base = `http://127.0.0.1:${config.http.port}`;
  const { session } = await login(base, 'station');
  const admin = {
    authorization: `Basic ${Buffer.from(`biomed:${passwordOf('biomed')}`).toString('base64')}`,
    'content-type': 'application/json',
  };
  const patientOf = (got: Array<{ event: string; data: Json }>) =>
    got.filter((g) => g.event === 'bed' && g.data.bed === '1').map((g) => g.data.patient);
  const feed = events(base, session, (got) => patientOf(got).length >= 2);
  await waitFor(() => (gateway.dashboard?.liveClients === 1 ? true : undefined), 5000, 'the stream to open');
  const admitted = await fetch(`${base}/api/admissions`, {
    method: 'POST',
    headers: admin,
    body: JSON.stringify({ bed: '1', identifier: 'MRN-61', displayName: 'C. Patient' }),
  });
  t.equal(admitted.status, 201);
  // The second event must follow the first: wait for it before discharging.
  await new Promise((r) => setTimeout(r, 200));
  t.equal((await fetch(`${base}/api/beds/1/discharge`, { method: 'POST', headers: admin })).status, 200);
  const patients = patientOf(await feed);
  t.match(patients[0], { displayName: 'C. Patient' }, 'the station sees the name the admin entered');
  t.equal(patients[1], null, 'and the empty bed after the discharge');
  t.notOk(JSON.stringify(patients).includes('MRN-61'), 'never the identifier');
});

t.test('wardgate edge serves the page and its assets from the installed package', async (t) => {
  const { file, dir, httpPort } = await writeTestConfig(t);
  await spawnDaemon(t, file, `${dir}/data`);
  const base = `http://127.0.0.1:${httpPort}`;
  const page = await fetch(`${base}/`);
  t.equal(page.status, 200);
  t.match(page.headers.get('content-type'), 'text/html');
  t.match(page.headers.get('content-security-policy'), "default-src 'none'");
  t.match(page.headers.get('content-security-policy'), "connect-src 'self'");
  const html = await page.text();
  const assets = [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1]);
  t.ok(assets.length >= 2, 'the page names its assets');
  t.notOk(/https?:\/\//.test(html), 'and nothing from another host');
  for (const asset of [...assets, '/assets/ward.js', '/assets/chart.js']) {
    const res = await fetch(`${base}${asset}`);
    t.equal(res.status, 200, asset);
    const text = await res.text();
    t.notOk(/https?:\/\/(?!www\.w3\.org\/2000\/svg)/.test(text), `${asset} loads nothing from another host`);
    const etag = res.headers.get('etag')!;
    t.equal(
      (await fetch(`${base}${asset}`, { headers: { 'if-none-match': etag } })).status,
      304,
      `${asset} revalidates`,
    );
  }
  t.equal((await fetch(`${base}/assets/nope.js`)).status, 404);
  t.equal((await fetch(`${base}/assets/..%2Fsessions.ts`)).status, 404, 'no way out of the asset directory');
});
