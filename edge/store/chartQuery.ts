// What charting vitals to the EHR reads from the store: a bed's latest stored
// reading of each metric (for the nurse to review), one reading by its
// observation (to tell a confirmation from a correction), and the patient's
// real identifier (it goes to the hospital's EHR only, never to the cloud).
import type { Db } from './database.js';

export interface StoredReading {
  /** The observation (observations.id) the reading belongs to. */
  readonly observation: number;
  readonly code: string;
  /** In the metric's canonical unit. */
  readonly value: number;
  /** Measurement time, epoch ms (the device's, as stored). */
  readonly ts: number;
  readonly flags: number;
  readonly deviceId: string;
  readonly bed: string | null;
  readonly patient: number | null;
}

export interface PatientIdentity {
  readonly identifier: string;
  readonly authority: string;
  readonly idType: string;
}

interface ObservationRow {
  id: number;
  ts: number;
  readings: string;
  device_id: string;
  bed: string | null;
  patient: number | null;
}

/** A stored entry: [code, value, flags, ts?] (migration 1). */
type Entry = [string, number, number?, number?];

function entries(row: ObservationRow): StoredReading[] {
  return (JSON.parse(row.readings) as Entry[]).map(([code, value, flags, ts]) => ({
    observation: row.id,
    code,
    value,
    ts: ts ?? row.ts,
    flags: flags ?? 0,
    deviceId: row.device_id,
    bed: row.bed,
    patient: row.patient,
  }));
}

/**
 * The latest reading of each of `codes` at the bed measured at or after
 * `since`, newest observations first through the (bed, ts) index; it stops
 * once every code is found or after `maxObservations` rows (a day of 1 Hz
 * oximetry need not be read to find this morning's temperature).
 */
export function latestReadings(
  db: Db,
  options: { bed: string; since: number; codes: readonly string[]; maxObservations?: number },
): Map<string, StoredReading> {
  const wanted = new Set(options.codes);
  const found = new Map<string, StoredReading>();
  const rows = db
    .prepare(
      `SELECT o.id, o.ts, o.readings, d.device_id, o.bed, o.patient FROM observations o JOIN devices d ON d.id = o.device
       WHERE o.bed = ? AND o.ts >= ? ORDER BY o.ts DESC, o.id DESC LIMIT ?`,
    )
    .iterate(options.bed, options.since, options.maxObservations ?? 50_000) as IterableIterator<ObservationRow>;
  for (const row of rows) {
    for (const reading of entries(row)) {
      const seen = found.get(reading.code);
      if (wanted.has(reading.code) && (!seen || reading.ts > seen.ts)) found.set(reading.code, reading);
    }
    if (found.size === wanted.size) {
      rows.return?.();
      break;
    }
  }
  return found;
}

/** One metric's reading in an observation, or undefined. */
export function readingOf(db: Db, observation: number, code: string): StoredReading | undefined {
  const row = db
    .prepare(
      'SELECT o.id, o.ts, o.readings, d.device_id, o.bed, o.patient FROM observations o JOIN devices d ON d.id = o.device WHERE o.id = ?',
    )
    .get(observation) as ObservationRow | undefined;
  return row && entries(row).find((r) => r.code === code);
}

/** The patient's identifier as the hospital issued it (PID-3), or undefined. */
export function patientIdentity(db: Db, patient: number): PatientIdentity | undefined {
  const row = db.prepare('SELECT identifier, authority, id_type FROM patients WHERE id = ?').get(patient) as
    { identifier: string; authority: string; id_type: string } | undefined;
  return row && { identifier: row.identifier, authority: row.authority, idType: row.id_type };
}

/** A value charted by a nurse (status F or C), as its audit entry records it. */
export interface ChartedValue {
  readonly metric: string;
  readonly value: number;
  /** Measurement time, epoch ms (OBX-14 of the row). */
  readonly ts: number;
  /** The stored observation it came from; null for a value the nurse entered. */
  readonly observation: number | null;
  readonly controlId: string;
  readonly by: string;
  /** When it was charted, epoch ms. */
  readonly at: number;
}

interface ChartAuditRow {
  ts: number;
  actor: string;
  /** Only on the bed's chart-vitals entries. */
  detail: string | null;
  hit: number;
}

/**
 * What nurses charted for a bed at or after `since` (the gateway's clock,
 * when the audit entry was written), oldest first: read from the
 * `chart-vitals` audit entries, written in the transaction that queued each
 * message, so they say exactly what went to the EHR. Entries from before
 * charted values were recorded in them carry none. The audit trail is read
 * newest first and only back to `since`: the cost is the entries of that
 * window (every entry is written at the time it happens), not the table.
 */
export function chartedValues(db: Db, options: { bed: string; since: number }): ChartedValue[] {
  const target = `bed:${options.bed}`;
  const rows = db
    .prepare(
      `SELECT ts, actor, (action = 'chart-vitals' AND target = ?) AS hit,
              CASE WHEN action = 'chart-vitals' AND target = ? THEN detail END AS detail
       FROM audit ORDER BY id DESC`,
    )
    .iterate(target, target) as IterableIterator<ChartAuditRow>;
  const found: ChartAuditRow[] = [];
  for (const row of rows) {
    if (row.ts < options.since) {
      rows.return?.();
      break;
    }
    if (row.hit) found.push(row);
  }
  return found.reverse().flatMap((row) => {
    const detail = row.detail ? (JSON.parse(row.detail) as { controlId?: unknown; values?: unknown }) : {};
    if (!Array.isArray(detail.values) || typeof detail.controlId !== 'string') return [];
    const controlId = detail.controlId;
    return (detail.values as Array<Record<string, unknown>>).flatMap((v) =>
      typeof v.metric === 'string' && typeof v.value === 'number' && typeof v.ts === 'number'
        ? [
            {
              metric: v.metric,
              value: v.value,
              ts: v.ts,
              observation: typeof v.observation === 'number' ? v.observation : null,
              controlId,
              by: row.actor,
              at: row.ts,
            },
          ]
        : [],
    );
  });
}
