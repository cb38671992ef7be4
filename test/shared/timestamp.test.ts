// Wire timestamps: RFC 3339 text must name a real calendar date and time.
// Date.parse alone rolls 2026-02-30 over into March and hour 24 into the
// next day, so a device with a broken clock would be stored at a time it
// never sent.
import t from 'tap';
import { isCalendarDate, isRejection, parseTimestamp } from '../../shared/timestamp.js';

const policy = { now: Date.parse('2026-12-01T00:00:00Z'), maxFutureMs: 300_000 };

t.test('impossible dates and times are refused, not rolled over', async (t) => {
  const bad = [
    '2026-02-30T10:00:00Z',
    '2026-02-29T10:00:00Z',
    '2026-04-31T10:00:00+02:00',
    '2026-06-31T00:00:00Z',
    '2026-11-31T23:59:59.5Z',
    '2026-01-01T24:00:00Z',
    '2026-00-10T10:00:00Z',
    '2026-01-00T10:00:00Z',
    '2026-01-01T10:00:00+24:00',
    '2026-01-01T10:00:00+01:60',
  ];
  for (const raw of bad) {
    const r = parseTimestamp(raw, 'ts', policy);
    t.ok(isRejection(r) && r.code === 'WG_ERR_TIMESTAMP', raw);
  }
});

t.test('real dates still parse, leap days included', async (t) => {
  t.equal(parseTimestamp('2024-02-29T12:00:00Z', 'ts', policy), Date.parse('2024-02-29T12:00:00Z'));
  t.equal(parseTimestamp('2026-11-30T23:59:59.123+01:00', 'ts', policy), Date.parse('2026-11-30T22:59:59.123Z'));
  t.equal(
    parseTimestamp('2026-12-31T23:00:00-05:00', 'ts', { ...policy, maxFutureMs: 1e11 }),
    Date.parse('2027-01-01T04:00:00Z'),
  );
});

t.test('the calendar: month lengths and the Gregorian leap years', async (t) => {
  t.ok(isCalendarDate(2000, 2, 29), '2000 is a leap year (divisible by 400)');
  t.notOk(isCalendarDate(2100, 2, 29), '2100 is not');
  t.ok(isCalendarDate(2028, 2, 29));
  t.notOk(isCalendarDate(2026, 2, 29));
  t.notOk(isCalendarDate(2026, 9, 31));
  t.ok(isCalendarDate(2026, 12, 31));
  t.notOk(isCalendarDate(2026, 13, 1));
  t.notOk(isCalendarDate(2026, 1, 1.5));
});
