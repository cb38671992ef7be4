// The audit trail (HIPAA 164.312(b)): who acknowledged, admitted, discharged or
// changed what, and when. Append-only; an outbox stream for the sync.
import type { Statement } from 'better-sqlite3';
import { clampLimit } from './alarmStore.js';
import type { Db } from './database.js';

export interface AuditEntry {
  readonly ts: number;
  readonly actor: string;
  readonly action: string;
  readonly target: string | null;
  /** Free detail, never a patient identifier or name. */
  readonly detail: Record<string, unknown> | null;
}

export class AuditLog {
  readonly #insert: Statement;
  readonly #db: Db;

  constructor(db: Db) {
    this.#db = db;
    this.#insert = db.prepare('INSERT INTO audit (ts, actor, action, target, detail) VALUES (?, ?, ?, ?, ?)');
  }

  record(entry: AuditEntry): void {
    this.#insert.run(
      entry.ts,
      entry.actor,
      entry.action,
      entry.target,
      entry.detail ? JSON.stringify(entry.detail) : null,
    );
  }

  recent(limit = 100): AuditEntry[] {
    const rows = this.#db
      .prepare('SELECT ts, actor, action, target, detail FROM audit ORDER BY id DESC LIMIT ?')
      .all(clampLimit(limit)) as Array<Omit<AuditEntry, 'detail'> & { detail: string | null }>;
    return rows.map((r) => ({ ...r, detail: r.detail ? (JSON.parse(r.detail) as Record<string, unknown>) : null }));
  }
}
