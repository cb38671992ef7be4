// A gateway behind the hospital's web proxy: its batches reach the cloud only
// through an HTTP CONNECT tunnel of a loopback proxy that asks for Basic
// credentials. The cloud is named cloud.wardgate.test, a name only the proxy
// resolves (to 127.0.0.1), so a batch that arrives came through it. A wrong
// proxy password is a readable WG_ERR_PROXY, retried, with nothing marked
// sent; NO_PROXY sends directly (the child then resolves the name itself, by
// test/helpers/testHosts.mjs); the password is never in the daemon's output.
import t, { type Test } from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import { pathToFileURL } from 'node:url';
import { ROOT, connectAs, spawnDaemon, spawnWardgate, writeTestConfig, type Daemon } from '../../helpers/gateway.js';
import { tempDir, waitFor } from '../../helpers/env.js';
import { startConnectProxy } from '../../helpers/connectProxy.js';
import { selfSignedCert } from '../../helpers/tls.js';
import { TOKEN_HOST, serviceAccount } from '../../helpers/serviceAccount.js';
import { startContractServer, type ContractServer } from './contractServer.js';

t.setTimeout(120_000);
const SECRET = 'gw-proxy-cloud-secret-0123456789abcdef';
const PASSWORD = 'Pr0xy-pa55word-of-the-ward';
const TEST_HOSTS = pathToFileURL(join(ROOT, 'test', 'helpers', 'testHosts.mjs')).href;
/** Nothing of the proxy's environment leaks in from the machine running the tests. */
const NO_PROXY_ENV = { HTTPS_PROXY: '', https_proxy: '', HTTP_PROXY: '', http_proxy: '', NO_PROXY: '', no_proxy: '' };

async function server(t: Test): Promise<ContractServer> {
  const s = await startContractServer(SECRET);
  t.teardown(() => s.stop());
  return s;
}

/** A daemon whose cloud is `cloudUrl`, with `extra` config and `env`; logs at debug, the most it would ever say. */
async function gateway(
  t: Test,
  cloudUrl: string,
  extra: Record<string, unknown>,
  env: Record<string, string>,
  cloudExtra: Record<string, unknown> = {},
) {
  const baseEnv: Record<string, string> = {
    ...NO_PROXY_ENV,
    WG_CLOUD: SECRET,
    WG_WARD: 'ward-proxy-pseudonym-secret-0123456789',
    ...env,
  };
  const { dir, file, mqttPort } = await writeTestConfig(t, {
    env: baseEnv,
    devices: [{ id: 'pox-1', bed: '1' }],
    extra: {
      cloud: {
        url: cloudUrl,
        secretEnv: 'WG_CLOUD',
        wardSecretEnv: 'WG_WARD',
        requestTimeoutMs: 5000,
        batch: { maxItems: 10, maxAgeMs: 0 },
        backoff: { initialMs: 50, maxMs: 300 },
        ...cloudExtra,
      },
      jobs: { sync: '* * * * * *' },
      log: { level: 'debug' },
      ...extra,
    },
  });
  return { dir, file, mqttPort, env: baseEnv };
}

async function start(t: Test, g: Awaited<ReturnType<typeof gateway>>): Promise<Daemon> {
  const daemon = await spawnDaemon(t, g.file, join(g.dir, 'data'), g.env);
  const device = await connectAs(t, `mqtt://127.0.0.1:${g.mqttPort}`, 'pox-1');
  await device.publishAsync(
    'wardgate/devices/pox-1/obs',
    JSON.stringify({ seq: 1, obs: [{ code: 'spo2', value: 97, unit: '%' }] }),
    {
      qos: 1,
    },
  );
  return daemon;
}

