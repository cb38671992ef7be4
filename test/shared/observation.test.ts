import t from 'tap';
import { parseObservation, MAX_OBS_PER_MESSAGE } from '../../shared/observation.js';
import { ReadingFlag } from '../../shared/reading.js';

const now = Date.parse('2026-11-27T09:00:00.000Z');
const policy = { now, maxFutureMs: 300_000 };
const parse = (body: unknown) => parseObservation(typeof body === 'string' ? body : JSON.stringify(body), policy);

t.test('normalizes a valid message into coded readings in canonical units', async (t) => {
  const result = parse({
    seq: 1042,
    ts: '2026-11-27T08:59:59.123Z',
    obs: [
      { code: 'spo2', value: 97, unit: '%' },
      { code: 'MDC_ECG_HEART_RATE', value: 72, unit: '/min' },
      { code: 150364, value: 98.6, unit: '[degF]' },
      { code: '150301', value: 16, unit: 'kPa' },
      { code: 'rr', value: 18, unit: '/min', ts: now - 5000, unreliable: true },
    ],
  });
  t.ok(result.ok);
  if (!result.ok) return;
  t.equal(result.seq, 1042);
  t.equal(result.ts, Date.parse('2026-11-27T08:59:59.123Z'));
  t.same(
    result.readings.map((r) => [r.code, r.value, r.unit, r.flags]),
    [
      ['spo2', 97, '%', 0],
      ['hr', 72, '/min', 0],
      ['temp', 37, 'Cel', 0],
      ['nibp_sys', 120.0099, 'mm[Hg]', 0],
      ['rr', 18, '/min', ReadingFlag.unreliable],
    ],
  );
  t.equal(result.readings[4].ts, now - 5000, 'an entry may carry its own time');
});

t.test('a message without ts takes the receive time; epoch milliseconds are accepted', async (t) => {
  const a = parse({ seq: 1, obs: [{ code: 'pr', value: 70, unit: '/min' }] });
  t.ok(a.ok && a.ts === now);
  const b = parse({ seq: 2, ts: now - 1000, obs: [{ code: 'pr', value: 70, unit: '/min' }] });
  t.ok(b.ok && b.ts === now - 1000);
});

t.test('physiologically impossible values are kept, flagged as artifacts', async (t) => {
  const result = parse({
    seq: 1,
    obs: [
      { code: 'spo2', value: 140, unit: '%' },
      { code: 'hr', value: 0, unit: '/min' },
      { code: 'temp', value: 37, unit: 'Cel' },
    ],
  });
  t.ok(result.ok);
  if (!result.ok) return;
  t.same(
    result.readings.map((r) => r.flags & ReadingFlag.artifact),
    [ReadingFlag.artifact, ReadingFlag.artifact, 0],
  );
});

t.test('vendor "no value" markers are absent values, never numbers', async (t) => {
  const result = parse({
    seq: 1,
    obs: [
      { code: 'spo2', value: null },
      { code: 'pr', value: -999, unit: '/min' },
      { code: 'rr', value: 8388607, unit: '/min' },
      { code: 'temp', value: '--.-' },
      { code: 'hr', value: '---' },
      { code: 'etco2', value: -100, unit: 'mm[Hg]' },
      { code: 'nibp_sys', value: 120, unit: 'mm[Hg]' },
    ],
  });
  t.ok(result.ok);
  if (!result.ok) return;
  t.equal(result.absent, 6);
  t.same(
    result.readings.map((r) => r.code),
    ['nibp_sys'],
  );
});

const tooMany = {
  seq: 1,
  obs: Array.from({ length: MAX_OBS_PER_MESSAGE + 1 }, () => ({ code: 'hr', value: 60, unit: '/min' })),
};

