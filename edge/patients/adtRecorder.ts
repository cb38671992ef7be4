// Applies the hospital's ADT events to the ward's admissions: one message,
// one write transaction holding its effect, its audit entries and the record
// that it was applied (sender + MSH-10 + digest). A resend of an applied
// message (the ACK was lost, the gateway was killed before answering) finds
// that record and changes nothing; a message that never committed was never
// acknowledged, and its resend is applied then. An event older than the last
// one applied for the patient (EVN time) changes nothing either: the feed's
// newer word stands.
//
// ADT and the manual path (docs/INTEGRATION.md, "ADT in"): the feed is the
// hospital's record, so it wins. It adopts a manual admission of the same
// patient in the same bed, ends one of another patient in a bed it fills,
// and moves the admission (with the nurse's NEWS2 entries) when it moves the
// patient. A manual admission made while the feed is silent stays until the
// feed says otherwise. Every change is audited with source 'adt', the event
// and the control id; never with a patient identifier or name. The rows it
// reads and writes are store/adtStore.ts's.
import { AdtStore, type OpenAdmission } from '../store/adtStore.js';
import type { AuditLog } from '../store/auditLog.js';
import { writeTransaction, type Db } from '../store/database.js';
import type { AdtEvent, PatientId } from '../integration/adtMessage.js';

/** Where PV1-3 puts the patient, as far as this ward is concerned. */
export type Placement =
  /** One of this ward's beds. */
  | { readonly kind: 'bed'; readonly bed: string }
  /** On this ward, no bed given (a unit without the bed component). */
  | { readonly kind: 'ward' }
  /** Another ward of the hospital. */
  | { readonly kind: 'elsewhere' }
  /** The message names no location. */
  | { readonly kind: 'none' };

export type AdtOutcome =
  /** Applied: `beds` are the beds whose patient changed (for the screens). */
  | { readonly kind: 'applied'; readonly beds: readonly string[]; readonly changed: boolean }
  /** Already applied (same sender, MSH-10 and content): nothing done again. */
  | { readonly kind: 'duplicate' }
  /** Older than the last event applied for this patient: recorded, nothing changed. */
  | { readonly kind: 'stale' }
  /** The same MSH-10 came before with other content: refused, nothing done. */
  | { readonly kind: 'conflict' };

const ACTOR = 'adt';

export class AdtRecorder {
  readonly #db: Db;
  readonly #audit: AuditLog;
  readonly #now: () => number;
  readonly #store: AdtStore;

  constructor(db: Db, audit: AuditLog, now: () => number = Date.now) {
    this.#db = db;
    this.#audit = audit;
    this.#now = now;
    this.#store = new AdtStore(db);
  }

