// What the pseudonyms of the sync (sync/pseudonyms.ts) read: who lay in which
// bed and when, and a patient's clear identifier. The identifier is read here
// for sync/pseudonyms.ts alone, which returns only its keyed hash.
import type { Statement } from 'better-sqlite3';
import type { Db } from './database.js';

/** One admission, ended or not: the patient row, the bed, from when until when (null: still there). */
export interface StayRow {
  readonly patient: number;
  readonly bed: string;
  readonly admitted_at: number;
  readonly discharged_at: number | null;
}

export interface PatientIdentity {
  readonly identifier: string;
  readonly authority: string;
}

export class PseudonymStore {
  readonly #stays: Statement<[], StayRow>;
  readonly #identity: Statement<[number], PatientIdentity>;

  constructor(db: Db) {
    this.#stays = db.prepare('SELECT patient, bed, admitted_at, discharged_at FROM admissions ORDER BY admitted_at');
    this.#identity = db.prepare('SELECT identifier, authority FROM patients WHERE id = ?');
  }

  /** Every admission, oldest first (a small table). */
  stays(): StayRow[] {
    return this.#stays.all();
  }

  /** The patient's identifier and its assigning authority, if the row exists. */
  identity(patient: number): PatientIdentity | undefined {
    return this.#identity.get(patient);
  }
}