t.test(
  'proxy.url with a password file: every batch goes through the tunnel, the password never in the log',
  async (t) => {
    const cloud = await server(t);
    const proxy = await startConnectProxy(t, { user: 'wardgate', password: PASSWORD });
    const cloudUrl = cloud.url.replace('127.0.0.1', 'cloud.wardgate.test');
    const g = await gateway(
      t,
      cloudUrl,
      { proxy: { url: `http://wardgate@127.0.0.1:${proxy.port}`, passwordFile: 'proxy.pass' } },
      {},
    );
    writeFileSync(join(g.dir, 'proxy.pass'), `${PASSWORD}\n`, { mode: 0o600 });
    const daemon = await start(t, g);

    await waitFor(() => (cloud.batchIds.length > 0 ? true : undefined), 20_000, 'a batch at the cloud');
    const host = new URL(cloudUrl).host;
    t.ok(proxy.tunnels.length > 0, `${proxy.tunnels.length} tunnel(s)`);
    t.same(new Set(proxy.tunnels), new Set([host]), 'every tunnel to the cloud, none elsewhere');
    t.equal(proxy.refused, 0);
    t.match(daemon.output(), /requests out and the web proxy/);
    t.match(
      daemon.output(),
      new RegExp(`through the web proxy http://wardgate@127\\.0\\.0\\.1:${proxy.port}/ \\(proxy\\.url\\)`),
    );
    t.notMatch(daemon.output(), PASSWORD);
  },
);

t.test('a wrong proxy password: WG_ERR_PROXY 407 in the log, retried, no batch sent, the daemon up', async (t) => {
  const cloud = await server(t);
  const proxy = await startConnectProxy(t, { user: 'wardgate', password: PASSWORD });
  const wrong = 'not-the-Pr0xy-password';
  const g = await gateway(
    t,
    cloud.url.replace('127.0.0.1', 'cloud.wardgate.test'),
    { proxy: { url: `http://wardgate@127.0.0.1:${proxy.port}`, passwordEnv: 'WG_PROXY_PASSWORD' } },
    { WG_PROXY_PASSWORD: wrong },
  );
  const daemon = await start(t, g);

  await waitFor(() => (proxy.refused >= 3 ? true : undefined), 20_000, 'attempts refused by the proxy');
  await waitFor(
    () => (/"code":"WG_ERR_PROXY"/.test(daemon.output()) ? true : undefined),
    10_000,
    'the refusal in the log',
  );
  t.match(daemon.output(), /407 Proxy Authentication Required: check the proxy user and password/);
  t.equal(daemon.child.exitCode, null, 'the daemon runs on');
  t.equal(cloud.attempts, 0, 'nothing reached the cloud');
  t.same(cloud.batchIds, []);
  t.same(proxy.tunnels, []);

  const status = spawnWardgate(t, ['status', '--config', g.file, '--json'], g.env);
  t.equal(await status.exited, 0, 'wardgate status answers');
  const report = JSON.parse(status.output()) as {
    readings: { unsynced: number };
    sync: { state: string; lastSuccessTs: string | null };
  };
  t.equal(report.readings.unsynced, 1, 'the reading waits, not marked sent');
  t.equal(report.sync.lastSuccessTs, null);
  t.equal(report.sync.state, 'retrying');
  t.notMatch(daemon.output() + status.output(), wrong);
});

