// Who lies in which bed, and what the nurse has recorded for NEWS2 (SpO2
// scale, oxygen, consciousness). Identifiers and names stay on the ward: they
// are stored here and shown on the edge dashboard, never logged, never synced
// in clear. Every change is audited, with its source: 'manual' here (the
// command line, the dashboard), 'adt' for the hospital's feed (adtRecorder.ts).
import type { Statement } from 'better-sqlite3';
import { WardgateError } from '../../shared/errors.js';
import type { PatientContext } from '../alarms/bedNews2.js';
import type { AuditLog } from '../store/auditLog.js';
import { writeTransaction, type Db } from '../store/database.js';

/** Who made an admission: a person on the ward, or the hospital's ADT feed. */
export type AdmissionSource = 'manual' | 'adt';

export type Consciousness = 'A' | 'C' | 'V' | 'P' | 'U';
export const consciousnessLevels: readonly Consciousness[] = ['A', 'C', 'V', 'P', 'U'];

export interface Admission {
  readonly admission: number;
  readonly patient: number;
  readonly bed: string;
  readonly displayName: string | null;
  readonly admittedAt: number;
  readonly source: AdmissionSource;
  readonly spo2Scale: 1 | 2;
  /** Air (false) or oxygen (true) as the nurse recorded it; null: not recorded yet (NEWS2 names it missing). */
  readonly onOxygen: boolean | null;
  readonly consciousness: { value: Consciousness; at: number } | null;
}

export interface Settings {
  spo2Scale?: 1 | 2;
  onOxygen?: boolean;
  consciousness?: Consciousness;
}

interface Row {
  id: number;
  patient: number;
  bed: string;
  display_name: string | null;
  admitted_at: number;
  source: string;
  spo2_scale: number;
  on_oxygen: number;
  oxygen_at: number | null;
  consciousness: Consciousness | null;
  consciousness_at: number | null;
}

export class Admissions {
  readonly #db: Db;
  readonly #audit: AuditLog;
  readonly #now: () => number;
  readonly #byBed = new Map<string, Admission>();
  readonly #upsertPatient: Statement;

  constructor(db: Db, audit: AuditLog, now: () => number = Date.now) {
    this.#db = db;
    this.#audit = audit;
    this.#now = now;
    this.#upsertPatient = db.prepare(
      `INSERT INTO patients (identifier, authority, first_seen, last_seen) VALUES (?, ?, ?, ?)
       ON CONFLICT (authority, identifier) DO UPDATE SET last_seen = excluded.last_seen RETURNING id`,
    );
    this.#load();
  }

  atBed(bed: string): PatientContext | undefined {
    const a = this.#byBed.get(bed);
    return a && { id: String(a.patient), spo2Scale: a.spo2Scale, onOxygen: a.onOxygen, consciousness: a.consciousness };
  }

  current(): Admission[] {
    return [...this.#byBed.values()].sort((a, b) => a.bed.localeCompare(b.bed, undefined, { numeric: true }));
  }

  get(bed: string): Admission | undefined {
    return this.#byBed.get(bed);
  }

  admit(
    input: { bed: string; identifier: string; authority?: string; displayName?: string },
    actor: string,
  ): Admission {
    const now = this.#now();
    if (this.#byBed.has(input.bed))
      throw new WardgateError('WG_ERR_CONFLICT', `bed ${input.bed} is occupied; discharge first`, 'bed');
    writeTransaction(this.#db, () => {
      const { id: patient } = this.#upsertPatient.get(input.identifier, input.authority ?? '', now, now) as {
        id: number;
      };
      const current = this.#db
        .prepare('SELECT bed FROM admissions WHERE patient = ? AND discharged_at IS NULL')
        .get(patient) as { bed: string } | undefined;
      if (current)
        throw new WardgateError(
          'WG_ERR_CONFLICT',
          `the patient is already admitted to bed ${current.bed}`,
          'identifier',
        );
      const { lastInsertRowid } = this.#db
        .prepare('INSERT INTO admissions (patient, bed, display_name, admitted_at, admitted_by) VALUES (?, ?, ?, ?, ?)')
        .run(patient, input.bed, input.displayName ?? null, now, actor);
      this.#audit.record({
        ts: now,
        actor,
        action: 'admit',
        target: `bed:${input.bed}`,
        detail: { admission: Number(lastInsertRowid), source: 'manual' },
      });
    })();
    this.#load();
    return this.#byBed.get(input.bed)!;
  }

  discharge(bed: string, actor: string): Admission {
    const admission = this.#byBed.get(bed);
    if (!admission) throw new WardgateError('WG_ERR_NOT_FOUND', `no patient is admitted to bed ${bed}`, 'bed');
    const now = this.#now();
    writeTransaction(this.#db, () => {
      this.#db
        .prepare('UPDATE admissions SET discharged_at = ?, discharged_by = ? WHERE id = ?')
        .run(now, actor, admission.admission);
      this.#audit.record({
        ts: now,
        actor,
        action: 'discharge',
        target: `bed:${bed}`,
        detail: { admission: admission.admission, source: 'manual', admittedBy: admission.source },
      });
    })();
    this.#byBed.delete(bed);
    return admission;
  }

  /** The nurse's NEWS2 entries; each is recorded with its time of entry and audited. */
  updateSettings(bed: string, settings: Settings, actor: string): Admission {
    const admission = this.#byBed.get(bed);
    if (!admission) throw new WardgateError('WG_ERR_NOT_FOUND', `no patient is admitted to bed ${bed}`, 'bed');
    const now = this.#now();
    writeTransaction(this.#db, () => {
      const update = this.#db.prepare(
        `UPDATE admissions SET spo2_scale = coalesce(?, spo2_scale), on_oxygen = coalesce(?, on_oxygen),
         oxygen_at = CASE WHEN ? IS NULL THEN oxygen_at ELSE ? END,
         consciousness = coalesce(?, consciousness), consciousness_at = CASE WHEN ? IS NULL THEN consciousness_at ELSE ? END WHERE id = ?`,
      );
      const c = settings.consciousness ?? null;
      const o = settings.onOxygen === undefined ? null : Number(settings.onOxygen);
      update.run(settings.spo2Scale ?? null, o, o, now, c, c, now, admission.admission);
      this.#audit.record({ ts: now, actor, action: 'patient-settings', target: `bed:${bed}`, detail: { ...settings } });
    })();
    this.#load();
    return this.#byBed.get(bed)!;
  }

  /** Reads the current admissions again, after the ADT feed changed them in the same database. */
  reload(): void {
    this.#load();
  }

  #load(): void {
    this.#byBed.clear();
    const rows = this.#db.prepare('SELECT * FROM admissions WHERE discharged_at IS NULL').all() as Row[];
    for (const r of rows) {
      this.#byBed.set(r.bed, {
        admission: r.id,
        patient: r.patient,
        bed: r.bed,
        displayName: r.display_name,
        admittedAt: r.admitted_at,
        source: r.source === 'adt' ? 'adt' : 'manual',
        spo2Scale: r.spo2_scale === 2 ? 2 : 1,
        onOxygen: r.oxygen_at === null ? null : r.on_oxygen === 1,
        consciousness:
          r.consciousness && r.consciousness_at !== null ? { value: r.consciousness, at: r.consciousness_at } : null,
      });
    }
  }
}
