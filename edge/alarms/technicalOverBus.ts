// How the sync, the storage guard and the disk watch raise technical alarms:
// as events on the bus, which the alarm service hears. None of them holds the
// engine, and none needs the alarm service to exist when it is built.
import type { EventBus } from '../bus.js';
import type { TechnicalAlarms } from '../sync/technicalAlarms.js';

export function technicalAlarmsOverBus(bus: EventBus): TechnicalAlarms {
  return { set: (key, report) => bus.emit('alarm.technical', { key, report }) };
}
