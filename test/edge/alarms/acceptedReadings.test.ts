// Readings are evaluated when accepted, before their commit reaches the disk
// (a slow or full disk never delays an alarm), and not a second time when the
// commit is reported.
import t from 'tap';
import { alarmHarness } from '../../helpers/alarms.js';
import type { IngestItem } from '../../../edge/ingest/types.js';
import { metric } from '../../../shared/codes.js';

function observation(deviceId: string, seq: number, values: Record<string, number>, ts: number, bed?: string): IngestItem & { kind: 'obs' } {
  const readings = Object.entries(values).map(([code, value]) => ({ code, value, unit: metric(code).unit, ts, flags: 0 }));
  return { kind: 'obs', source: 'mqtt', receivedTs: ts, deviceId, seq, ts, digest: Buffer.alloc(8), readings, ...(bed !== undefined && { bed }) };
}

t.test('an accepted reading raises its alarm before it is committed, and only once', async (t) => {
  const h = alarmHarness({}, [{ id: 'mon-1', bed: '1' }]);
  const item = observation('mon-1', 1, { nibp_sys: 75 }, h.clock.t);
  h.engine.onAccepted([item]);
  t.same(h.phases(), ['raised:limit:nibp_sys:medium'], 'raised at once, nothing on disk yet');
  t.equal(h.events[0].bed, '1', 'at the device\'s bed');
  h.engine.onCommitted([{ item, result: { outcome: 'stored', readings: 1, bed: '1' } }]);
  t.equal(h.events.length, 1, 'the commit does not evaluate it again');
});

t.test('a reading that is never stored (a full disk) still raises', async (t) => {
  const h = alarmHarness({}, [{ id: 'mon-1', bed: '1' }]);
  h.engine.onAccepted([observation('mon-1', 1, { nibp_sys: 75 }, h.clock.t)]);
  t.same(h.phases(), ['raised:limit:nibp_sys:medium']);
});

t.test('a sender whose bed is not known yet is evaluated at its commit, then early', async (t) => {
  const h = alarmHarness({}, [{ id: 'mon-1', bed: '1' }]);
  const first = observation('hl7-x', 1, { nibp_sys: 75 }, h.clock.t);
  h.engine.onAccepted([first]);
  t.equal(h.events.length, 0, 'no bed known: waits for the store to place it');
  h.engine.onCommitted([{ item: first, result: { outcome: 'stored', readings: 1, bed: '7' } }]);
  t.same(h.events.map((e) => [e.phase, e.bed]), [['raised', '7']], 'evaluated once committed, at the bed the store gave');
  h.engine.onAccepted([observation('hl7-x', 2, { nibp_sys: 120 }, h.clock.t)]);
  t.same(h.events.map((e) => [e.phase, e.bed]), [['raised', '7'], ['cleared', '7']], 'the next is evaluated on acceptance, at that bed');
});
