// The admissions and patients rows as the ward's manual path keeps them
// (patients/admissions.ts holds the rules: who may be admitted where, and the
// audit entry of each change, in the caller's transaction). Statements
// prepared once.
import type { Statement } from 'better-sqlite3';
import type { Db } from './database.js';

/** An open admission as stored; patients/admissions.ts turns it into what the ward sees. */
export interface AdmissionRow {
  readonly id: number;
  readonly patient: number;
  readonly bed: string;
  readonly display_name: string | null;
  readonly admitted_at: number;
  readonly source: string;
  readonly spo2_scale: number;
  readonly on_oxygen: number;
  readonly oxygen_at: number | null;
  readonly consciousness: string | null;
  readonly consciousness_at: number | null;
}

/** What the nurse entered; null leaves the stored value (and its time) as it is. */
export interface SettingsRow {
  readonly spo2Scale: 1 | 2 | null;
  readonly onOxygen: 0 | 1 | null;
  readonly consciousness: string | null;
}

/**
 * The patient's row for (authority, identifier), made when new, its last
 * sighting moved to `at` when known. The ADT feed (adtStore.ts) and the
 * manual path share it: one patient, one row.
 */
export function patientUpsert(db: Db): (identifier: string, authority: string, at: number) => number {
  const upsert = db
    .prepare<[string, string, number, number], number>(
      `INSERT INTO patients (identifier, authority, first_seen, last_seen) VALUES (?, ?, ?, ?)
       ON CONFLICT (authority, identifier) DO UPDATE SET last_seen = excluded.last_seen RETURNING id`,
    )
    .pluck();
  return (identifier, authority, at) => upsert.get(identifier, authority, at, at)!;
}

export class AdmissionsStore {
  readonly #upsertPatient: (identifier: string, authority: string, at: number) => number;
  readonly #bedOf: Statement<[number], string>;
  readonly #insert: Statement<[number, string, string | null, number, string]>;
  readonly #discharge: Statement<[number, string, number]>;
  readonly #settings: Statement<
    [1 | 2 | null, 0 | 1 | null, 0 | 1 | null, number, string | null, string | null, number, number]
  >;
  readonly #open: Statement<[], AdmissionRow>;
  readonly #left: Statement<[], { bed: string; at: number }>;
  readonly #arrived: Statement<[], { bed: string; at: number }>;

  constructor(db: Db) {
    this.#upsertPatient = patientUpsert(db);
    this.#bedOf = db
      .prepare<[number], string>('SELECT bed FROM admissions WHERE patient = ? AND discharged_at IS NULL')
      .pluck();
    this.#insert = db.prepare(
      'INSERT INTO admissions (patient, bed, display_name, admitted_at, admitted_by) VALUES (?, ?, ?, ?, ?)',
    );
    this.#discharge = db.prepare('UPDATE admissions SET discharged_at = ?, discharged_by = ? WHERE id = ?');
    this.#settings = db.prepare(
      `UPDATE admissions SET spo2_scale = coalesce(?, spo2_scale), on_oxygen = coalesce(?, on_oxygen),
       oxygen_at = CASE WHEN ? IS NULL THEN oxygen_at ELSE ? END,
       consciousness = coalesce(?, consciousness), consciousness_at = CASE WHEN ? IS NULL THEN consciousness_at ELSE ? END WHERE id = ?`,
    );
    this.#open = db.prepare('SELECT * FROM admissions WHERE discharged_at IS NULL');
    // An A02 moves the admission row to the new bed (adtStore.ts): the bed it left is in the transfer's audit entry.
    // Read once at the start; the audit has no index on action: 14 ms over 100,000 entries, 160 ms over a million.
    this.#left = db.prepare<[], { bed: string; at: number }>(
      `SELECT bed, max(at) AS at FROM (
         SELECT bed, discharged_at AS at FROM admissions WHERE discharged_at IS NOT NULL
         UNION ALL SELECT json_extract(detail, '$.from'), ts FROM audit WHERE action = 'transfer' AND json_valid(detail)
       ) WHERE typeof(bed) = 'text' GROUP BY bed`,
    );
    // The moved admission keeps its admission time: when it came into its bed is its latest transfer's entry there.
    // Read once at the start, one more pass over the audit as long as left()'s (89 ms over a million entries).
    this.#arrived = db.prepare<[], { bed: string; at: number }>(
      `SELECT a.bed, max(a.admitted_at, coalesce(t.at, a.admitted_at)) AS at FROM admissions a
       LEFT JOIN (
         SELECT json_extract(detail, '$.admission') AS admission, target, max(ts) AS at FROM audit
         WHERE action = 'transfer' AND json_valid(detail) GROUP BY 1, 2
       ) t ON t.admission = a.id AND t.target = 'bed:' || a.bed
       WHERE a.discharged_at IS NULL`,
    );
  }

  /** The patient's row id for (authority, identifier), made when new; its last sighting is `at`. */
  upsertPatient(identifier: string, authority: string, at: number): number {
    return this.#upsertPatient(identifier, authority, at);
  }

  /** The bed the patient is admitted to now, if any. */
  bedOf(patient: number): string | undefined {
    return this.#bedOf.get(patient);
  }

  /** A manual admission; returns its id. */
  admit(patient: number, bed: string, displayName: string | null, at: number, by: string): number {
    return Number(this.#insert.run(patient, bed, displayName, at, by).lastInsertRowid);
  }

  discharge(admission: number, at: number, by: string): void {
    this.#discharge.run(at, by, admission);
  }

  /** Stores the nurse's entries; each one given takes `at` as its time. */
  updateSettings(admission: number, settings: SettingsRow, at: number): void {
    const { spo2Scale, onOxygen: o, consciousness: c } = settings;
    this.#settings.run(spo2Scale, o, o, at, c, c, at, admission);
  }

  /** Per bed an admission ever ended in or moved out of (with or without a patient in it now): when the last one did. */
  left(): Map<string, number> {
    return new Map(this.#left.all().map(({ bed, at }) => [bed, at]));
  }

  /**
   * Per bed with an admission now: when that admission came into it, admitted there or moved in (its latest
   * transfer into the bed, an A02 or A12).
   */
  arrived(): Map<string, number> {
    return new Map(this.#arrived.all().map(({ bed, at }) => [bed, at]));
  }

  /** Every admission not yet ended. */
  open(): AdmissionRow[] {
    return this.#open.all();
  }
}
