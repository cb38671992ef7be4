// A bed's vitals keep history only of the metrics rate rules watch: minutes of
// every metric of every bed of a floor would cost memory and time for nothing.
import t from 'tap';
import { BedVitals } from '../../../edge/alarms/vitals.js';

const at = Date.parse('2026-11-27T09:00:00Z');
const point = (value: number, ts: number) => ({ value, ts, deviceId: 'mon-1', flags: 0 });

t.test('history of the watched metrics only, and of a metric from when it is watched', async (t) => {
  const watched = new Set(['pulse']);
  const vitals = new BedVitals(600_000, watched);
  for (let s = 0; s < 30; s++) {
    vitals.record('pr', point(70 + s, at + s * 1000));
    vitals.record('spo2', point(97, at + s * 1000));
  }
  t.same(
    vitals.history('pulse', at + 30_000, 600_000).map((b) => b.values.length),
    [10, 10, 10],
  );
  t.same(vitals.history('pr', at + 30_000, 600_000), [], 'pr is recorded as pulse, which a rule watches');
  t.same(vitals.history('spo2', at + 30_000, 600_000), [], 'spo2 is not watched');
  t.equal(vitals.valid.get('spo2')?.value, 97, 'its latest value is kept all the same');
  watched.add('spo2');
  vitals.record('spo2', point(96, at + 30_000));
  t.same(
    vitals.history('spo2', at + 30_000, 600_000).map((b) => b.values),
    [[96]],
    'watched from now on',
  );
});

t.test('without a set of watched metrics, history of every metric', async (t) => {
  const vitals = new BedVitals(600_000);
  vitals.record('spo2', point(97, at));
  t.same(
    vitals.history('spo2', at, 600_000).map((b) => b.values),
    [[97]],
  );
});
