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
// and the control id; never with a patient identifier or name.
import type { Statement } from 'better-sqlite3';
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

interface OpenRow {
  id: number;
  patient: number;
  bed: string;
  display_name: string | null;
  source: string;
}

const ACTOR = 'adt';

export class AdtRecorder {
  readonly #db: Db;
  readonly #audit: AuditLog;
  readonly #now: () => number;
  readonly #s: Record<string, Statement>;

  constructor(db: Db, audit: AuditLog, now: () => number = Date.now) {
    this.#db = db;
    this.#audit = audit;
    this.#now = now;
    const p = (sql: string) => db.prepare(sql);
    this.#s = {
      seen: p('SELECT digest FROM adt_messages WHERE sender = ? AND control_id = ?'),
      remember: p(
        'INSERT INTO adt_messages (sender, control_id, digest, event, received_at, outcome) VALUES (?, ?, ?, ?, ?, ?)',
      ),
      forget: p('DELETE FROM adt_messages WHERE received_at < ?'),
      patient: p('SELECT id FROM patients WHERE authority = ? AND identifier = ?'),
      upsertPatient: p(
        `INSERT INTO patients (identifier, authority, first_seen, last_seen) VALUES (?, ?, ?, ?)
         ON CONFLICT (authority, identifier) DO UPDATE SET last_seen = excluded.last_seen RETURNING id`,
      ),
      renamePatient: p('UPDATE patients SET identifier = ?, authority = ?, last_seen = ? WHERE id = ?'),
      lastEvent: p('SELECT event_ts FROM adt_patient_events WHERE patient = ?'),
      setLastEvent: p(
        'INSERT INTO adt_patient_events (patient, event_ts) VALUES (?, ?) ON CONFLICT (patient) DO UPDATE SET event_ts = max(event_ts, excluded.event_ts)',
      ),
      dropLastEvent: p('DELETE FROM adt_patient_events WHERE patient = ?'),
      openOf: p(
        'SELECT id, patient, bed, display_name, source FROM admissions WHERE patient = ? AND discharged_at IS NULL',
      ),
      openAt: p(
        'SELECT id, patient, bed, display_name, source FROM admissions WHERE bed = ? AND discharged_at IS NULL',
      ),
      end: p("UPDATE admissions SET discharged_at = ?, discharged_by = 'adt' WHERE id = ?"),
      move: p("UPDATE admissions SET bed = ?, source = 'adt' WHERE id = ?"),
      adopt: p("UPDATE admissions SET source = 'adt' WHERE id = ?"),
      rename: p('UPDATE admissions SET display_name = ? WHERE id = ?'),
      repoint: p('UPDATE admissions SET patient = ? WHERE id = ?'),
      repointDevices: p('UPDATE devices SET patient = ? WHERE patient = ?'),
      insert: p(
        "INSERT INTO admissions (patient, bed, display_name, admitted_at, admitted_by, source) VALUES (?, ?, ?, ?, 'adt', 'adt')",
      ),
    };
  }

  /** Applies one ADT event from `sender` (its MSH-3/MSH-4) placed as `placement`, exactly once. */
  apply(sender: string, adt: AdtEvent, placement: Placement): AdtOutcome {
    return writeTransaction(this.#db, () => this.#apply(sender, adt, placement))();
  }

  /** Forgets applied messages older than `days` (a resend comes within minutes, not weeks). */
  prune(days: number): number {
    return writeTransaction(this.#db, () => this.#s.forget.run(this.#now() - days * 86_400_000).changes)();
  }

  #apply(sender: string, adt: AdtEvent, placement: Placement): AdtOutcome {
    const now = this.#now();
    const seen = this.#s.seen.get(sender, adt.controlId) as { digest: string } | undefined;
    if (seen) return seen.digest === adt.digest ? { kind: 'duplicate' } : { kind: 'conflict' };
    const known = this.#patientId(adt.patient);
    if (known !== undefined && adt.event !== 'A40') {
      const last = this.#s.lastEvent.get(known) as { event_ts: number } | undefined;
      if (last && adt.eventTs < last.event_ts) {
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
    if (patient !== undefined) this.#s.setLastEvent.run(patient, adt.eventTs);
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
    const patient =
      known ??
      (this.#s.upsertPatient.get(adt.patient.identifier, adt.patient.authority, now, now) as { id: number }).id;
    const mine = this.#openOf(patient);
    if (mine && mine.bed === bed) {
      if (mine.source !== 'adt') {
        this.#s.adopt.run(mine.id);
        this.#record(now, 'adt-adopt', bed, adt, { admission: mine.id });
        act.change(bed);
      }
      this.#rename(mine, adt, act, now);
      return;
    }
    const occupant = this.#openAt(bed);
    if (occupant) {
      // The hospital's record puts someone else in this bed: its word wins, and the ward sees why the name changed.
      this.#s.end.run(now, occupant.id);
      this.#record(now, 'adt-bed-conflict', bed, adt, { admission: occupant.id, admittedBy: occupant.source });
      act.change(bed);
    }
    if (mine) {
      this.#s.move.run(bed, mine.id);
      this.#record(now, 'transfer', bed, adt, { admission: mine.id, from: mine.bed });
      act.change(mine.bed).change(bed);
      this.#rename({ ...mine, bed }, adt, act, now);
      return;
    }
    const { lastInsertRowid } = this.#s.insert.run(patient, bed, adt.displayName ?? null, now);
    this.#record(now, 'admit', bed, adt, { admission: Number(lastInsertRowid) });
    act.change(bed);
  }

  /** The patient no longer holds a bed here: discharged, transfer cancelled or out, admission cancelled. */
  #leave(patient: number, adt: AdtEvent, why: string, act: Effects, now: number): void {
    const mine = this.#openOf(patient);
    if (!mine) return;
    this.#s.end.run(now, mine.id);
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

  #rename(row: OpenRow, adt: AdtEvent, act: Effects, now: number): void {
    if (adt.displayName === undefined || adt.displayName === row.display_name) return;
    this.#s.rename.run(adt.displayName, row.id);
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
      this.#s.renamePatient.run(adt.patient.identifier, adt.patient.authority, now, prior);
      this.#record(now, 'merge', open?.bed ?? null, adt, { patient: prior, ...(open && { admission: open.id }) });
      if (open) act.change(open.bed);
      else act.touch();
      return;
    }
    if (survivor === prior) return;
    const kept = this.#openOf(survivor);
    if (open && kept) {
      this.#s.end.run(now, open.id);
      this.#record(now, 'merge', open.bed, adt, {
        patient: survivor,
        mergedPatient: prior,
        admission: open.id,
        endedFor: kept.id,
      });
      act.change(open.bed);
    } else if (open) {
      this.#s.repoint.run(survivor, open.id);
      this.#record(now, 'merge', open.bed, adt, { patient: survivor, mergedPatient: prior, admission: open.id });
      act.change(open.bed);
    } else {
      this.#record(now, 'merge', null, adt, { patient: survivor, mergedPatient: prior });
      act.touch();
    }
    this.#s.repointDevices.run(survivor, prior);
    const last = this.#s.lastEvent.get(prior) as { event_ts: number } | undefined;
    if (last) this.#s.setLastEvent.run(survivor, last.event_ts);
    this.#s.dropLastEvent.run(prior);
  }

  #patientId(id: PatientId): number | undefined {
    return (this.#s.patient.get(id.authority, id.identifier) as { id: number } | undefined)?.id;
  }

  #openOf(patient: number): OpenRow | undefined {
    return this.#s.openOf.get(patient) as OpenRow | undefined;
  }

  #openAt(bed: string): OpenRow | undefined {
    return this.#s.openAt.get(bed) as OpenRow | undefined;
  }

  #remember(sender: string, adt: AdtEvent, now: number, outcome: string): void {
    this.#s.remember.run(sender, adt.controlId, adt.digest, adt.event, now, outcome);
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
