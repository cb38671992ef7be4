// The signature covers an alarm's limit: the MAC is over the exact gzip bytes
// of the batch, and the batch id over item keys only, so a limit changed on
// the way (the id unchanged) must fail verification.
import t from 'tap';
import {
  buildBatch,
  decodeBatchBody,
  encodeBatch,
  signedBatchRequest,
  validateBatch,
  verifySignature,
  type SyncBatch,
} from '../../../shared/sync/index.js';
import { isRejection } from '../../../shared/timestamp.js';

const SECRET = 'gw-3b-secret-for-tests-0123456789abcdef';
const NOW = Date.UTC(2026, 10, 27, 9, 0, 0);

const batch: SyncBatch = buildBatch({
  gateway: 'gw-3b',
  ward: '3B',
  created: NOW,
  readings: [],
  alarms: [
    {
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
      limit: { side: 'low', value: 90 },
    },
  ],
  statuses: [],
});

t.test('a limit changed after signing fails verification', async (t) => {
  const req = signedBatchRequest(batch, SECRET, NOW);
  const timestamp = req.headers['X-Wardgate-Timestamp'];
  const signature = req.headers['X-Wardgate-Signature'];
  t.ok(verifySignature(SECRET, timestamp, signature, req.body, NOW).ok, 'as signed: verified');

  const decoded = decodeBatchBody(req.body);
  t.ok(decoded.ok);
  t.same((decoded.ok && (decoded.json as SyncBatch).alarms[0].limit) || null, { side: 'low', value: 90 }, 'sent');

  const forgeries: Array<[string, SyncBatch['alarms'][number]]> = [
    ['another bound', { ...batch.alarms[0], limit: { side: 'low', value: 85 } }],
    ['another side', { ...batch.alarms[0], limit: { side: 'high', value: 90 } }],
    ['the limit removed', { ...batch.alarms[0], limit: undefined }],
  ];
  for (const [name, alarm] of forgeries) {
    const forged: SyncBatch = { ...batch, alarms: [alarm] };
    t.equal(forged.batchId, batch.batchId, `${name}: the batch id does not see it`);
    t.notOk(isRejection(validateBatch(JSON.parse(JSON.stringify(forged)), { now: NOW, maxFutureMs: 0 })), name);
    const body = encodeBatch(forged);
    const check = verifySignature(SECRET, timestamp, signature, body, NOW);
    t.equal(check.ok ? 'ok' : check.reason, 'mismatch', `${name}: the signature does`);
  }
});
