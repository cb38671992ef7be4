// What `wardgate status` and the edge API report about the buffer, the devices
// and dead letters, read with O(1) or index-only queries so that it stays fast
// with a day of backlog.
import type { Db } from './database.js';
import { readSyncStatus, type SyncStatus } from './syncStatusQuery.js';

export interface DeviceSummary {
  id: string;
  bed: string | null;
  source: string;
  declared: boolean;
  lastSeen: string | null;
  online: boolean | null;
  battery: number | null;
  sensor: string | null;
}

export interface GatewayStatus {
  readings: { total: number; unsynced: number; oldestUnsyncedTs: string | null };
  deadLetters: { total: number; byReason: Record<string, number> };
  devices: DeviceSummary[];
  alarms: { active: number };
  sync: SyncStatus;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** Time of the oldest observation the cloud has not confirmed (by arrival order), or null. */
export function oldestUnsyncedTs(db: Db): number | null {
  const row = db
    .prepare(
      "SELECT ts FROM observations WHERE id > (SELECT synced_through FROM outbox_cursors WHERE stream = 'observations') ORDER BY id LIMIT 1",
    )
    .get() as { ts: number } | undefined;
  return row?.ts ?? null;
}

/** A counter's value (readings, readings_unsynced, dead_letters...); 0 before its first count. */
export function counterValue(db: Db, name: string): number {
  return (db.prepare('SELECT value FROM counters WHERE name = ?').pluck().get(name) as number | undefined) ?? 0;
}

/** Seconds since the oldest observation the cloud has not confirmed was taken; 0 when there is none. */
export function oldestUnsyncedAgeSeconds(db: Db, now = Date.now()): number {
  const ts = oldestUnsyncedTs(db);
  return ts === null ? 0 : Math.max(0, (now - ts) / 1000);
}

/** `syncConfigured: false` reports the sync as off whatever state an earlier configuration left behind. */
export function readStatus(db: Db, options: { syncConfigured?: boolean } = {}): GatewayStatus {
  const counters = new Map(
    (db.prepare('SELECT name, value FROM counters').all() as Array<{ name: string; value: number }>).map((r) => [
      r.name,
      r.value,
    ]),
  );
  // Object.fromEntries makes own properties: no reason code can reach the prototype.
  const byReason: Record<string, number> = Object.fromEntries(
    [...counters]
      .sort()
      .filter(([name]) => name.startsWith('dead_letters:'))
      .map(([name, value]) => [name.slice('dead_letters:'.length), value]),
  );
  const devices = (
    db
      .prepare(
        'SELECT device_id, bed, source, declared, last_seen, online, battery, sensor FROM devices ORDER BY device_id',
      )
      .all() as Array<{
      device_id: string;
      bed: string | null;
      source: string;
      declared: number;
      last_seen: number | null;
      online: number | null;
      battery: number | null;
      sensor: string | null;
    }>
  ).map((d) => ({
    id: d.device_id,
    bed: d.bed,
    source: d.source,
    declared: d.declared === 1,
    lastSeen: iso(d.last_seen),
    online: d.online === null ? null : d.online === 1,
    battery: d.battery,
    sensor: d.sensor,
  }));
  return {
    readings: {
      total: counters.get('readings') ?? 0,
      unsynced: counters.get('readings_unsynced') ?? 0,
      oldestUnsyncedTs: iso(oldestUnsyncedTs(db)),
    },
    deadLetters: { total: counters.get('dead_letters') ?? 0, byReason },
    devices,
    alarms: {
      active: (db.prepare("SELECT count(*) AS n FROM alarms WHERE state <> 'cleared'").get() as { n: number }).n,
    },
    sync: readSyncStatus(db, options.syncConfigured),
  };
}