  /** Applies one ADT event from `sender` (its MSH-3/MSH-4) placed as `placement`, exactly once. */
  apply(sender: string, adt: AdtEvent, placement: Placement): AdtOutcome {
    return writeTransaction(this.#db, () => this.#apply(sender, adt, placement))();
  }

  /** Forgets applied messages older than `days` (a resend comes within minutes, not weeks). */
  prune(days: number): number {
    return writeTransaction(this.#db, () => this.#store.forgetBefore(this.#now() - days * 86_400_000))();
  }

  #apply(sender: string, adt: AdtEvent, placement: Placement): AdtOutcome {
    const now = this.#now();
    const seen = this.#store.digestOf(sender, adt.controlId);
    if (seen !== undefined) return seen === adt.digest ? { kind: 'duplicate' } : { kind: 'conflict' };
    const known = this.#patientId(adt.patient);
    if (known !== undefined && adt.event !== 'A40') {
      const last = this.#store.lastEventTs(known);
      if (last !== undefined && adt.eventTs < last) {
        this.#remember(sender, adt, now, 'stale');
        if (this.#openOf(known)) this.#record(now, 'adt-stale', null, adt, {});
        return { kind: 'stale' };
      }
    }
    const act = new Effects();
    switch (adt.event) {
      case 'A01':
      case 'A04':
      case 'A13':
      case 'A02':
      case 'A12':
        this.#place(adt, placement, known, act, now);
        break;
      case 'A03':
      case 'A11':
        if (known !== undefined) this.#leave(known, adt, adt.event === 'A03' ? 'discharge' : 'cancel-admit', act, now);
        break;
      case 'A08':
        if (known !== undefined) this.#update(known, adt, act, now);
        break;
      case 'A40':
        this.#merge(adt, act, now);
        break;
    }
    // Known patients only: the ward keeps nothing about patients it never had. An event without effect
    // counts too (a discharge while the patient was elsewhere must stop a late transfer into our bed).
    const patient = this.#patientId(adt.patient);
    // A patient the ward never had, and nothing changed: nothing to remember either (a resend changes nothing
    // again), so most of a hospital-wide feed costs no write and no fsync here.
    if (patient === undefined && !act.changed) return { kind: 'applied', beds: [], changed: false };
    if (patient !== undefined) this.#store.setLastEvent(patient, adt.eventTs);
    this.#remember(sender, adt, now, act.changed ? 'applied' : 'no-effect');
    return { kind: 'applied', beds: [...act.beds], changed: act.changed };
  }

  /** A01, A04, A13, A02, A12: the patient is where PV1-3 says (for A12, where they were before the transfer). */
  #place(adt: AdtEvent, placement: Placement, known: number | undefined, act: Effects, now: number): void {
    if (placement.kind === 'none') return;
    if (placement.kind !== 'bed') {
      // On another ward, or on this one without a bed: no bed of ours holds them any more.
      if (known !== undefined)
        this.#leave(known, adt, placement.kind === 'elsewhere' ? 'transfer-out' : 'no-bed', act, now);
      return;
    }
    const { bed } = placement;
    const patient = known ?? this.#store.upsertPatient(adt.patient.identifier, adt.patient.authority, now);
    const mine = this.#openOf(patient);
    if (mine && mine.bed === bed) {
      if (mine.source !== 'adt') {
        this.#store.adopt(mine.id);
        this.#record(now, 'adt-adopt', bed, adt, { admission: mine.id });
        act.change(bed);
      }
      this.#rename(mine, adt, act, now);
      return;
    }
    const occupant = this.#openAt(bed);
    if (occupant) {
      // The hospital's record puts someone else in this bed: its word wins, and the ward sees why the name changed.
      this.#store.end(occupant.id, now);
      this.#record(now, 'adt-bed-conflict', bed, adt, { admission: occupant.id, admittedBy: occupant.source });
      act.change(bed);
    }
    if (mine) {
      this.#store.move(mine.id, bed);
      this.#record(now, 'transfer', bed, adt, { admission: mine.id, from: mine.bed });
      act.change(mine.bed).change(bed);
      this.#rename({ ...mine, bed }, adt, act, now);
      return;
    }
    const admission = this.#store.admit(patient, bed, adt.displayName ?? null, now);
    this.#record(now, 'admit', bed, adt, { admission });
    act.change(bed);
  }

  /** The patient no longer holds a bed here: discharged, transfer cancelled or out, admission cancelled. */
  #leave(patient: number, adt: AdtEvent, why: string, act: Effects, now: number): void {
    const mine = this.#openOf(patient);
    if (!mine) return;
    this.#store.end(mine.id, now);
    this.#record(now, why === 'discharge' ? 'discharge' : `adt-${why}`, mine.bed, adt, {
      admission: mine.id,
      admittedBy: mine.source,
    });
    act.change(mine.bed);
  }

  /** A08: a new name for the screens. A location in an A08 moves nobody (A02 does). */
  #update(patient: number, adt: AdtEvent, act: Effects, now: number): void {
    const mine = this.#openOf(patient);
    if (mine) this.#rename(mine, adt, act, now);
  }

  #rename(row: OpenAdmission, adt: AdtEvent, act: Effects, now: number): void {
    if (adt.displayName === undefined || adt.displayName === row.display_name) return;
    this.#store.rename(row.id, adt.displayName);
    this.#record(now, 'patient-update', row.bed, adt, { admission: row.id });
    act.change(row.bed);
  }

  /**
   * A40: MRG-1's identifier is merged into PID-3's. When the surviving
   * identifier is new here, the patient row takes it and every row that
   * points to the patient follows. When both are known, the open admission
   * and the devices follow the survivor; stored readings keep the row they
   * were taken under (the audit entry joins the two).
   */
  #merge(adt: AdtEvent, act: Effects, now: number): void {
    const prior = this.#patientId(adt.prior!);
    if (prior === undefined) return;
    const survivor = this.#patientId(adt.patient);
    const open = this.#openOf(prior);
    if (survivor === undefined) {
      this.#store.renamePatient(prior, adt.patient.identifier, adt.patient.authority, now);
      this.#record(now, 'merge', open?.bed ?? null, adt, { patient: prior, ...(open && { admission: open.id }) });
      if (open) act.change(open.bed);
      else act.touch();
      return;
    }
    if (survivor === prior) return;
    const kept = this.#openOf(survivor);
    if (open && kept) {
      this.#store.end(open.id, now);
      this.#record(now, 'merge', open.bed, adt, {
        patient: survivor,
        mergedPatient: prior,
        admission: open.id,
        endedFor: kept.id,
      });
      act.change(open.bed);
    } else if (open) {
      this.#store.repoint(open.id, survivor);
      this.#record(now, 'merge', open.bed, adt, { patient: survivor, mergedPatient: prior, admission: open.id });
      act.change(open.bed);
    } else {
      this.#record(now, 'merge', null, adt, { patient: survivor, mergedPatient: prior });
      act.touch();
    }
    this.#store.repointDevices(prior, survivor);
    const last = this.#store.lastEventTs(prior);
    if (last !== undefined) this.#store.setLastEvent(survivor, last);
    this.#store.dropLastEvent(prior);
  }

  #patientId(id: PatientId): number | undefined {
    return this.#store.patientId(id.authority, id.identifier);
  }

  #openOf(patient: number): OpenAdmission | undefined {
    return this.#store.openOf(patient);
  }

  #openAt(bed: string): OpenAdmission | undefined {
    return this.#store.openAt(bed);
  }

  #remember(sender: string, adt: AdtEvent, now: number, outcome: string): void {
    this.#store.remember({
      sender,
      controlId: adt.controlId,
      digest: adt.digest,
      event: adt.event,
      receivedAt: now,
      outcome,
    });
  }

  #record(now: number, action: string, bed: string | null, adt: AdtEvent, detail: Record<string, unknown>): void {
    this.#audit.record({
      ts: now,
      actor: ACTOR,
      action,
      target: bed === null ? null : `bed:${bed}`,
      detail: { source: 'adt', event: adt.event, controlId: adt.controlId, ...detail },
    });
  }
}

/** What one message changed: the beds whose patient changed, or only records (a merge of a patient in no bed). */
class Effects {
  readonly beds = new Set<string>();
  #changed = false;

  get changed(): boolean {
    return this.#changed;
  }

  change(bed: string): this {
    this.beds.add(bed);
    this.#changed = true;
    return this;
  }

  touch(): void {
    this.#changed = true;
  }
}
