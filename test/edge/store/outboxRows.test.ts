// The outbox's alarm event rows carry the limit the store recorded with each
// event: a limit alarm's side and bound, and none for any other alarm.
import t from 'tap';
import { OutboxRows } from '../../../edge/store/outboxRows.js';
import { alarmStoreOnDisk } from '../../helpers/alarms.js';
import { raisedAlarm } from '../../helpers/raisedAlarm.js';

const NOW = Date.now();

t.test("an alarm event row has its limit's side and bound; other alarms' none", async (t) => {
  const { db, store } = alarmStoreOnDisk(t);
  store.record([
    raisedAlarm(NOW, {
      id: 'a-spo2',
      kind: 'physiological',
      rule: 'limit',
      metric: 'spo2',
      priority: 'high',
      value: 85,
      limit: { side: 'low', value: 88 },
    }),
    raisedAlarm(NOW, {
      id: 'a-temp',
      kind: 'physiological',
      rule: 'limit',
      metric: 'temp',
      value: 39.4,
      limit: { side: 'high', value: 39.1 },
    }),
    raisedAlarm(NOW, { id: 'a-battery', kind: 'technical', rule: 'battery', value: 18 }),
    raisedAlarm(NOW, { id: 'a-news2', kind: 'physiological', rule: 'news2', value: 7 }),
  ]);
  const rows = new OutboxRows(db).alarmEvents({ after: 0, through: 100 });
  t.same(
    rows.map((r) => [r.alarm_id, r.limit_side, r.limit_value]),
    [
      ['a-spo2', 'low', 88],
      ['a-temp', 'high', 39.1],
      ['a-battery', null, null],
      ['a-news2', null, null],
    ],
  );
});
