// The cloud checks of the power-cut runs (cloudSide.ts) on small made-up
// holdings: each one finds what it is there to find, so that a clean run's
// zeros mean something.
import t from 'tap';
import { fromNumbers } from '../../cloud/ingest/intervals.js';
import {
  countOnce,
  pastTheCloud,
  unknownToEdge,
  type AlarmItem,
  type CloudHoldings,
  type EdgeOutbox,
  type EdgeReading,
  type ReadingItem,
} from './cloudSide.js';

const reading = (device: string, seq: number, code: string): EdgeReading => ({
  device,
  seq,
  code,
  ts: 1_000 * seq,
  messageTs: 1_000 * seq,
});

/** Observation 1 (two readings) and 2 (one), alarm event 1, status 1, audit entry 1; everything at or below the cursors. */
function edge(cursors: Partial<EdgeOutbox['cursors']> = {}): EdgeOutbox {
  return {
    cursors: { readings: 2, alarms: 1, statuses: 1, audit: 1, ...cursors },
    readings: new Map([
      [1024, reading('pox-1', 7, 'spo2')],
      [1025, reading('pox-1', 7, 'pr')],
      [2048, reading('pox-1', 8, 'spo2')],
    ]),
    alarms: new Map<number, AlarmItem>([[1, { alarmId: 'a1', phase: 'raised' }]]),
    statuses: [1],
    audit: [1],
    newest: { readings: 2, alarms: 1, statuses: 1, audit: 1 },
  };
}

/** The cloud holding exactly what edge() holds, with `change` applied to its readings. */
function cloud(
  change: (readings: Map<number, ReadingItem[]>) => void = () => undefined,
  record = [1024, 1025, 2048],
): CloudHoldings {
  const readings = new Map<number, ReadingItem[]>([...edge().readings].map(([n, { messageTs: _, ...r }]) => [n, [r]]));
  change(readings);
  return {
    record: new Map([
      ['readings_0', fromNumbers(record)],
      ['alarms_0', fromNumbers([1])],
      ['statuses_0', fromNumbers([1])],
      ['audit_0', fromNumbers([1])],
    ]),
    readings,
    alarms: new Map([[1, { alarmId: 'a1', phase: 'raised' }]]),
  };
}

t.test('a cloud holding what the edge holds passes every check', async (t) => {
  t.same(pastTheCloud(edge(), cloud()), []);
  t.same(unknownToEdge(edge(), cloud()), []);
  const keys = [...edge().readings.values()].map((r) => `${r.device}|${r.seq}|${r.code}`);
  t.same(
    countOnce(cloud(), (r) => `${r.device}|${r.seq}|${r.code}`, keys),
    { missing: [], twice: [], held: 3 },
  );
});

t.test('a cursor past what the cloud stored is found, by record and by content', async (t) => {
  t.same(
    pastTheCloud(
      edge(),
      cloud(() => undefined, [1024, 1025]),
    ),
    ['readings:2048'],
    'the record lacks a number under the cursor',
  );
  t.same(
    pastTheCloud(
      edge(),
      cloud((r) => r.delete(2048)),
    ),
    ['readings:2048'],
    'the record names it, the data lacks it',
  );
  t.same(
    pastTheCloud(
      edge(),
      cloud((r) => r.set(2048, [{ ...r.get(2048)![0], seq: 9 }])),
    ),
    ['readings:2048'],
    'the cloud holds another reading under the number',
  );
  t.same(
    pastTheCloud(
      edge({ readings: 1 }),
      cloud(() => undefined, [1024, 1025]),
    ),
    [],
    'above the cursor, nothing is owed',
  );
  const noAlarm = { ...cloud(), alarms: new Map() };
  t.same(pastTheCloud(edge(), noAlarm), ['alarms:1']);
  t.same(
    pastTheCloud(edge(), { ...cloud(), record: new Map([...cloud().record].filter(([k]) => k !== 'statuses_0')) }),
    ['statuses:1'],
  );
});

t.test('what the cloud holds under a number the edge gave away, or no longer has, is found', async (t) => {
  const forgot = { ...edge(), readings: new Map([...edge().readings].filter(([n]) => n !== 2048)) };
  t.same(unknownToEdge(forgot, cloud()), ['readings:2048'], 'the edge lost a reading the cloud stored');
  const reused = { ...edge(), readings: new Map(edge().readings).set(2048, reading('pox-2', 1, 'spo2')) };
  t.same(unknownToEdge(reused, cloud()), ['readings:2048'], 'the edge gave its number to another reading');
  t.same(unknownToEdge({ ...edge(), alarms: new Map() }, cloud()), ['alarms:1']);
});

t.test('the count at the end finds readings missing and readings held twice', async (t) => {
  const key = (r: ReadingItem) => `${r.device}|${r.seq}|${r.code}`;
  const twice = cloud((r) => r.set(3072, [{ ...r.get(1024)![0] }]));
  t.same(countOnce(twice, key, ['pox-1|7|spo2', 'pox-1|8|spo2']), { missing: [], twice: ['pox-1|7|spo2'], held: 4 });
  t.same(
    countOnce(
      cloud((r) => r.delete(1025)),
      key,
      ['pox-1|7|pr'],
    ).missing,
    ['pox-1|7|pr'],
  );
});