t.test('HTTP_PROXY from the environment carries the batches; NO_PROXY sends them directly', async (t) => {
  const proxy = await startConnectProxy(t, { user: 'ward', password: PASSWORD });
  const envProxy = `http://ward:${PASSWORD}@127.0.0.1:${proxy.port}`;

  const viaProxy = await server(t);
  const g1 = await gateway(t, viaProxy.url.replace('127.0.0.1', 'cloud.wardgate.test'), {}, { HTTP_PROXY: envProxy });
  const d1 = await start(t, g1);
  await waitFor(() => (viaProxy.batchIds.length > 0 ? true : undefined), 20_000, 'a batch through the proxy');
  const tunnels = proxy.tunnels.length;
  t.ok(tunnels > 0);
  t.match(d1.output(), /\(HTTP_PROXY\)/);
  t.notMatch(d1.output(), PASSWORD);
  d1.child.kill('SIGTERM');
  await d1.exited;

  const direct = await server(t);
  const g2 = await gateway(
    t,
    direct.url.replace('127.0.0.1', 'cloud.wardgate.test'),
    {},
    {
      HTTP_PROXY: envProxy,
      NO_PROXY: 'localhost,.wardgate.test',
      NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import=${TEST_HOSTS}`,
    },
  );
  const d2 = await start(t, g2);
  await waitFor(() => (direct.batchIds.length > 0 ? true : undefined), 20_000, 'a batch sent directly');
  t.equal(proxy.tunnels.length, tunnels, 'no tunnel for a host in NO_PROXY');
  t.equal(proxy.refused, 0);
  t.notMatch(d2.output(), PASSWORD);
});

t.test('ID tokens take the same proxy, with the same credentials, as the batches', async (t) => {
  const cloud = await server(t);
  const AUDIENCE = 'https://wardgate-test.example';
  // Google's token endpoint, answered by the test at the end of the proxy's tunnel (TLS with a certificate the child trusts).
  const cert = selfSignedCert(tempDir(t), 'token-endpoint', TOKEN_HOST);
  const claims = { aud: AUDIENCE, exp: Math.floor(Date.now() / 1000) + 3600 };
  const idToken = `${Buffer.from('{"alg":"RS256"}').toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.sig`;
  let granted = 0;
  const google = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      granted++;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id_token: idToken }));
    });
  });
  t.teardown(() => google.closeAllConnections());
  const tls = { key: readFileSync(cert.key), cert: readFileSync(cert.cert) };
  const proxy = await startConnectProxy(
    t,
    { user: 'wardgate', password: PASSWORD },
    { [`${TOKEN_HOST}:443`]: (socket) => google.emit('connection', new TLSSocket(socket, { isServer: true, ...tls })) },
  );
  const cloudUrl = cloud.url.replace('127.0.0.1', 'cloud.wardgate.test');
  const g = await gateway(
    t,
    cloudUrl,
    { proxy: { url: `http://wardgate@127.0.0.1:${proxy.port}`, passwordEnv: 'WG_PROXY_PASSWORD' } },
    { WG_PROXY_PASSWORD: PASSWORD, GOOGLE_APPLICATION_CREDENTIALS: '', NODE_EXTRA_CA_CERTS: cert.cert },
    { idToken: { audience: AUDIENCE, credentialsFile: 'sa.json' } },
  );
  writeFileSync(join(g.dir, 'sa.json'), JSON.stringify(serviceAccount().key), { mode: 0o600 });
  const daemon = await start(t, g);

  await waitFor(() => (cloud.batchIds.length > 0 ? true : undefined), 20_000, 'a batch at the cloud');
  t.same(new Set(cloud.authorizations), new Set([`Bearer ${idToken}`]), 'every batch with the token');
  t.ok(granted >= 1);
  t.ok(proxy.tunnels.includes(`${TOKEN_HOST}:443`), 'the token through the proxy');
  t.ok(proxy.tunnels.includes(new URL(cloudUrl).host), 'the batches too');
  t.equal(proxy.refused, 0, 'both with the proxy password');
  t.notMatch(daemon.output(), PASSWORD);
});

t.test(
  'a refused ID token with HTTPS_PROXY from the environment: the proxy password in none of the output',
  async (t) => {
    const cloud = await server(t);
    const cert = selfSignedCert(tempDir(t), 'token-endpoint', TOKEN_HOST);
    let refusedTokens = 0;
    const google = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        refusedTokens++;
        res
          .writeHead(400, { 'content-type': 'application/json' })
          .end(JSON.stringify({ error: 'invalid_grant', error_description: 'Invalid JWT Signature.' }));
      });
    });
    t.teardown(() => google.closeAllConnections());
    const tls = { key: readFileSync(cert.key), cert: readFileSync(cert.cert) };
    const proxy = await startConnectProxy(
      t,
      { user: 'ward', password: PASSWORD },
      {
        [`${TOKEN_HOST}:443`]: (socket) => google.emit('connection', new TLSSocket(socket, { isServer: true, ...tls })),
      },
    );
    const g = await gateway(
      t,
      cloud.url.replace('127.0.0.1', 'cloud.wardgate.test'),
      { jobs: { sync: '* * * * * *', configPull: '* * * * * *' } },
      {
        HTTPS_PROXY: `http://ward:${PASSWORD}@127.0.0.1:${proxy.port}`,
        HTTP_PROXY: `http://ward:${PASSWORD}@127.0.0.1:${proxy.port}`,
        GOOGLE_APPLICATION_CREDENTIALS: '',
        NODE_EXTRA_CA_CERTS: cert.cert,
      },
      { idToken: { audience: 'https://wardgate-test.example', credentialsFile: 'sa.json' } },
    );
    writeFileSync(join(g.dir, 'sa.json'), JSON.stringify(serviceAccount().key), { mode: 0o600 });
    const daemon = await start(t, g);

    await waitFor(
      () => (/"job":"configPull"/.test(daemon.output()) && refusedTokens >= 2 ? true : undefined),
      20_000,
      'the config pull failing on its token',
    );
    t.match(daemon.output(), /invalid_grant/, 'the refusal is logged');
    t.equal(proxy.refused, 0, 'the token requests went through the proxy with its password');
    const basic = Buffer.from(`ward:${PASSWORD}`).toString('base64');
    for (const secret of [PASSWORD, encodeURIComponent(PASSWORD), basic])
      t.notOk(
        daemon.output().includes(secret),
        `${secret === basic ? 'the Basic credentials' : 'the password'} not in the output`,
      );
  },
);

