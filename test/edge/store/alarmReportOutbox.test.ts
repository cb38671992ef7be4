// The PCD-04 the alarm manager gets is built from the event as recorded (the
// outbox), not from the engine's own: recorded and read back, an event must
// make the same report as the live one, the limit in OBX-7 included.
import t, { type Test } from 'tap';
import { Hl7Message } from '@medplum/core';
import type { Alarm, AlarmEvent } from '../../../edge/alarms/types.js';
import { buildAlarmReport, type AlarmReportInput } from '../../../edge/integration/alarmReport.js';
import { AlarmReportOutbox } from '../../../edge/store/alarmReportOutbox.js';
import { alarmHarness, alarmStoreOnDisk, nurseCallHeader } from '../../helpers/alarms.js';

/** The report of one event, all else fixed: two reports differ only where their events do. */
const report = (event: AlarmEvent, key: string, raisedAt: number, patient?: AlarmReportInput['patient']) =>
  buildAlarmReport({
    event,
    key,
    raisedAt,
    controlId: 'WGA1',
    now: Date.UTC(2026, 11, 3, 9, 0),
    header: nurseCallHeader,
    location: { pointOfCare: '3B', room: '', bed: event.bed, facility: 'HOSP' },
    patient,
    assigner: 'gw-3b',
  });

const obx7 = (text: string) => Hl7Message.parse(text).getAllSegments('OBX')[1].getField(7).toString();

/** An engine whose events are recorded in a store on disk, with the alarm manager's cursor set before the first. */
function recordedEngine(t: Test) {
  const { db, store } = alarmStoreOnDisk(t);
  const outbox = new AlarmReportOutbox(db);
  outbox.cursor();
  const alarms = new Map<string, Alarm>();
  const h = alarmHarness(
    { limits: { spo2: { low: 88, delayMs: 0 }, hr: { high: 131, delayMs: 0 } } },
    [{ id: 'mon-1', bed: '1' }],
    [
      {
        name: 'store',
        onEvent: (event, alarm) => {
          alarms.set(alarm.id, { ...alarm });
          store.record([[event, alarm]]);
        },
      },
    ],
  );
  return { h, outbox, alarms };
}

t.test('a report from the outbox is the live one: the limit in OBX-7, the side from the data', async (t) => {
  const { h, outbox, alarms } = recordedEngine(t);
  h.obs('mon-1', { spo2: 85, hr: 80 });
  h.obs('mon-1', { spo2: 97, hr: 135 });
  h.obs('mon-1', { spo2: 97, hr: 80 });
  t.same(
    h.events.map((e) => [e.phase, e.limit]),
    [
      ['raised', { side: 'low', value: 88 }],
      ['cleared', { side: 'low', value: 88 }],
      ['raised', { side: 'high', value: 131 }],
      ['cleared', { side: 'high', value: 131 }],
    ],
  );
  const owed = outbox.owed(100);
  t.same(
    owed.map((o) => o.event),
    h.events,
    'every event read back as the engine gave it, its limit with it',
  );
  for (const [i, live] of h.events.entries()) {
    const alarm = alarms.get(live.alarmId)!;
    const fromLive = report(live, alarm.key, alarm.raisedAt);
    const fromOutbox = report(owed[i].event, owed[i].key, owed[i].raisedAt, owed[i].patient);
    t.equal(fromOutbox, fromLive, `${live.phase} ${live.metric}: the same message`);
  }
  t.same(
    owed.map((o) => obx7(report(o.event, o.key, o.raisedAt))),
    ['>88', '>88', '<131', '<131'],
    'OBX-7: the values inside the limit crossed',
  );
});

t.test('an alarm with no limit is read back with no limit key', async (t) => {
  const { h, outbox } = recordedEngine(t);
  h.status('mon-1', { sensor: 'off' });
  h.advance(15_000);
  const owed = outbox.owed(100);
  t.ok(owed.length > 0, 'a technical alarm was recorded');
  t.ok(
    owed.every((o) => !('limit' in o.event)),
    'no limit key',
  );
  t.same(
    owed.map((o) => o.event),
    h.events,
  );
});
