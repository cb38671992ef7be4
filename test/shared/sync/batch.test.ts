import t from 'tap';
import { gzipSync } from 'node:zlib';
import {
  batchIdOf,
  buildBatch,
  decodeBatchBody,
  encodeBatch,
  formatSyncTimestamp,
  isBatchId,
  isPseudonym,
  orderedItemKeys,
  patientPseudonym,
  signBody,
  validateBatch,
  verifySignature,
  type BatchContent,
  type SyncBatch,
} from '../../../shared/sync/index.js';
import { isRejection } from '../../../shared/timestamp.js';

const SECRET = 'ward-3b-test-secret-0123456789abcdef';
const NOW = Date.UTC(2026, 10, 27, 9, 0, 0);
const policy = { now: NOW, maxFutureMs: 300_000 };

function content(over: Partial<BatchContent> = {}): BatchContent {
  return {
    gateway: 'gw-3b',
    ward: '3B',
    created: NOW,
    readings: [
      { n: 1, device: 'pox-12', seq: 1042, code: 'spo2', value: 97, unit: '%', ts: NOW - 1000, flags: 0, bed: '12' },
      {
        n: 2,
        device: 'pox-12',
        seq: 1042,
        code: 'pr',
        value: 72,
        unit: '/min',
        ts: NOW - 1000,
        flags: 0,
        bed: '12',
        patient: patientPseudonym('k'.repeat(32), 'MRN1'),
      },
    ],
    alarms: [
      {
        n: 7,
        alarmId: 'al-1',
        phase: 'raised',
        priority: 'high',
        kind: 'physiological',
        condition: 'spo2_low',
        ts: NOW - 500,
        bed: '12',
        code: 'spo2',
        value: 85,
      },
    ],
    statuses: [{ n: 3, device: 'pox-12', ts: NOW - 200, battery: 80, online: true, sensor: 'ok' }],
    ...over,
  };
}

t.test('signature: known answers computed independently with openssl dgst -sha256 -hmac', async (t) => {
  t.equal(
    signBody(SECRET, '1764234000000', Buffer.from('hello')),
    'v1=cc8ebc94d891da1b9b4b619024a6bb233e4eacb5c7a4d033603019f2ab545b0c',
  );
  // Binary body bytes (as gzip is): the MAC covers bytes, not text.
  const bin = Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0x62, 0x69, 0x6e, 0x61, 0x72, 0x79, 0x00, 0xff]);
  t.equal(
    signBody(SECRET, '1764234000000', bin),
    'v1=f1cd038b6760ce525b8a0ec25793faa36ea87270fb510f7e139df5b7d916c626',
  );
  t.equal(formatSyncTimestamp(1764234000999.7), '1764234000999', 'whole milliseconds');
});

t.test('signature verification: ok, forged, malformed, missing, stale either side', async (t) => {
  const body = Buffer.from('body');
  const ts = formatSyncTimestamp(NOW);
  const sig = signBody(SECRET, ts, body);
  t.same(verifySignature(SECRET, ts, sig, body, NOW), { ok: true, timestampMs: NOW });
  const cases: Array<[string, string | undefined, string | undefined, Buffer, number, string]> = [
    ['other body', ts, sig, Buffer.from('bodY'), NOW, 'mismatch'],
    ['other secret', ts, signBody('x'.repeat(40), ts, body), body, NOW, 'mismatch'],
    ['timestamp changed', String(NOW + 1), sig, body, NOW, 'mismatch'],
    ['upper-case hex', ts, sig.toUpperCase().replace('V1', 'v1'), body, NOW, 'malformed'],
    ['no v1 prefix', ts, sig.slice(3), body, NOW, 'malformed'],
    ['decimal timestamp', `${NOW}.5`, sig, body, NOW, 'malformed'],
    ['RFC 3339 timestamp', new Date(NOW).toISOString(), sig, body, NOW, 'malformed'],
    ['no signature', ts, undefined, body, NOW, 'missing'],
    ['no timestamp', undefined, sig, body, NOW, 'missing'],
    ['301 s old', ts, sig, body, NOW + 301_000, 'stale'],
    ['301 s ahead', ts, sig, body, NOW - 301_000, 'stale'],
  ];
  for (const [name, tsv, sigv, b, now, reason] of cases) {
    const r = verifySignature(SECRET, tsv, sigv, b, now);
    t.equal(r.ok ? 'ok' : r.reason, reason, name);
  }
  t.ok(verifySignature(SECRET, ts, sig, body, NOW + 300_000).ok, 'exactly 300 s is inside the window');
});

t.test('pseudonym: known answer, stable, keyed, shaped', async (t) => {
  const key = 'ward-3b-pseudonym-secret-0123456789';
  // openssl: printf 'wardgate-patient-v1\nMRN123456^^^HOSP^MR' | openssl dgst -sha256 -hmac KEY -> 7a57f826487d8207...
  t.equal(patientPseudonym(key, 'MRN123456^^^HOSP^MR'), 'p7a57f826487d820720500984beec6839');
  t.equal(
    patientPseudonym(key, '  MRN123456^^^HOSP^MR \n'),
    'p7a57f826487d820720500984beec6839',
    'surrounding space ignored',
  );
  t.not(
    patientPseudonym('another-ward-secret-0123456789abc', 'MRN123456^^^HOSP^MR'),
    'p7a57f826487d820720500984beec6839',
    'another ward, another pseudonym',
  );
  t.ok(isPseudonym(patientPseudonym(key, 'x')));
  t.notOk(isPseudonym('MRN123456'));
  t.throws(() => patientPseudonym(key, '   '), /empty/);
});

