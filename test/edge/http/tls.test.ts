// The edge HTTP port over TLS: the dashboard, the API and the command line,
// against a real daemon with a certificate made by openssl.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { get, request } from 'node:https';
import { get as plainGet } from 'node:http';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { connect } from 'node:net';
import { loadConfig } from '../../../edge/config/load.js';
import { HttpServer } from '../../../edge/http/server.js';
import { createLogger } from '../../../edge/log.js';
import mqtt from 'mqtt';
import { gatewayPage, launchBrowser, logIn } from '../../helpers/browser.js';
import { passwordOf, spawnDaemon, WARDGATE_BIN, writeTestConfig } from '../../helpers/gateway.js';
import { tempDir, waitFor } from '../../helpers/env.js';
import { selfSignedCert } from '../../helpers/tls.js';

t.setTimeout(120_000);

const wardgate = (...args: string[]) =>
  spawnSync(process.execPath, [WARDGATE_BIN, ...args], { encoding: 'utf8', timeout: 30_000 });

const makeCert = (dir: string, name: string) => selfSignedCert(dir, name, 'ward-3b.example');

function httpsCall(
  port: number,
  ca: string,
  path: string,
  init: { method?: string; body?: string; headers?: Record<string, string> } = {},
) {
  return new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }>(
    (resolve, reject) => {
      // The certificate names the ward's host name, not the loopback address: check the chain, and the name it was made for.
      const req = request({
        host: '127.0.0.1',
        port,
        path,
        method: init.method ?? 'GET',
        ca,
        servername: 'ward-3b.example',
        headers: init.headers,
      });
      req.once('response', (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.once('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
      });
      req.once('error', reject);
      req.end(init.body);
    },
  );
}

t.test(
  'with http.tls the port speaks HTTPS only; login cookies are Secure; the command line pins the certificate',
  async (t) => {
    const certDir = tempDir(t);
    const { cert, key } = makeCert(certDir, 'ward');
    const { dir, file, httpPort, mqttPort } = await writeTestConfig(t, { extra: { http: { tls: { cert, key } } } });
    const ca = readFileSync(cert, 'utf8');
    await spawnDaemon(t, file, join(dir, 'data'));

    const health = await httpsCall(httpPort, ca, '/healthz');
    t.equal(health.status, 200);
    t.match(JSON.parse(health.body), { status: 'ok' });
    await t.rejects(
      new Promise((resolve, reject) =>
        plainGet({ host: '127.0.0.1', port: httpPort, path: '/healthz', timeout: 5000 }, resolve).once('error', reject),
      ),
      'plain HTTP gets no answer',
    );
    await t.rejects(
      new Promise((resolve, reject) =>
        get({ host: '127.0.0.1', port: httpPort, path: '/healthz' }, resolve).once('error', reject),
      ),
      /self[- ]signed/,
      'a client that does not trust the certificate refuses the connection',
    );

    const origin = `https://127.0.0.1:${httpPort}`;
    const login = await httpsCall(httpPort, ca, '/dashboard/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin, host: `127.0.0.1:${httpPort}` },
      body: JSON.stringify({ name: 'nurse-ann', password: passwordOf('nurse-ann') }),
    });
    t.equal(login.status, 200, login.body);
    t.match(String(login.headers['set-cookie']), /; Secure/, 'the session cookie never travels over plain HTTP');

    // The dashboard in Chromium over HTTPS, live updates (server-sent events) included.
    const browser = await launchBrowser(t, { trustAnyCertificate: true });
    const { page, errors } = await gatewayPage(browser, origin);
    await logIn(page, origin, 'nurse-ann', passwordOf('nurse-ann'));
    const device = await mqtt.connectAsync(`mqtt://127.0.0.1:${mqttPort}`, {
      clientId: 'pox-1',
      username: 'pox-1',
      password: passwordOf('pox-1'),
      reconnectPeriod: 0,
    });
    t.teardown(() => device.endAsync(true));
    await device.publishAsync(
      'wardgate/devices/pox-1/obs',
      JSON.stringify({ seq: 1, obs: [{ code: 'spo2', value: 96, unit: '%' }] }),
      { qos: 1 },
    );
    const spo2 = page.locator('.tile[data-bed="1"] [data-vital="spo2"] .value');
    await waitFor(async () => ((await spo2.textContent()) === '96' ? true : undefined), 5000, 'SpO2 96 on the tile');
    t.same(errors, [], 'no errors in the page');

    const admit = wardgate('admit', '--config', file, '--bed', '1', '--patient', 'MRN-501');
    t.equal(admit.status, 0, admit.stderr);
    t.match(admit.stdout, /admitted to bed 1/);
    t.match(wardgate('alarms', '--config', file).stdout, /no open alarms/);

    // The same data directory named by a config with another certificate: not the daemon's, so no token is sent.
    const other = makeCert(certDir, 'other');
    const impostor = join(certDir, 'impostor.yaml');
    const config = loadConfig({ file, env: {} });
    writeFileSync(
      impostor,
      stringify({
        ward: '3B',
        gateway: { id: 'gw-test', dataDir: config.gateway.dataDir },
        http: { host: '127.0.0.1', port: httpPort, tls: other },
      }),
    );
    const refused = wardgate('alarms', '--config', impostor);
    t.equal(refused.status, 1);
    t.match(
      refused.stderr,
      /did not present the certificate named by http\.tls\.cert; refusing to send it the local token/,
    );
  },
);

t.test('http.tls files are checked at start: the key must be 0600', async (t) => {
  const certDir = tempDir(t);
  const { cert, key } = makeCert(certDir, 'ward');
  chmodSync(key, 0o644);
  const { file } = await writeTestConfig(t, { extra: { http: { tls: { cert, key } } } });
  const result = wardgate('edge', '--config', file);
  t.equal(result.status, 2);
  t.match(result.stderr, /http\.tls\.key: .* has mode 0644; a secret file must be 0600 or stricter/);
  const missing = await writeTestConfig(t, { extra: { http: { tls: { cert: join(certDir, 'nope.pem'), key } } } });
  const noCert = wardgate('edge', '--config', missing.file);
  t.equal(noCert.status, 2);
  t.match(noCert.stderr, /http\.tls\.cert: cannot read .*nope\.pem \(ENOENT\)/);
});

t.test(
  'stopping does not wait for a client that opened a connection and never finished its TLS handshake',
  async (t) => {
    const { cert, key } = makeCert(tempDir(t), 'ward');
    const server = new HttpServer({
      host: '127.0.0.1',
      port: 0,
      log: createLogger('silent'),
      tls: { cert: readFileSync(cert), key: readFileSync(key) },
    });
    await server.start();
    const stalled = connect(server.port!, '127.0.0.1');
    t.teardown(() => stalled.destroy());
    await new Promise((resolve) => stalled.once('connect', resolve));
    const closed = new Promise((resolve) => stalled.once('close', resolve));
    const started = performance.now();
    await server.stop();
    await closed;
    t.ok(performance.now() - started < 2000, `stopped in ${Math.round(performance.now() - started)} ms`);
  },
);