t.test(
  'a proxy that takes the connection and never answers CONNECT: SIGTERM still stops the daemon at once',
  async (t) => {
    // Accepts every connection and reads the CONNECT request, never answering it.
    const held = new Set<Socket>();
    const stalled = createTcpServer((socket) => {
      held.add(socket);
      socket.on('error', () => undefined).resume();
    });
    await new Promise<void>((resolve) => stalled.listen(0, '127.0.0.1', resolve));
    t.teardown(() => {
      for (const s of held) s.destroy();
      stalled.close();
    });
    const port = (stalled.address() as AddressInfo).port;
    const g = await gateway(
      t,
      'https://cloud.wardgate.test/sync',
      { proxy: { url: `http://127.0.0.1:${port}`, noProxy: [] } },
      {},
      { requestTimeoutMs: 1000 },
    );
    const daemon = await start(t, g);
    await waitFor(() => (held.size >= 2 ? true : undefined), 20_000, 'sync attempts stalled at the proxy');
    // Past the request timeout of the first attempt: its CONNECT is still unanswered.
    await new Promise((resolve) => setTimeout(resolve, 1500));

    const sent = performance.now();
    daemon.child.kill('SIGTERM');
    const bound = new Promise<'still running'>((resolve) => setTimeout(() => resolve('still running'), 10_000).unref());
    const outcome = await Promise.race([daemon.exited.then(() => 'exited' as const), bound]);
    const ms = Math.round(performance.now() - sent);
    if (outcome !== 'exited') daemon.child.kill('SIGKILL');
    t.equal(outcome, 'exited', `the daemon exited ${ms} ms after SIGTERM`);
    t.equal(daemon.child.exitCode, 0, 'a clean stop');
    t.match(daemon.output(), /"stopped"/);
  },
);

t.test(
  'a malformed HTTPS_PROXY on a box that sends nothing out (no cloud, no webhook): the daemon starts',
  async (t) => {
    const env = {
      ...NO_PROXY_ENV,
      HTTPS_PROXY: 'socks5://proxy.hospital.example:1080',
      HTTP_PROXY: 'http://u:%zz@proxy:3128',
    };
    const { dir, file } = await writeTestConfig(t, { env, devices: [{ id: 'pox-1', bed: '1' }] });
    const daemon = await spawnDaemon(t, file, join(dir, 'data'), env);
    t.equal(daemon.child.exitCode, null, 'up');
    t.notMatch(daemon.output(), /WG_ERR_CONFIG|proxy/i, 'the proxy variables not even read');
  },
);
