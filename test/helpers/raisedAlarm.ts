// An alarm as the engine hands it to the store, built by hand: for tests of
// what the store and the sync make of recorded events.
import { snapshotOf, type Alarm, type AlarmEvent } from '../../edge/alarms/types.js';

/** An alarm and its `raised` event at `ts`, as the engine hands them to the store (a limit only if given). */
export function raisedAlarm(
  ts: number,
  over: Partial<Alarm> & Pick<Alarm, 'id' | 'kind' | 'rule'>,
): [AlarmEvent, Alarm] {
  const alarm: Alarm = {
    key: `1:${over.rule}`,
    bed: '1',
    deviceId: 'pox-1',
    metric: null,
    priority: 'medium',
    latching: false,
    state: 'active',
    message: over.rule,
    value: null,
    raisedAt: ts,
    escalations: 0,
    lastEscalatedAt: null,
    acknowledgedBy: null,
    acknowledgedAt: null,
    clearedAt: null,
    ...over,
  };
  return [{ ...snapshotOf(alarm), alarmId: alarm.id, phase: 'raised', ts, by: null }, alarm];
}
