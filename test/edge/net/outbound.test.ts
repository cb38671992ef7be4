// Outbound requests and the hospital's web proxy: which requests go through
// it (noProxy, loopback, the scheme), where the proxy comes from (config over
// environment), that its password is never in what may be logged, and what a
// refusing or missing proxy looks like, through a loopback CONNECT proxy.
import t, { type Test } from 'tap';
import { createServer } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net';
import { configSchema } from '../../../edge/config/schema.js';
import {
  isLoopback,
  noProxyMatches,
  Outbound,
  outboundSettings,
  ProxyError,
  proxyErrorIn,
  redactUrl,
} from '../../../edge/net/outbound.js';
import { freePort, waitFor } from '../../helpers/env.js';
import { startConnectProxy } from '../../helpers/connectProxy.js';

const u = (s: string) => new URL(s);

t.test('noProxy entries: *, host and its subdomains, leading dot, host:port, IP addresses', async (t) => {
  const cases: Array<[string, string[], boolean]> = [
    ['https://cloud.example.com/x', ['*'], true],
    ['https://cloud.example.com/x', ['example.com'], true],
    ['https://example.com/x', ['example.com'], true],
    ['https://cloud.example.com/x', ['.example.com'], true],
    ['https://cloud.example.com/x', ['*.example.com'], true],
    ['https://notexample.com/x', ['example.com'], false],
    ['https://notexample.com/x', ['.example.com'], false],
    ['https://Pager.Hospital.Local:8443/', ['hospital.local'], true],
    ['https://pager.hospital.local:8443/', ['pager.hospital.local:8443'], true],
    ['https://pager.hospital.local:8443/', ['pager.hospital.local:443'], false],
    ['https://pager.hospital.local/', ['pager.hospital.local:443'], true],
    ['http://pager.hospital.local/', ['pager.hospital.local:80'], true],
    ['http://10.1.2.3:8080/', ['10.1.2.3'], true],
    ['http://10.1.2.3:8080/', ['10.1.2.3:8080'], true],
    ['http://10.1.2.30/', ['10.1.2.3'], false],
    ['http://110.1.2.3/', ['10.1.2.3'], false],
    ['http://[fd00::1]:8080/', ['fd00::1'], true],
    ['http://[fd00::1]:8080/', ['[fd00::1]:8080'], true],
    ['http://[fd00::1]:8080/', ['[fd00::1]:9090'], false],
    ['https://cloud.example.com/', [], false],
    ['https://cloud.example.com/', [' ', '.'], false],
  ];
  for (const [url, entries, expected] of cases)
    t.equal(noProxyMatches(u(url), entries), expected, `${url} with ${JSON.stringify(entries)}`);
});

t.test('loopback is this box: 127.0.0.0/8, ::1, localhost', async (t) => {
  for (const url of [
    'http://127.0.0.1:9/',
    'http://127.1.2.3/',
    'http://[::1]:8080/',
    'http://localhost/',
    'http://a.localhost/',
  ])
    t.ok(isLoopback(u(url)), url);
  for (const url of ['http://10.0.0.1/', 'http://localhost.example.com/', 'http://[fd00::1]/'])
    t.notOk(isLoopback(u(url)), url);
});

t.test('the environment: https_proxy for https, http_proxy for http, lower case first, NO_PROXY', async (t) => {
  const env = {
    HTTPS_PROXY: 'http://upper:3128',
    https_proxy: 'http://lower:3128',
    HTTP_PROXY: 'plain:8080',
    NO_PROXY: 'pager.hospital.local, .lab.local',
  };
  const settings = outboundSettings(undefined, env);
  t.equal(settings.https?.url.href, 'http://lower:3128/');
  t.equal(settings.https?.source, 'https_proxy');
  t.equal(settings.http?.url.href, 'http://plain:8080/', 'a scheme-less value is http://');
  t.same(settings.noProxy, ['pager.hospital.local', '.lab.local']);
  const out = new Outbound(settings);
  t.equal(out.proxyFor('https://cloud.example.com/')?.source, 'https_proxy');
  t.equal(out.proxyFor('http://cloud.example.com/')?.source, 'HTTP_PROXY');
  t.equal(out.proxyFor('https://pager.hospital.local/'), undefined, 'in NO_PROXY');
  t.equal(out.proxyFor('https://x.lab.local/'), undefined);
  t.equal(out.proxyFor('https://127.0.0.1:8443/'), undefined, 'loopback never goes through the proxy');

  const onlyHttps = new Outbound(outboundSettings(undefined, { HTTPS_PROXY: 'http://p:3128', https_proxy: '' }));
  t.equal(onlyHttps.proxyFor('https://cloud.example.com/')?.source, 'HTTPS_PROXY', 'an empty variable is unset');
  t.equal(onlyHttps.proxyFor('http://cloud.example.com/'), undefined, 'no http_proxy: http:// goes directly');
  t.notOk(new Outbound(outboundSettings(undefined, {})).proxied);
  t.throws(() => outboundSettings(undefined, { HTTPS_PROXY: 'ftp://proxy' }), {
    code: 'WG_ERR_CONFIG',
    message: /HTTPS_PROXY/,
  });
});

