// The limit a physiological limit alarm crossed, on the wire: accepted whole,
// absent for every other alarm (and from gateways that predate it), and
// refused in any other form, naming the field, as every other field is.
import t from 'tap';
import { buildBatch, validateBatch, type SyncAlarmEvent, type SyncBatch } from '../../../shared/sync/index.js';
import { isRejection } from '../../../shared/timestamp.js';

const NOW = Date.UTC(2026, 10, 27, 9, 0, 0);
const policy = { now: NOW, maxFutureMs: 300_000 };

const limitAlarm: SyncAlarmEvent = {
  n: 7,
  alarmId: 'al-1',
  phase: 'raised',
  priority: 'high',
  kind: 'physiological',
  condition: 'limit',
  ts: NOW - 500,
  bed: '12',
  code: 'spo2',
  value: 85,
  limit: { side: 'low', value: 88 },
};
const technical: SyncAlarmEvent = {
  n: 8,
  alarmId: 'al-2',
  phase: 'raised',
  priority: 'low',
  kind: 'technical',
  condition: 'battery',
  ts: NOW - 400,
  device: 'pox-12',
  value: 18,
};
const batchOf = (alarms: SyncAlarmEvent[]): SyncBatch =>
  buildBatch({ gateway: 'gw-3b', ward: '3B', created: NOW, readings: [], alarms, statuses: [] });
/** The batch as the cloud parses it: JSON text, so only what JSON can say. */
const wire = (batch: SyncBatch): unknown => JSON.parse(JSON.stringify(batch));

t.test('a limit travels whole; without one, an event is valid as before', async (t) => {
  const batch = batchOf([limitAlarm, technical]);
  t.same(validateBatch(wire(batch), policy), batch, 'round trip');
  const high = batchOf([{ ...limitAlarm, limit: { side: 'high', value: 39.5 } }]);
  t.same(validateBatch(wire(high), policy), high, 'a high limit, a fractional bound');
  const { limit: _limit, ...older } = limitAlarm;
  const valid = validateBatch(wire(batchOf([older])), policy);
  t.notOk(isRejection(valid), 'an older gateway: no limit, still valid');
  t.notOk(!isRejection(valid) && 'limit' in valid.alarms[0], 'and none is made up');
});

t.test('a hostile limit is refused, naming the field', async (t) => {
  const withLimit = (limit: unknown, over: Partial<SyncAlarmEvent> = {}) => {
    const body = wire(batchOf([{ ...limitAlarm, ...over }])) as { alarms: Array<Record<string, unknown>> };
    body.alarms[0].limit = limit;
    return body;
  };
  const cases: Array<[string, unknown, string]> = [
    ['null', withLimit(null), 'alarms[0].limit'],
    ['a number, not an object', withLimit(88), 'alarms[0].limit'],
    ['an array', withLimit(['low', 88]), 'alarms[0].limit'],
    ['unknown side', withLimit({ side: 'middle', value: 88 }), 'alarms[0].limit.side'],
    ['side in capitals', withLimit({ side: 'LOW', value: 88 }), 'alarms[0].limit.side'],
    ['no side', withLimit({ value: 88 }), 'alarms[0].limit.side'],
    ['no value', withLimit({ side: 'low' }), 'alarms[0].limit.value'],
    ['value as text', withLimit({ side: 'low', value: '88' }), 'alarms[0].limit.value'],
    ['value null', withLimit({ side: 'low', value: null }), 'alarms[0].limit.value'],
    ['value infinite', withLimit({ side: 'low', value: Infinity }), 'alarms[0].limit.value'],
    ['value NaN', withLimit({ side: 'low', value: NaN }), 'alarms[0].limit.value'],
    ['an extra key', withLimit({ side: 'low', value: 88, unit: '%' }), 'alarms[0].limit.unit'],
    [
      'a limit on a technical alarm',
      withLimit({ side: 'low', value: 20 }, { kind: 'technical', condition: 'battery' }),
      'alarms[0].limit',
    ],
  ];
  for (const [name, body, field] of cases) {
    const r = validateBatch(body, policy);
    t.ok(isRejection(r), name);
    if (isRejection(r)) {
      t.equal(r.code, 'WG_ERR_SCHEMA', `${name}: code`);
      t.equal(r.field, field, `${name}: ${r.message}`);
    }
  }
  // JSON's own way to say an infinite number: 1e999 parses to Infinity.
  const text = JSON.stringify(batchOf([limitAlarm])).replace('"value":88', '"value":1e999');
  const r = validateBatch(JSON.parse(text), policy);
  t.equal(isRejection(r) && r.field, 'alarms[0].limit.value', 'an overflowing bound in the JSON text');
});

t.test("a limit only on a limit alarm with its code: the bound is in that metric's unit", async (t) => {
  const { code: _code, ...noCode } = limitAlarm;
  const cases: Array<[string, SyncAlarmEvent, RegExp]> = [
    ['a limit alarm without a code (pulse)', { ...noCode, value: 150, limit: { side: 'high', value: 131 } }, /code/],
    ['a limit on a NEWS2 alarm', { ...noCode, condition: 'news2', value: 7 }, /news2 alarm has none/],
    ['a limit on a rate alarm', { ...limitAlarm, condition: 'rate', code: 'pr' }, /rate alarm has none/],
  ];
  for (const [name, event, message] of cases) {
    const r = validateBatch(wire(batchOf([event])), policy);
    t.ok(isRejection(r), name);
    if (isRejection(r)) {
      t.equal(r.code, 'WG_ERR_SCHEMA', `${name}: code`);
      t.equal(r.field, 'alarms[0].limit', `${name}: field`);
      t.match(r.message, message, `${name}: ${r.message}`);
    }
  }
  const { limit: _limit, ...pulse } = noCode;
  t.notOk(isRejection(validateBatch(wire(batchOf([pulse])), policy)), 'the same alarms without a limit are valid');
});
