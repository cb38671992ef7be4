import t from 'tap';
import { parseDeviceStatus } from '../../shared/deviceStatus.js';
import { isRejection } from '../../shared/timestamp.js';

const policy = { now: Date.parse('2026-11-27T09:00:00Z'), maxFutureMs: 300_000 };

t.test('a status message updates online, battery and sensor', async (t) => {
  t.same(parseDeviceStatus('{"online": false}', policy), { ts: policy.now, online: false });
  t.same(parseDeviceStatus('{"battery": 15.5, "sensor": "off", "ts": "2026-11-27T08:59:00Z"}', policy), {
    ts: Date.parse('2026-11-27T08:59:00Z'),
    battery: 15.5,
    sensor: 'off',
  });
});

t.test('bad status messages name the field', async (t) => {
  const cases: Array<[string, string, string | undefined]> = [
    ['not json', 'WG_ERR_JSON', undefined],
    ['[]', 'WG_ERR_SCHEMA', undefined],
    ['{"charge": 5}', 'WG_ERR_SCHEMA', 'charge'],
    ['{"online": "yes"}', 'WG_ERR_SCHEMA', 'online'],
    ['{"battery": 120}', 'WG_ERR_SCHEMA', 'battery'],
    ['{"battery": "full"}', 'WG_ERR_SCHEMA', 'battery'],
    ['{"sensor": "loose"}', 'WG_ERR_SCHEMA', 'sensor'],
    ['{"ts": "yesterday"}', 'WG_ERR_TIMESTAMP', 'ts'],
  ];
  for (const [payload, code, field] of cases) {
    const result = parseDeviceStatus(Buffer.from(payload), policy);
    t.ok(isRejection(result), payload);
    if (isRejection(result)) t.same([result.code, result.field], [code, field], payload);
  }
});
