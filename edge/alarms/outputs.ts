// Where alarm events go after the store: the ward's MQTT topics (an event
// stream, and retained per-bed state for displays) and the log. The webhook
// has its own module (webhook.ts).
import type { Logger } from '../log.js';
import { topics } from '../../shared/topics.js';
import type { AlarmSink } from './engine.js';
import { snapshotOf, type Alarm, type AlarmEvent } from './types.js';

export interface Publisher {
  publish(topic: string, payload: unknown, options?: { retain?: boolean; urgent?: boolean }): void;
}

/** The public form of an alarm on MQTT and in the API: no patient identifier, ever. */
export function alarmView(alarm: Alarm) {
  return {
    id: alarm.id,
    ...snapshotOf(alarm),
    raisedAt: new Date(alarm.raisedAt).toISOString(),
    acknowledgedBy: alarm.acknowledgedBy,
    acknowledgedAt: alarm.acknowledgedAt === null ? null : new Date(alarm.acknowledgedAt).toISOString(),
  };
}

export function eventView(event: AlarmEvent) {
  return { ...event, ts: new Date(event.ts).toISOString() };
}

/** `wardgate/ward/{ward}/alarms` (QoS 1) for every event; retained `.../beds/{bed}/alarms` with the bed's open alarms. */
export function mqttAlarmSink(ward: string, publisher: Publisher, openAt: (bed: string) => Alarm[]): AlarmSink {
  return {
    name: 'mqtt',
    onEvent(event) {
      publisher.publish(topics.wardAlarms(ward), eventView(event), { urgent: true });
      if (event.bed !== null)
        publisher.publish(topics.bedAlarms(ward, event.bed), openAt(event.bed).map(alarmView), {
          retain: true,
          urgent: true,
        });
    },
  };
}

export function logAlarmSink(log: Logger): AlarmSink {
  const alarmsLog = log.child({ module: 'alarms' });
  return {
    name: 'log',
    onEvent(event) {
      const level = event.phase === 'raised' || event.phase === 'escalated' ? 'warn' : 'info';
      alarmsLog[level](
        {
          alarmId: event.alarmId,
          phase: event.phase,
          priority: event.priority,
          rule: event.rule,
          bed: event.bed,
          deviceId: event.deviceId,
          by: event.by,
        },
        `alarm ${event.phase}`,
      );
    },
  };
}