t.test('the config replaces the environment whole: its url for both schemes, its noProxy, its password', async (t) => {
  const proxy = configSchema.parse({
    alarms: {},
    proxy: { url: 'http://wardgate@proxy.hospital.local:3128', noProxy: ['.hospital.local'], passwordEnv: 'WG_PROXY' },
  }).proxy;
  const env = { HTTPS_PROXY: 'http://other:1', NO_PROXY: '*', WG_PROXY: 's3cret/pass' };
  const settings = outboundSettings(proxy, env);
  t.equal(settings.https, settings.http);
  t.equal(settings.https?.source, 'proxy.url');
  t.equal(settings.https?.password, 's3cret/pass');
  t.same(settings.noProxy, ['.hospital.local'], 'NO_PROXY is not read');
  const out = new Outbound(settings);
  t.ok(out.proxyFor('https://cloud.example.com/'));
  t.ok(out.proxyFor('http://cloud.example.com/'));
  t.equal(out.proxyFor('https://pager.hospital.local/'), undefined);
  t.equal(
    out.describe('https://cloud.example.com/'),
    'through the web proxy http://wardgate@proxy.hospital.local:3128/ (proxy.url)',
  );
  t.equal(out.describe('https://pager.hospital.local/'), 'directly (proxy.noProxy)');

  const fromFile = outboundSettings({ ...proxy!, passwordEnv: undefined, passwordFile: '/run/secret' }, {}, (path) =>
    path === '/run/secret' ? 'filed-pass\n' : '',
  );
  t.equal(fromFile.https?.password, 'filed-pass', 'read from the file, trimmed');
});

t.test(
  'the config section refuses a password in the URL, two password sources, a password without a user',
  async (t) => {
    const issues = (proxy: Record<string, unknown>) => {
      const r = configSchema.safeParse({ alarms: {}, proxy });
      return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    };
    t.same(issues({ url: 'http://u@p:3128', passwordEnv: 'P' }), []);
    t.match(issues({ url: 'http://u:pass@p:3128' }), [/proxy\.url: expected no password/]);
    t.notMatch(JSON.stringify(configSchema.safeParse({ alarms: {}, proxy: { url: 'http://u:pass@p:3128' } })), /pass@/);
    t.match(issues({ url: 'http://u@p:3128', passwordEnv: 'P', passwordFile: 'f' }), [/only one of/]);
    t.match(issues({ url: 'http://p:3128', passwordEnv: 'P' }), [/proxy user in the URL/]);
    t.match(issues({ url: 'socks5://p:1080' }), [/proxy\.url/]);
    t.match(issues({ url: 'http://p:3128', noproxy: [] }), [/unrecognized|noproxy/i]);
  },
);

t.test('redaction: the password never, the user and host always', async (t) => {
  t.equal(redactUrl('http://ann:secret@proxy:3128'), 'http://ann:***@proxy:3128/');
  t.equal(redactUrl('http://proxy:3128'), 'http://proxy:3128/');
  const out = new Outbound(outboundSettings(undefined, { HTTPS_PROXY: 'http://ann:se%40cret@proxy:3128' }));
  t.equal(out.proxyFor('https://c.example.com/')?.password, 'se@cret');
  t.notMatch(out.describe('https://c.example.com/'), /cret/);
});

t.test(
  'a user or password that is not valid percent-encoding: WG_ERR_CONFIG naming where, not a URIError',
  async (t) => {
    for (const [env, name] of [
      [{ HTTPS_PROXY: 'http://ward:50%off@proxy:3128' }, 'HTTPS_PROXY'],
      [{ http_proxy: 'http://w%E0%A4%A@proxy:3128' }, 'http_proxy'],
    ] as const) {
      const err = (() => {
        try {
          outboundSettings(undefined, env);
        } catch (e) {
          return e;
        }
      })();
      t.match(err, { code: 'WG_ERR_CONFIG', message: new RegExp(`^${name}: the proxy user or password is not valid`) });
      t.notMatch((err as Error).message, /50%off|%E0/, 'the text itself not repeated');
    }
    t.throws(() => outboundSettings({ url: 'http://w%zz@proxy:3128', noProxy: [] }, {}), {
      code: 'WG_ERR_CONFIG',
      message: /^proxy\.url: /,
    });
  },
);

/** A target server on 127.0.0.1 answering 200 "ok" to anything; requests counted. */
async function target(t: Test) {
  const state = { requests: 0, port: 0 };
  const server = createServer((_req, res) => {
    state.requests++;
    res.end('ok');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  state.port = (server.address() as AddressInfo).port;
  t.teardown(() => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))));
  return state;
}

