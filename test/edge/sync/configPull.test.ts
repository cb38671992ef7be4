// The config pull from a server speaking the edgeConfig contract (signed GET,
// ETag, 304): a new version is stored and audited and its limits judge the
// next reading without a restart; a 304 changes nothing; a bad document is
// refused, audited, and leaves the rules in force untouched. And the daemon
// refuses to start (exit 2, naming the field) when the cloud secret is unset.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { verifySignature } from '../../../shared/sync/signature.js';
import { SyncHeader } from '../../../shared/sync/wire.js';
import { connectAs, startTestGateway, WARDGATE_BIN, writeTestConfig } from '../../helpers/gateway.js';
import { waitFor } from '../../helpers/env.js';
import { startContractServer } from './contractServer.js';

t.setTimeout(90_000);
const SECRET = 'gw-test-cloud-secret-0123456789abcdef';
const env = { WG_CLOUD: SECRET, WG_WARD: 'ward-3b-pseudonym-secret-0123456789' };

/** The cloud's edgeConfig, as documented in docs/DEPLOY.md: HMAC over the empty body, ETag "v<version>", 304 on a match. */
function edgeConfigRoute(state: {
  version: number;
  config: Record<string, unknown>;
  requests: Array<{ ifNoneMatch?: string; status: number }>;
}) {
  return (req: IncomingMessage, res: ServerResponse) => {
    const h = (name: string) => req.headers[name] as string | undefined;
    const check = verifySignature(
      SECRET,
      h(SyncHeader.timestamp),
      h(SyncHeader.signature),
      Buffer.alloc(0),
      Date.now(),
    );
    const answer = (status: number, body?: unknown) => {
      state.requests.push({ ...(h('if-none-match') && { ifNoneMatch: h('if-none-match') }), status });
      res
        .writeHead(status, { 'content-type': 'application/json', etag: `"v${state.version}"` })
        .end(body === undefined ? undefined : JSON.stringify(body));
    };
    if (req.method !== 'GET' || h(SyncHeader.gateway) !== 'gw-test' || !check.ok)
      return answer(401, { ok: false, error: { code: 'WG_ERR_SIGNATURE', message: 'bad signature' } });
    if (h('if-none-match') === `"v${state.version}"`) return answer(304);
    answer(200, { gateway: 'gw-test', ward: '3B', version: state.version, updated: Date.now(), config: state.config });
  };
}

