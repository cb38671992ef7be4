// What `wardgate status` and the edge API say about the sync, read from the
// database alone (the daemon persists its state there), so that it works
// whether or not the daemon runs: state, last success, backlog, drain rate
// and the estimated time left at that rate.
import { hasTable, type Db } from './database.js';

export interface SyncStatus {
  /** off (no cloud configured), idle, draining, retrying (backing off after failures), paused (refused by the cloud; see `wardgate sync --status`). */
  state: string;
  lastSuccessTs: string | null;
  backlog: {
    readings: number;
    alarmEvents: number;
    statuses: number;
    batchesInFlight: number;
    batchesQuarantined: number;
  };
  drainRatePerSecond: number;
  /** Seconds to drain the readings backlog at the current rate; null when nothing is draining. */
  etaSeconds: number | null;
  pausedReason: string | null;
  /** Version of the alarm overrides pulled from the cloud (0: none). */
  configVersion: number;
  /** Reconciliation with the cloud (the verify job, `wardgate sync --verify`): totals since install. */
  verify: SyncVerifyStatus;
}

export interface SyncVerifyStatus {
  runs: number;
  lastRunTs: string | null;
  /** Items compared, items the cloud lacked though it had confirmed them, items it held beyond the edge's, items re-sent. */
  itemsVerified: number;
  missing: number;
  extra: number;
  resent: number;
  lastHoleTs: string | null;
  /** Ranges re-sent and not yet verified whole. */
  pendingRepairs: number;
}

export const noVerification: SyncVerifyStatus = {
  runs: 0,
  lastRunTs: null,
  itemsVerified: 0,
  missing: 0,
  extra: 0,
  resent: 0,
  lastHoleTs: null,
  pendingRepairs: 0,
};

export function readSyncStatus(db: Db, syncConfigured?: boolean): SyncStatus {
  const state = new Map<string, string>();
  let inFlight = 0;
  let quarantined = 0;
  if (hasTable(db, 'sync_state')) {
    for (const r of db.prepare('SELECT key, value FROM sync_state').all() as Array<{ key: string; value: string }>)
      state.set(r.key, r.value);
    const counts = db
      .prepare(
        "SELECT count(*) FILTER (WHERE state = 'inflight') AS f, count(*) FILTER (WHERE state = 'quarantined') AS q FROM sync_batches",
      )
      .get() as { f: number; q: number };
    inFlight = counts.f;
    quarantined = counts.q;
  }
  const cursor = (stream: string) => `(SELECT synced_through FROM outbox_cursors WHERE stream = '${stream}')`;
  // Counts above the cursor by primary key range: an index walk, not a table scan.
  const readings =
    (db.prepare("SELECT value FROM counters WHERE name = 'readings_unsynced'").pluck().get() as number | undefined) ??
    0;
  const alarmEvents = db
    .prepare(`SELECT count(*) FROM alarm_events WHERE id > coalesce(${cursor('alarm_events')}, 0)`)
    .pluck()
    .get() as number;
  const statuses = db
    .prepare(`SELECT count(*) FROM device_status WHERE id > coalesce(${cursor('device_status')}, 0)`)
    .pluck()
    .get() as number;
  const last = state.get('last_success_ts');
  const rate = Number(state.get('drain_rate') ?? 0);
  const edgeConfig = state.get('edge_config');
  return {
    state: syncConfigured === false ? 'off' : (state.get('state') ?? 'off'),
    lastSuccessTs: last === undefined ? null : new Date(Number(last)).toISOString(),
    backlog: { readings, alarmEvents, statuses, batchesInFlight: inFlight, batchesQuarantined: quarantined },
    drainRatePerSecond: rate,
    etaSeconds: etaSeconds(readings, rate),
    pausedReason: state.get('paused') ?? null,
    configVersion: edgeConfig ? (JSON.parse(edgeConfig) as { version: number }).version : 0,
    verify: hasTable(db, 'sync_state') ? verifyStatus(db) : noVerification,
  };
}

function verifyStatus(db: Db): SyncVerifyStatus {
  const v = readVerifyTotals(db);
  const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
  return {
    runs: v.runs,
    lastRunTs: iso(v.lastRunTs),
    itemsVerified: v.items,
    missing: v.missing,
    extra: v.extra,
    resent: v.resent,
    lastHoleTs: iso(v.lastHoleTs),
    pendingRepairs: v.pendingRepairs,
  };
}

/** Epoch ms of the sync's last confirmed batch, if any. */
export function lastSyncSuccessTs(db: Db): number | undefined {
  const last = db.prepare("SELECT value FROM sync_state WHERE key = 'last_success_ts'").pluck().get() as
    string | undefined;
  return last === undefined ? undefined : Number(last);
}

/** Batches the cloud refused for good, waiting for an operator (`wardgate sync --status`). */
export function quarantinedBatchCount(db: Db): number {
  return db.prepare("SELECT count(*) FROM sync_batches WHERE state = 'quarantined'").pluck().get() as number;
}

/** Seconds to drain `backlog` readings at `rate` per second; null when not draining. */
export function etaSeconds(backlog: number, rate: number): number | null {
  if (backlog === 0) return 0;
  return rate > 0 ? Math.ceil(backlog / rate) : null;
}

/** What every verification so far adds up to, kept in sync_state by the verifier. */
export interface VerifyTotals {
  runs: number;
  items: number;
  missing: number;
  extra: number;
  resent: number;
  lastRunTs: number | null;
  lastHoleTs: number | null;
}

/** The persisted figures of every verification so far (shown by status and /metrics). */
export function readVerifyTotals(db: Db): VerifyTotals & { pendingRepairs: number } {
  const get = (key: string) =>
    db.prepare('SELECT value FROM sync_state WHERE key = ?').pluck().get(key) as string | undefined;
  const totals = get('verify_totals');
  const repairs = get('verify_repairs');
  return {
    ...(totals
      ? (JSON.parse(totals) as VerifyTotals)
      : { runs: 0, items: 0, missing: 0, extra: 0, resent: 0, lastRunTs: null, lastHoleTs: null }),
    pendingRepairs: repairs ? (JSON.parse(repairs) as unknown[]).length : 0,
  };
}