t.test('through a CONNECT proxy with Basic credentials: the request arrives in a tunnel', async (t) => {
  const proxy = await startConnectProxy(t, { user: 'wardgate', password: 'p@ss:word' });
  const server = await target(t);
  const out = new Outbound(
    outboundSettings(undefined, {
      http_proxy: `http://wardgate:${encodeURIComponent('p@ss:word')}@127.0.0.1:${proxy.port}`,
    }),
  );
  t.teardown(() => out.destroy());
  const res = await out.fetch(`http://cloud.wardgate.test:${server.port}/ingestBatch`, { method: 'POST', body: 'x' });
  t.equal(await res.text(), 'ok');
  t.same(proxy.tunnels, [`cloud.wardgate.test:${server.port}`]);
  t.equal(server.requests, 1);
  t.equal(proxy.plain, 0, 'an http:// target is tunnelled too');
});

t.test('a wrong password: a ProxyError 407 naming the proxy and the target, without the password', async (t) => {
  const proxy = await startConnectProxy(t, { user: 'wardgate', password: 'right' });
  const server = await target(t);
  const out = new Outbound(
    outboundSettings(undefined, { http_proxy: `http://wardgate:wrong-pass@127.0.0.1:${proxy.port}` }),
  );
  t.teardown(() => out.destroy());
  const err = await out.fetch(`http://cloud.wardgate.test:${server.port}/`).then(
    () => undefined,
    (e: unknown) => e,
  );
  t.ok(err instanceof ProxyError);
  const e = err as ProxyError;
  t.equal(e.code, 'WG_ERR_PROXY');
  t.equal(e.status, 407);
  t.match(
    e.message,
    /web proxy http:\/\/wardgate@127\.0\.0\.1:\d+\/ refused to connect to cloud\.wardgate\.test:\d+: 407 Proxy Authentication Required: check the proxy user and password \(http_proxy\)/,
  );
  t.notMatch(e.message, /wrong-pass/);
  t.equal(proxyErrorIn(new Error('wrapped', { cause: e })), e, 'found in a cause chain');
  t.equal(proxy.refused, 1);
  t.equal(server.requests, 0);
});

t.test('a host the proxy will not reach: 403; a proxy that is not there: unreachable', async (t) => {
  const proxy = await startConnectProxy(t);
  const out = new Outbound(outboundSettings(undefined, { https_proxy: proxy.url }));
  t.teardown(() => out.destroy());
  const forbidden = await out.fetch('https://elsewhere.example.org/').catch((e: unknown) => e);
  t.match(forbidden, {
    code: 'WG_ERR_PROXY',
    status: 403,
    message: /refused to connect to elsewhere\.example\.org:443: 403 Forbidden/,
  });

  const gone = new Outbound(outboundSettings(undefined, { https_proxy: `http://127.0.0.1:${await freePort()}` }));
  t.teardown(() => gone.destroy());
  const unreachable = await gone.fetch('https://cloud.example.org/').catch((e: unknown) => e);
  t.match(unreachable, {
    code: 'WG_ERR_PROXY',
    status: null,
    message: /cannot reach the web proxy http:\/\/127\.0\.0\.1:\d+\/ \(https_proxy\): ECONNREFUSED/,
  });
});

t.test('noProxy and loopback go directly, past a proxy that would refuse them', async (t) => {
  const proxy = await startConnectProxy(t, { user: 'u', password: 'never-given' });
  const server = await target(t);
  const out = new Outbound(outboundSettings(undefined, { http_proxy: proxy.url, no_proxy: '*' }));
  t.teardown(() => out.destroy());
  t.equal(await (await out.fetch(`http://127.0.0.1:${server.port}/`)).text(), 'ok');
  const viaProxy = new Outbound(outboundSettings(undefined, { http_proxy: proxy.url }));
  t.equal(await (await viaProxy.fetch(`http://127.0.0.1:${server.port}/`)).text(), 'ok', 'loopback without noProxy');
  t.equal(server.requests, 2);
  t.equal(proxy.refused + proxy.tunnels.length, 0, 'the proxy saw nothing');
});

t.test('a proxy that never answers CONNECT: a ProxyError within proxyTimeoutMs, its socket closed', async (t) => {
  const held: Socket[] = [];
  let closed = 0;
  const stalled = createTcpServer((socket) => {
    held.push(socket);
    socket
      .on('error', () => undefined)
      .on('close', () => closed++)
      .resume();
  });
  await new Promise<void>((r) => stalled.listen(0, '127.0.0.1', r));
  t.teardown(() => (held.forEach((s) => s.destroy()), stalled.close()));
  const port = (stalled.address() as AddressInfo).port;
  const out = new Outbound(outboundSettings(undefined, { https_proxy: `http://127.0.0.1:${port}` }), {
    proxyTimeoutMs: 300,
  });
  t.teardown(() => out.destroy());
  const started = performance.now();
  const err = await out.fetch('https://cloud.wardgate.test/').catch((e: unknown) => e);
  const ms = performance.now() - started;
  t.match(err, { code: 'WG_ERR_PROXY', status: null, message: /did not answer CONNECT to cloud\.wardgate\.test:443/ });
  t.ok(ms >= 250 && ms < 5000, `failed after ${Math.round(ms)} ms`);
  await waitFor(() => (closed >= 1 ? true : undefined), 5000, 'the stalled connection closed by the gateway');
  t.equal(held.length, 1);
});
