// What the sync asks of the outbox tables beyond their cursors and batches
// (sync/outbox.ts): how many alarm events a range holds, and when the oldest
// item not yet in any batch arrived.
import type { Db } from './database.js';

/** Alarm events with ids in (after, through]. */
export function alarmEventsIn(db: Db, range: { readonly after: number; readonly through: number }): number {
  return db
    .prepare('SELECT count(*) FROM alarm_events WHERE id > ? AND id <= ?')
    .pluck()
    .get(range.after, range.through) as number;
}

/**
 * When the oldest reading, device status or audit entry above the given ids
 * arrived (epoch ms); Infinity when there is none.
 */
export function oldestReceivedAbove(
  db: Db,
  after: { readonly obs: number; readonly status: number; readonly audit: number },
): number {
  const obs = db
    .prepare('SELECT received_ts FROM observations WHERE id > ? ORDER BY id LIMIT 1')
    .pluck()
    .get(after.obs) as number | undefined;
  const status = db
    .prepare('SELECT received_ts FROM device_status WHERE id > ? ORDER BY id LIMIT 1')
    .pluck()
    .get(after.status) as number | undefined;
  const audit = db.prepare('SELECT ts FROM audit WHERE id > ? ORDER BY id LIMIT 1').pluck().get(after.audit) as
    number | undefined;
  return Math.min(obs ?? Infinity, status ?? Infinity, audit ?? Infinity);
}
