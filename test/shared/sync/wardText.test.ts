// The free text that may leave the ward: bed labels and audit words fit a
// vocabulary that a clear name, an MRN, a date of birth or a phone number does
// not, and the cloud's validator refuses a batch that carries one.
import t from 'tap';
import { buildBatch } from '../../../shared/sync/codec.js';
import { validateBatch } from '../../../shared/sync/validate.js';
import { isWireBed, isWireTarget, isWireWord } from '../../../shared/sync/wardText.js';
import type { SyncAuditEntry, SyncReading } from '../../../shared/sync/wire.js';

const NOW = Date.now();

t.test('bed labels: what wards write fits, names and identifiers do not', async (t) => {
  const fits = [
    '1',
    '12',
    '12A',
    'Bed 4',
    'bed-01',
    'ICU-2',
    'W3 B12',
    'Room 101 Bed 2',
    'Bay 2.4',
    'unassigned',
    'x-0123456789ab',
  ];
  const refused = [
    'John Smith',
    'Smith 4',
    'Smith',
    'MRN 1234567',
    '1234567',
    'NHS 943 476 5919',
    '1984-02-12',
    '12/02/1984',
    '+44 20 7946 0958',
    'Bed 4 Jones',
    'unassigned2',
    'x-0123456789abc',
    '',
    ' 3',
    'bed:3',
    'Bed 3 (window)',
    'Bed 123456789',
  ];
  for (const label of fits) t.ok(isWireBed(label), `fits: ${JSON.stringify(label)}`);
  for (const label of refused) t.notOk(isWireBed(label), `refused: ${JSON.stringify(label)}`);
});

t.test('audit words and targets', async (t) => {
  for (const word of ['api', 'dashboard', 'at-next-start', 'withheld', 'A', 'V'])
    t.ok(isWireWord(word), `word: ${word}`);
  for (const text of ['John Smith', 'john smith', 'MRN-4711', 'Smith', 'x1', 'a.b', '', 'ab '])
    t.notOk(isWireWord(text), `not a word: ${JSON.stringify(text)}`);
  const targets = [
    'alarms',
    'observations',
    'alarm_events',
    'bed:12',
    'bed:Bed 4',
    'alarm:a-17',
    'alarm:3f2a9c1e-1234-4567-89ab-0123456789ab',
  ];
  for (const target of targets) t.ok(isWireTarget(target), `target: ${target}`);
  for (const target of [
    'bed:John Smith',
    'bed:MRN 1234567',
    'patient:1234567',
    'Bed:3',
    'alarm:',
    'note:John Smith',
    'bed/3',
  ]) {
    t.notOk(isWireTarget(target), `refused target: ${target}`);
  }
});

const reading = (bed: string): SyncReading => ({
  n: 1,
  device: 'pox-1',
  seq: 1,
  code: 'spo2',
  value: 97,
  unit: '%',
  ts: NOW - 1000,
  flags: 0,
  bed,
});
const audit = (over: Partial<SyncAuditEntry>): SyncAuditEntry => ({
  n: 1,
  ts: NOW - 1000,
  actor: 'nurse-ann',
  action: 'acknowledge',
  ...over,
});
const batchOf = (readings: SyncReading[], entries: SyncAuditEntry[] = []) =>
  buildBatch({
    gateway: 'gw-1',
    ward: '3B',
    created: NOW,
    readings,
    alarms: [],
    statuses: [],
    ...(entries.length > 0 && { audit: entries }),
  });

t.test('the cloud refuses a batch that carries a name or an identifier in free text', async (t) => {
  const cases: Array<[string, ReturnType<typeof batchOf>, string]> = [
    ['a name as the bed label', batchOf([reading('John Smith')]), 'readings[0].bed'],
    ['an MRN as the bed label', batchOf([reading('MRN 1234567')]), 'readings[0].bed'],
    [
      'a name in an audit detail',
      batchOf([reading('3')], [audit({ detail: { note: 'John Smith' } })]),
      'audit[0].detail.note',
    ],
    [
      'an MRN in an audit detail',
      batchOf([reading('3')], [audit({ detail: { note: 'MRN-4711' } })]),
      'audit[0].detail.note',
    ],
    ['a name in an audit target', batchOf([reading('3')], [audit({ target: 'bed:John Smith' })]), 'audit[0].target'],
  ];
  for (const [name, batch, field] of cases) {
    t.match(
      validateBatch(JSON.parse(JSON.stringify(batch)), { now: NOW, maxFutureMs: 300_000 }),
      { code: 'WG_ERR_SCHEMA', field },
      name,
    );
  }
  const fine = batchOf(
    [reading('Bed 4')],
    [audit({ target: 'bed:Bed 4', detail: { via: 'api', admission: 17, onOxygen: true, consciousness: 'A' } })],
  );
  t.notOk(
    'code' in validateBatch(JSON.parse(JSON.stringify(fine)), { now: NOW, maxFutureMs: 300_000 }),
    "a ward's own words pass",
  );
});
