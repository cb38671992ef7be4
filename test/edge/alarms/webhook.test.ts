// The alarm webhook behind the hospital's web proxy: like a browser, it goes
// through the proxy unless its host is in noProxy or on this box. A pager
// named under .wardgate.test is reachable only through the loopback proxy
// (which takes the name to 127.0.0.1); one on 127.0.0.1 is reached directly
// even when the proxy would refuse it.
import t, { type Test } from 'tap';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { waitFor } from '../../helpers/env.js';
import { connectAs, startTestGateway } from '../../helpers/gateway.js';
import { startConnectProxy } from '../../helpers/connectProxy.js';

const SECRET = 'webhook-secret-for-tests';

async function pager(t: Test) {
  const state = { pages: 0, port: 0 };
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      state.pages++;
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.port = (server.address() as AddressInfo).port;
  t.teardown(() => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))));
  return state;
}

async function page(t: Test, hookUrl: string, proxy: Record<string, unknown>) {
  const { url } = await startTestGateway(t, {
    extra: { alarms: { webhook: { url: hookUrl, secretEnv: 'WG_HOOK', minPriority: 'medium' } }, proxy },
    env: { WG_HOOK: SECRET, WG_PROXY_PASSWORD: 'pager-proxy-pass' },
  });
  const device = await connectAs(t, url, 'pox-1');
  await device.publishAsync(
    'wardgate/devices/pox-1/obs',
    JSON.stringify({ seq: 1, obs: [{ code: 'nibp_sys', value: 230, unit: 'mm[Hg]' }] }),
    { qos: 1 },
  );
}

t.test('a pager not in noProxy is paged through the proxy, with its credentials', async (t) => {
  const hook = await pager(t);
  const proxy = await startConnectProxy(t, { user: 'wardgate', password: 'pager-proxy-pass' });
  await page(t, `http://pager.wardgate.test:${hook.port}/page`, {
    url: `http://wardgate@127.0.0.1:${proxy.port}`,
    passwordEnv: 'WG_PROXY_PASSWORD',
  });
  await waitFor(() => (hook.pages > 0 ? true : undefined), 20_000, 'a page');
  t.same(new Set(proxy.tunnels), new Set([`pager.wardgate.test:${hook.port}`]));
  t.equal(proxy.refused, 0);
});

t.test('a pager on this box is paged directly, past a proxy that would refuse it', async (t) => {
  const hook = await pager(t);
  const proxy = await startConnectProxy(t, { user: 'wardgate', password: 'another-password' });
  await page(t, `http://127.0.0.1:${hook.port}/page`, {
    url: `http://wardgate@127.0.0.1:${proxy.port}`,
    passwordEnv: 'WG_PROXY_PASSWORD',
  });
  await waitFor(() => (hook.pages > 0 ? true : undefined), 20_000, 'a page');
  t.same(proxy.tunnels, []);
  t.equal(proxy.refused, 0);
});