t.test(
  'pulled limits: stored with their version, audited, in force at once; 304 and bad documents change nothing',
  async (t) => {
    const cloudState = {
      version: 0,
      config: {} as Record<string, unknown>,
      requests: [] as Array<{ ifNoneMatch?: string; status: number }>,
    };
    const server = await startContractServer(SECRET, { routes: { '/edgeConfig': edgeConfigRoute(cloudState) } });
    t.teardown(() => server.stop());
    const { gateway, url } = await startTestGateway(t, {
      env,
      extra: {
        cloud: { url: server.url, secretEnv: 'WG_CLOUD', wardSecretEnv: 'WG_WARD' },
        jobs: { configPull: '0 0 1 1 *' },
      },
    });
    const db = gateway.db!;
    const engine = gateway.alarms!.engine;
    const pull = () => gateway.sync!.scheduler.runNow('configPull');
    const stored = () =>
      JSON.parse(
        (db.prepare("SELECT value FROM sync_state WHERE key = 'edge_config'").pluck().get() as string | undefined) ??
          '{"version":0}',
      ) as { version: number; config: unknown };
    const audit = () =>
      db.prepare("SELECT action, detail FROM audit WHERE actor = 'cloud' ORDER BY id").all() as Array<{
        action: string;
        detail: string;
      }>;
    const client = await connectAs(t, url, 'pox-1');
    let seq = 0;
    const spo2 = async (value: number) =>
      client.publishAsync(
        'wardgate/devices/pox-1/obs',
        JSON.stringify({ seq: ++seq, obs: [{ code: 'spo2', value, unit: '%' }] }),
        { qos: 1 },
      );
    const spo2Alarm = () =>
      engine
        .openAlarms()
        .find((a) => a.bed === '1' && a.rule === 'limit' && a.metric === 'spo2' && a.state === 'active');

    await spo2(93);
    t.notOk(spo2Alarm(), 'SpO2 93 is inside the ward default (low 91)');

    cloudState.version = 1;
    cloudState.config = { alarms: { limits: { spo2: { low: 94, delayMs: 0 } } } };
    t.equal(await pull(), 'ok');
    t.same(
      [stored().version, stored().config],
      [1, { alarms: { limits: { spo2: { low: 94, delayMs: 0 } } } }],
      'version and overrides stored',
    );
    t.same(
      audit().map((a) => a.action),
      ['config.pull'],
      'audited',
    );
    t.has(JSON.parse(audit()[0].detail), { version: 1, previous: 0, applies: 'now' });
    await spo2(93);
    await waitFor(spo2Alarm, 5000, 'the SpO2 alarm under the pulled limit');
    t.pass('the next reading is judged by the pulled limit, without a restart');

    const before = { state: stored(), audit: audit().length };
    t.equal(await pull(), 'ok');
    t.same(
      cloudState.requests.at(-1),
      { ifNoneMatch: '"v1"', status: 304 },
      'the ETag is sent back and the cloud answers 304',
    );
    t.same([stored(), audit().length], [before.state, before.audit], '304: nothing changes');

    for (const [version, config, why] of [
      [2, { alarms: { limits: { spo2: { low: 'ninety' } } } }, /alarms\.limits\.spo2\.low/],
      [
        3,
        { alarms: { limits: { spo2: { low: 80 } } }, mqtt: { port: 1 } },
        /only alarms may be overridden from the cloud, not mqtt/,
      ],
      [
        4,
        { alarms: { webhook: { url: 'http://127.0.0.1:9/elsewhere', secretEnv: 'X' } } },
        /alarms\.webhook may not be set from the cloud/,
      ],
    ] as const) {
      cloudState.version = version;
      cloudState.config = config;
      t.equal(await pull(), 'ok', `version ${version} pulled`);
      t.equal(
        stored().version,
        version,
        'the refused version is remembered, so it is not refused again every few minutes',
      );
      t.same(
        stored().config,
        { alarms: { limits: { spo2: { low: 94, delayMs: 0 } } } },
        'the overrides in force are kept',
      );
      const last = audit().at(-1)!;
      t.equal(last.action, 'config.pull-refused');
      t.match(JSON.parse(last.detail).reason, why, 'the reason is audited');
    }
    await spo2(99);
    await waitFor(() => (spo2Alarm() ? undefined : true), 5000, 'the alarm to clear at 99');
    await spo2(93);
    await waitFor(spo2Alarm, 5000, 'the alarm again at 93');
    t.pass('after refusals, the limits in force are still the pulled ones');

    cloudState.version = 5;
    cloudState.config = {};
    t.equal(await pull(), 'ok');
    await spo2(99);
    await waitFor(() => (spo2Alarm() ? undefined : true), 5000, 'clear');
    await spo2(93);
    await new Promise((r) => setTimeout(r, 300));
    t.notOk(
      spo2Alarm(),
      'version 5 withdrew the override: the YAML limit (91) is in force again, not stacked on version 1',
    );
  },
);

t.test('a cloud section whose secret is not set: wardgate edge exits 2 naming the field', async (t) => {
  const { file } = await writeTestConfig(t, {
    extra: {
      cloud: { url: 'http://127.0.0.1:9', secretEnv: 'WG_TEST_UNSET_CLOUD', wardSecretEnv: 'WG_TEST_UNSET_WARD' },
    },
  });
  const run = spawnSync(process.execPath, [WARDGATE_BIN, 'edge', '--config', file], {
    encoding: 'utf8',
    timeout: 30_000,
    env: { PATH: process.env.PATH ?? '', WG_TEST_UNSET_WARD: 'ward-secret-0123456789abcdef' },
  });
  t.equal(run.status, 2, 'exit code 2: bad configuration');
  t.match(run.stderr, /cloud\.secretEnv: environment variable WG_TEST_UNSET_CLOUD is not set/);
  t.notMatch(run.stderr, /cloud\.wardSecretEnv/, 'the ward secret is set: only the missing field is named');
});
