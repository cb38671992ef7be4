// Patient identifiers never leave the ward in clear (PRODUCT.md; HIPAA
// 45 CFR 164.312(e)). A reading carries the keyed pseudonym of the patient its
// message named (HL7 PID-3) or, failing that, of the patient admitted to its
// bed at the reading's time. The clear identifier is read here (through
// store/pseudonymStore.ts) and nowhere else in the sync, and only its HMAC is
// returned.
import { patientPseudonym } from '../../shared/sync/pseudonym.js';
import { bedStandIn } from '../../shared/sync/wardText.js';
import type { Db } from '../store/database.js';
import { PseudonymStore } from '../store/pseudonymStore.js';

interface Stay {
  readonly patient: number;
  readonly from: number;
  readonly until: number;
}

export class Pseudonyms {
  readonly #rows: PseudonymStore;
  readonly #wardSecret: string;
  readonly #byPatient = new Map<number, string>();
  #stays = new Map<string, Stay[]>();

  constructor(db: Db, wardSecret: string) {
    this.#rows = new PseudonymStore(db);
    this.#wardSecret = wardSecret;
  }

  /** Re-reads admissions (a small table); called once per batch built. */
  refresh(): void {
    const stays = new Map<string, Stay[]>();
    for (const r of this.#rows.stays()) {
      const list = stays.get(r.bed) ?? [];
      list.push({ patient: r.patient, from: r.admitted_at, until: r.discharged_at ?? Number.MAX_SAFE_INTEGER });
      stays.set(r.bed, list);
    }
    this.#stays = stays;
  }

  /** The pseudonym for a reading: its own patient, else the patient in its bed at `ts`; undefined when neither is known. */
  forReading(patientRow: number | null, bed: string | null, ts: number): string | undefined {
    if (patientRow !== null) return this.ofPatient(patientRow);
    if (bed === null) return undefined;
    const stay = this.#stays.get(bed)?.findLast((s) => s.from <= ts && ts < s.until);
    return stay ? this.ofPatient(stay.patient) : undefined;
  }

  /** A bed label that may not leave the ward (shared/sync/wardText.ts) travels as this keyed stand-in: the same label, the same stand-in. */
  forBedLabel(label: string): string {
    return bedStandIn(patientPseudonym(this.#wardSecret, `bed\u0000${label}`).slice(1));
  }

  /** HMAC of (authority, identifier): the same number from two authorities is two patients. */
  ofPatient(patientRow: number): string | undefined {
    let pseudonym = this.#byPatient.get(patientRow);
    if (pseudonym === undefined) {
      const row = this.#rows.identity(patientRow);
      if (!row || row.identifier.trim() === '') return undefined;
      pseudonym = patientPseudonym(
        this.#wardSecret,
        row.authority ? `${row.identifier}^^^${row.authority}` : row.identifier,
      );
      this.#byPatient.set(patientRow, pseudonym);
    }
    return pseudonym;
  }
}
