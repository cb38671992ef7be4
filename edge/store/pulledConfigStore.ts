// The alarm overrides last pulled from the cloud, kept in sync_state so that
// the daemon applies them at its next start (sync/configPull.ts), with the
// audit entry of each pull in the same transaction.
import type { AuditEntry } from './auditLog.js';
import { AuditLog } from './auditLog.js';
import { writeTransaction, type Db } from './database.js';

export interface PulledConfig {
  readonly version: number;
  readonly etag: string | null;
  readonly config: { alarms?: Record<string, unknown> };
  readonly pulledAt: number;
}

export function storedPulledConfig(db: Db): PulledConfig | undefined {
  const text = db.prepare("SELECT value FROM sync_state WHERE key = 'edge_config'").pluck().get() as string | undefined;
  return text ? (JSON.parse(text) as PulledConfig) : undefined;
}

/** Keeps `pulled` as the stored version and writes its audit entry, in one transaction. */
export function storePulledConfig(db: Db, pulled: PulledConfig, audit: AuditEntry): void {
  const log = new AuditLog(db);
  writeTransaction(db, () => {
    db.prepare(
      "INSERT INTO sync_state (key, value) VALUES ('edge_config', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    ).run(JSON.stringify(pulled));
    log.record(audit);
  })();
}
