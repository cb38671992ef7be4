// Who lies in which bed, and what the nurse has recorded for NEWS2 (SpO2
// scale, oxygen, consciousness). Identifiers and names stay on the ward: they
// are stored here and shown on the edge dashboard, never logged, never synced
// in clear. Every change is audited, with its source: 'manual' here (the
// command line, the dashboard), 'adt' for the hospital's feed (adtRecorder.ts).
import { WardgateError } from '../../shared/errors.js';
import type { PatientContext } from '../alarms/bedNews2.js';
import { AdmissionsStore } from '../store/admissionsStore.js';
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

export class Admissions {
  readonly #db: Db;
  readonly #audit: AuditLog;
  readonly #now: () => number;
  readonly #byBed = new Map<string, Admission>();
  readonly #rows: AdmissionsStore;

  constructor(db: Db, audit: AuditLog, now: () => number = Date.now) {
    this.#db = db;
    this.#audit = audit;
    this.#now = now;
    this.#rows = new AdmissionsStore(db);
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

  /**
   * Per bed a patient ever left (discharged, moved out), with or without one
   * in it now: when the last one did (the alarm engine's start).
   */
  departed(): Map<string, number> {
    return this.#rows.left();
  }

  /**
   * Per bed with a patient now: when they came into it, admitted there or
   * moved in from another bed (an admission keeps its first time across a
   * transfer); the alarm engine's start.
   */
  arrived(): Map<string, number> {
    return this.#rows.arrived();
  }

  admit(
    input: { bed: string; identifier: string; authority?: string; displayName?: string },
    actor: string,
  ): Admission {
    const now = this.#now();
    if (this.#byBed.has(input.bed))
      throw new WardgateError('WG_ERR_CONFLICT', `bed ${input.bed} is occupied; discharge first`, 'bed');
    writeTransaction(this.#db, () => {
      const patient = this.#rows.upsertPatient(input.identifier, input.authority ?? '', now);
      const current = this.#rows.bedOf(patient);
      if (current !== undefined)
        throw new WardgateError('WG_ERR_CONFLICT', `the patient is already admitted to bed ${current}`, 'identifier');
      const admission = this.#rows.admit(patient, input.bed, input.displayName ?? null, now, actor);
      this.#audit.record({
        ts: now,
        actor,
        action: 'admit',
        target: `bed:${input.bed}`,
        detail: { admission, source: 'manual' },
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
      this.#rows.discharge(admission.admission, now, actor);
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
      this.#rows.updateSettings(
        admission.admission,
        {
          spo2Scale: settings.spo2Scale ?? null,
          onOxygen: settings.onOxygen === undefined ? null : settings.onOxygen ? 1 : 0,
          consciousness: settings.consciousness ?? null,
        },
        now,
      );
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
    for (const r of this.#rows.open()) {
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
          r.consciousness && r.consciousness_at !== null
            ? { value: r.consciousness as Consciousness, at: r.consciousness_at }
            : null,
      });
    }
  }
}
