// The `ehr` config section: off when absent, its defaults, and the settings
// it refuses with the field named, through the config loader.
import t from 'tap';
import { loadConfig } from '../../../edge/config/load.js';
import { writeTestConfig } from '../../helpers/gateway.js';

const load = async (t: { teardown(fn: () => unknown): void }, ehr?: Record<string, unknown>) => {
  const { file } = await writeTestConfig(t, { extra: ehr === undefined ? {} : { ehr } });
  return loadConfig({ file, env: {} });
};

t.test('off when absent; defaults when present', async (t) => {
  t.equal((await load(t)).ehr, undefined);
  const config = await load(t, { host: 'engine.hosp.local', port: 6661 });
  t.match(config.ehr, {
    sendingApplication: 'WARDGATE',
    receivingApplication: '',
    processingId: 'P',
    identifierType: 'MR',
    vitals: ['hr', 'pr', 'spo2', 'rr', 'nibp_sys', 'nibp_dia', 'nibp_map', 'temp'],
    maxAgeMs: 14_400_000,
    observers: {},
    ackTimeoutMs: 30_000,
    retryMinMs: 1000,
    retryMaxMs: 300_000,
    unreachableAlarmMs: 900_000,
  });
  t.equal(config.ehr?.unvalidated, undefined, 'unvalidated vitals are off by default');
  t.equal(config.ehr?.tls, undefined);
});

t.test('refused settings name their field', async (t) => {
  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    ['no port', { host: 'h' }, /ehr\.port/],
    ['a vital the gateway cannot code in MDC', { host: 'h', port: 1, vitals: ['o2_flow'] }, /ehr\.vitals/],
    ['an unknown vital', { host: 'h', port: 1, vitals: ['glucose'] }, /ehr\.vitals/],
    ['retry bounds backwards', { host: 'h', port: 1, retryMinMs: 5000, retryMaxMs: 1000 }, /ehr\.retryMaxMs/],
    ['a client certificate without its key', { host: 'h', port: 1, tls: { cert: '/etc/c.pem' } }, /ehr\.tls\.key/],
    ['an unknown field', { host: 'h', port: 1, resultStatus: 'F' }, /resultStatus/],
    [
      'unvalidated as final',
      { host: 'h', port: 1, unvalidated: { intervalMs: 60_000, status: 'F' } },
      /ehr\.unvalidated\.status/,
    ],
    ['a processing id outside table 0103', { host: 'h', port: 1, processingId: 'X' }, /ehr\.processingId/],
  ];
  for (const [what, ehr, field] of cases) await t.rejects(load(t, ehr), field, what);
});
