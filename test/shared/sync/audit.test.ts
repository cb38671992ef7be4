// The audit stream of the sync contract: optional (a batch without it keeps
// its id and validity), strictly ordered, and bounded to user names, actions
// and short scalars, so that the trail cannot carry records to the cloud.
import t from 'tap';
import {
  batchIdOf,
  buildBatch,
  validateBatch,
  type BatchContent,
  type SyncAuditEntry,
  type SyncBatch,
} from '../../../shared/sync/index.js';
import { isRejection } from '../../../shared/timestamp.js';

const NOW = Date.UTC(2026, 10, 27, 9, 0, 0);
const policy = { now: NOW, maxFutureMs: 300_000 };
const entry = (over: Partial<SyncAuditEntry> = {}): SyncAuditEntry => ({
  n: 1,
  ts: NOW - 1000,
  actor: 'nurse-ann',
  action: 'acknowledge',
  target: 'alarm:a-17',
  detail: { via: 'api' },
  ...over,
});
const content = (audit?: SyncAuditEntry[]): BatchContent => ({
  gateway: 'gw-3b',
  ward: '3B',
  created: NOW,
  readings: [],
  alarms: [],
  statuses: [{ n: 3, device: 'pox-12', ts: NOW - 200, battery: 80 }],
  ...(audit && { audit }),
});

t.test('a batch without audit entries keeps the id it had before the stream existed', async (t) => {
  const batch = buildBatch(content());
  t.equal(batch.batchId, batchIdOf('gw-3b', { readings: [], alarms: [], statuses: [{ n: 3 }] }));
  t.notOk('audit' in batch, 'no audit field');
  t.notOk(isRejection(validateBatch(JSON.parse(JSON.stringify(batch)), policy)), 'valid');
  t.not(buildBatch(content([entry()])).batchId, batch.batchId, 'an audit entry is part of the id');
});

t.test('valid audit entries pass through unchanged', async (t) => {
  const batch = buildBatch(
    content([
      entry(),
      entry({
        n: 2,
        actor: 'wardgate',
        action: 'storage.drop-unsynced',
        target: 'observations',
        detail: { fromId: 1, throughId: 9, count: 18, ok: true, note: null },
      }),
    ]),
  );
  const out = validateBatch(JSON.parse(JSON.stringify(batch)), policy) as SyncBatch;
  t.notOk(isRejection(out));
  t.same(out.audit, batch.audit);
});

const bad: Array<[string, unknown, string]> = [
  ['not ordered', [entry({ n: 2 }), entry({ n: 2 })], 'audit[1].n'],
  ['actor with spaces', [entry({ actor: 'Ann Smith' })], 'audit[0].actor'],
  ['unknown field', [{ ...entry(), patient: 'MRN-1' }], 'audit[0].patient'],
  ['nested detail', [entry({ detail: { record: { mrn: 'MRN-1' } } as never })], 'audit[0].detail.record'],
  ['long detail text', [entry({ detail: { note: 'x'.repeat(129) } })], 'audit[0].detail.note'],
  [
    'too many detail fields',
    [entry({ detail: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, i])) })],
    'audit[0].detail',
  ],
  ['target with a slash', [entry({ target: 'bed/3' })], 'audit[0].target'],
  ['not a list', { n: 1 }, 'audit'],
];
for (const [name, audit, field] of bad) {
  t.test(`refused: ${name}`, async (t) => {
    const batch = { ...buildBatch(content()), audit };
    const out = validateBatch(JSON.parse(JSON.stringify(batch)), policy);
    t.ok(isRejection(out), 'refused');
    if (isRejection(out)) t.equal(out.field, field, out.message);
  });
}