t.test('batch id: known answer, deterministic, order- and gateway-sensitive', async (t) => {
  const items = { alarms: [{ n: 7 }], readings: [{ n: 1 }, { n: 2 }], statuses: [{ n: 3 }] };
  t.same(orderedItemKeys(items), ['alarms/7', 'readings/1', 'readings/2', 'statuses/3']);
  // sha256sum of "wardgate-batch-v1\ngw-3b\nalarms/7\nreadings/1\nreadings/2\nstatuses/3"
  t.equal(batchIdOf('gw-3b', items), 'b9c907abfbeffc5a337a68822bd4b90d8');
  t.ok(isBatchId(batchIdOf('gw-3b', items)));
  t.not(batchIdOf('gw-4a', items), batchIdOf('gw-3b', items));
  t.not(batchIdOf('gw-3b', { ...items, readings: [{ n: 2 }, { n: 1 }] }), batchIdOf('gw-3b', items));
});

t.test('encode, decode and validate round trip', async (t) => {
  const batch = buildBatch(content());
  const decoded = decodeBatchBody(encodeBatch(batch));
  t.ok(decoded.ok);
  const valid = validateBatch(decoded.ok && decoded.json, policy);
  t.same(valid, batch);
});

t.test('decode refuses oversized, bombs, non-gzip and non-JSON', async (t) => {
  const big = decodeBatchBody(Buffer.alloc(2000), { maxBytes: 1000, maxJsonBytes: 5000 });
  t.equal(!big.ok && big.error.code, 'WG_ERR_TOO_LARGE');
  const bomb = decodeBatchBody(gzipSync(Buffer.alloc(100_000, 0x20)), { maxBytes: 1000, maxJsonBytes: 5000 });
  t.equal(!bomb.ok && bomb.error.code, 'WG_ERR_TOO_LARGE', 'inflation is bounded');
  const plain = decodeBatchBody(Buffer.from('{"v":1}'));
  t.equal(!plain.ok && plain.error.code, 'WG_ERR_JSON');
  const text = decodeBatchBody(gzipSync(Buffer.from('not json')));
  t.equal(!text.ok && text.error.code, 'WG_ERR_JSON');
});

t.test('validate names the bad field', async (t) => {
  const good = buildBatch(content()) as unknown as Record<string, unknown>;
  const withReading = (patch: Record<string, unknown>) => {
    const c = content();
    const readings = [{ ...c.readings[0], ...patch }, c.readings[1]];
    return buildBatch({ ...c, readings });
  };
  const cases: Array<[string, unknown, string]> = [
    ['not an object', [], '(body)'],
    ['wrong version', { ...good, v: 2 }, 'v'],
    ['unknown top field', { ...good, extra: 1 }, 'extra'],
    ['bad batch id', { ...good, batchId: 'b' + '0'.repeat(32) }, 'batchId'],
    ['bad gateway', { ...good, gateway: 'gw 3b' }, 'gateway'],
    ['clear patient id', withReading({ patient: 'MRN123456' }), 'readings[0].patient'],
    ['unknown code', withReading({ code: 'glucose' }), 'readings[0].code'],
    ['MDC code instead of short name', withReading({ code: 'MDC_PULS_OXIM_SAT_O2' }), 'readings[0].code'],
    ['non-canonical unit', withReading({ unit: '1' }), 'readings[0].unit'],
    ['value not finite', withReading({ value: 'x' }), 'readings[0].value'],
    ['ts in seconds', withReading({ ts: Math.floor(NOW / 1000) }), 'readings[0].ts'],
    ['ts in the future', withReading({ ts: NOW + 3_600_000 }), 'readings[0].ts'],
    ['n zero', withReading({ n: 0 }), 'readings[0].n'],
    ['n not increasing', withReading({ n: 2 }), 'readings[1].n'],
    ['unknown reading field', withReading({ mrn: 'x' }), 'readings[0].mrn'],
    [
      'bad alarm phase',
      buildBatch(content({ alarms: [{ ...content().alarms[0], phase: 'snoozed' as 'raised' }] })),
      'alarms[0].phase',
    ],
    [
      'bad battery',
      buildBatch(content({ statuses: [{ ...content().statuses[0], battery: 140 }] })),
      'statuses[0].battery',
    ],
    ['empty batch', buildBatch(content({ readings: [], alarms: [], statuses: [] })), 'readings'],
    ['readings not an array', { ...good, readings: {} }, 'readings'],
  ];
  for (const [name, body, field] of cases) {
    const r = validateBatch(body, policy);
    t.ok(isRejection(r), name);
    if (isRejection(r)) t.equal(r.field, field, `${name}: ${r.message}`);
  }
});

t.test('a retry of the same items is the same batch; other items, another batch', async (t) => {
  const a: SyncBatch = buildBatch(content());
  const b: SyncBatch = buildBatch({ ...content(), created: NOW + 5000 });
  t.equal(a.batchId, b.batchId, 'creation time does not change the id');
  const c = buildBatch(content({ statuses: [] }));
  t.not(c.batchId, a.batchId);
});