// Every bad input names its error code and field.
const bad: Array<[string, unknown, string, string | undefined]> = [
  ['not JSON', '{"seq": 1, obs: []}', 'WG_ERR_JSON', undefined],
  ['empty payload', '', 'WG_ERR_JSON', undefined],
  ['an array', [1, 2], 'WG_ERR_SCHEMA', undefined],
  ['null', null, 'WG_ERR_SCHEMA', undefined],
  ['unknown top-level field', { seq: 1, obs: [], patient: 'x' }, 'WG_ERR_SCHEMA', 'patient'],
  ['missing seq', { obs: [{ code: 'hr', value: 60, unit: '/min' }] }, 'WG_ERR_SCHEMA', 'seq'],
  ['negative seq', { seq: -1, obs: [] }, 'WG_ERR_SCHEMA', 'seq'],
  ['fractional seq', { seq: 1.5, obs: [] }, 'WG_ERR_SCHEMA', 'seq'],
  ['text seq', { seq: '1', obs: [] }, 'WG_ERR_SCHEMA', 'seq'],
  ['obs not an array', { seq: 1, obs: {} }, 'WG_ERR_SCHEMA', 'obs'],
  ['empty obs', { seq: 1, obs: [] }, 'WG_ERR_SCHEMA', 'obs'],
  ['too many obs', tooMany, 'WG_ERR_SCHEMA', 'obs'],
  ['entry not an object', { seq: 1, obs: [42] }, 'WG_ERR_SCHEMA', 'obs[0]'],
  [
    'unknown entry field',
    { seq: 1, obs: [{ code: 'hr', value: 60, unit: '/min', colour: 'red' }] },
    'WG_ERR_SCHEMA',
    'obs[0].colour',
  ],
  ['missing code', { seq: 1, obs: [{ value: 60, unit: '/min' }] }, 'WG_ERR_SCHEMA', 'obs[0].code'],
  [
    'unknown code',
    { seq: 1, obs: [{ code: 'glucose', value: 5, unit: 'mmol/L' }] },
    'WG_ERR_UNKNOWN_CODE',
    'obs[0].code',
  ],
  [
    'unknown MDC number',
    { seq: 1, obs: [{ code: 999999, value: 5, unit: '%' }] },
    'WG_ERR_UNKNOWN_CODE',
    'obs[0].code',
  ],
  ['unit that does not fit', { seq: 1, obs: [{ code: 'spo2', value: 97, unit: 'kPa' }] }, 'WG_ERR_UNIT', 'obs[0].unit'],
  ['non-UCUM unit', { seq: 1, obs: [{ code: 'pr', value: 60, unit: 'bpm' }] }, 'WG_ERR_UNIT', 'obs[0].unit'],
  ['missing unit', { seq: 1, obs: [{ code: 'pr', value: 60 }] }, 'WG_ERR_UNIT', 'obs[0].unit'],
  ['text value', { seq: 1, obs: [{ code: 'pr', value: 'sixty', unit: '/min' }] }, 'WG_ERR_SCHEMA', 'obs[0].value'],
  [
    'boolean unreliable expected',
    { seq: 1, obs: [{ code: 'pr', value: 60, unit: '/min', unreliable: 'yes' }] },
    'WG_ERR_SCHEMA',
    'obs[0].unreliable',
  ],
  [
    'the same code twice',
    {
      seq: 1,
      obs: [
        { code: 'pr', value: 60, unit: '/min' },
        { code: 'MDC_PULS_RATE', value: 61, unit: '/min' },
      ],
    },
    'WG_ERR_SCHEMA',
    'obs[1].code',
  ],
  [
    'ts in epoch seconds',
    { seq: 1, ts: 1_795_000_000, obs: [{ code: 'pr', value: 60, unit: '/min' }] },
    'WG_ERR_TIMESTAMP',
    'ts',
  ],
  [
    'ts far in the future',
    { seq: 1, ts: now + 3_600_000, obs: [{ code: 'pr', value: 60, unit: '/min' }] },
    'WG_ERR_TIMESTAMP',
    'ts',
  ],
  [
    'ts before 2000',
    { seq: 1, ts: '1999-12-31T23:59:59Z', obs: [{ code: 'pr', value: 60, unit: '/min' }] },
    'WG_ERR_TIMESTAMP',
    'ts',
  ],
  [
    'ts not RFC 3339',
    { seq: 1, ts: '27/11/2026 09:00', obs: [{ code: 'pr', value: 60, unit: '/min' }] },
    'WG_ERR_TIMESTAMP',
    'ts',
  ],
  [
    'ts impossible date',
    { seq: 1, ts: '2026-02-30T25:00:00Z', obs: [{ code: 'pr', value: 60, unit: '/min' }] },
    'WG_ERR_TIMESTAMP',
    'ts',
  ],
  [
    'ts fractional ms',
    { seq: 1, ts: now + 0.5, obs: [{ code: 'pr', value: 60, unit: '/min' }] },
    'WG_ERR_TIMESTAMP',
    'ts',
  ],
  ['ts boolean', { seq: 1, ts: true, obs: [{ code: 'pr', value: 60, unit: '/min' }] }, 'WG_ERR_TIMESTAMP', 'ts'],
  [
    'entry ts in the future',
    { seq: 1, obs: [{ code: 'pr', value: 60, unit: '/min', ts: now + 3_600_000 }] },
    'WG_ERR_TIMESTAMP',
    'obs[0].ts',
  ],
  ['NaN-like value', { seq: 1, obs: [{ code: 'pr', value: {}, unit: '/min' }] }, 'WG_ERR_SCHEMA', 'obs[0].value'],
];

t.test('bad inputs are rejected with a code and the field', async (t) => {
  for (const [name, body, code, field] of bad) {
    const result = parse(body);
    t.notOk(result.ok, `${name}: rejected`);
    if (result.ok) continue;
    t.equal(result.error.code, code, `${name}: ${code}`);
    t.equal(result.error.field, field, `${name}: field ${field}`);
    t.ok(result.error.message.length > 5, `${name}: says why (${result.error.message})`);
  }
});

t.test('a Buffer payload is read as UTF-8', async (t) => {
  const result = parseObservation(
    Buffer.from(JSON.stringify({ seq: 7, obs: [{ code: 'spo2', value: 0.95, unit: '1' }] })),
    policy,
  );
  t.ok(result.ok && result.readings[0].value === 95);
});

t.test(
  "a unit named like an inherited property ('__proto__', 'valueOf', 'constructor', 'toString') is refused as WG_ERR_UNIT",
  async (t) => {
    for (const unit of ['__proto__', 'valueOf', 'constructor', 'toString', 'hasOwnProperty']) {
      const result = parse({ seq: 1, obs: [{ code: 'spo2', value: 97, unit }] });
      t.match(result, { ok: false, error: { code: 'WG_ERR_UNIT', field: 'obs[0].unit' } }, unit);
    }
  },
);
