// What the hospital's ADT feed reads and writes: the messages applied (sender
// + MSH-10 + digest, so a resend changes nothing), the time of the last event
// applied per patient, and the admissions and patient rows the feed changes.
// patients/adtRecorder.ts holds the rules and the write transaction of each
// message; these run inside it. Statements prepared once.
import type { Statement } from 'better-sqlite3';
import { patientUpsert } from './admissionsStore.js';
import type { Db } from './database.js';

/** An open admission as the feed sees it. */
export interface OpenAdmission {
  readonly id: number;
  readonly patient: number;
  readonly bed: string;
  readonly display_name: string | null;
  readonly source: string;
}

/** One message as recorded: by whom, its control id, digest and event, and what came of it. */
export interface AppliedMessage {
  readonly sender: string;
  readonly controlId: string;
  readonly digest: string;
  readonly event: string;
  readonly receivedAt: number;
  readonly outcome: string;
}

export class AdtStore {
  readonly #upsertPatient: (identifier: string, authority: string, at: number) => number;
  readonly #digestOf: Statement<[string, string], string>;
  readonly #remember: Statement<[string, string, string, string, number, string]>;
  readonly #forget: Statement<[number]>;
  readonly #patient: Statement<[string, string], number>;
  readonly #renamePatient: Statement<[string, string, number, number]>;
  readonly #lastEvent: Statement<[number], number>;
  readonly #setLastEvent: Statement<[number, number]>;
  readonly #dropLastEvent: Statement<[number]>;
  readonly #openOf: Statement<[number], OpenAdmission>;
  readonly #openAt: Statement<[string], OpenAdmission>;
  readonly #end: Statement<[number, number]>;
  readonly #move: Statement<[string, number]>;
  readonly #adopt: Statement<[number]>;
  readonly #rename: Statement<[string, number]>;
  readonly #repoint: Statement<[number, number]>;
  readonly #repointDevices: Statement<[number, number]>;
  readonly #insert: Statement<[number, string, string | null, number]>;

  constructor(db: Db) {
    this.#upsertPatient = patientUpsert(db);
    this.#digestOf = db
      .prepare<[string, string], string>('SELECT digest FROM adt_messages WHERE sender = ? AND control_id = ?')
      .pluck();
    this.#remember = db.prepare(
      'INSERT INTO adt_messages (sender, control_id, digest, event, received_at, outcome) VALUES (?, ?, ?, ?, ?, ?)',
    );
    this.#forget = db.prepare('DELETE FROM adt_messages WHERE received_at < ?');
    this.#patient = db
      .prepare<[string, string], number>('SELECT id FROM patients WHERE authority = ? AND identifier = ?')
      .pluck();
    this.#renamePatient = db.prepare('UPDATE patients SET identifier = ?, authority = ?, last_seen = ? WHERE id = ?');
    this.#lastEvent = db.prepare<[number], number>('SELECT event_ts FROM adt_patient_events WHERE patient = ?').pluck();
    this.#setLastEvent = db.prepare(
      'INSERT INTO adt_patient_events (patient, event_ts) VALUES (?, ?) ON CONFLICT (patient) DO UPDATE SET event_ts = max(event_ts, excluded.event_ts)',
    );
    this.#dropLastEvent = db.prepare('DELETE FROM adt_patient_events WHERE patient = ?');
    this.#openOf = db.prepare(
      'SELECT id, patient, bed, display_name, source FROM admissions WHERE patient = ? AND discharged_at IS NULL',
    );
    this.#openAt = db.prepare(
      'SELECT id, patient, bed, display_name, source FROM admissions WHERE bed = ? AND discharged_at IS NULL',
    );
    this.#end = db.prepare("UPDATE admissions SET discharged_at = ?, discharged_by = 'adt' WHERE id = ?");
    this.#move = db.prepare("UPDATE admissions SET bed = ?, source = 'adt' WHERE id = ?");
    this.#adopt = db.prepare("UPDATE admissions SET source = 'adt' WHERE id = ?");
    this.#rename = db.prepare('UPDATE admissions SET display_name = ? WHERE id = ?');
    this.#repoint = db.prepare('UPDATE admissions SET patient = ? WHERE id = ?');
    this.#repointDevices = db.prepare('UPDATE devices SET patient = ? WHERE patient = ?');
    this.#insert = db.prepare(
      "INSERT INTO admissions (patient, bed, display_name, admitted_at, admitted_by, source) VALUES (?, ?, ?, ?, 'adt', 'adt')",
    );
  }

  /** The digest of the message `sender` sent under `controlId`, if one was recorded. */
  digestOf(sender: string, controlId: string): string | undefined {
    return this.#digestOf.get(sender, controlId);
  }

  remember(m: AppliedMessage): void {
    this.#remember.run(m.sender, m.controlId, m.digest, m.event, m.receivedAt, m.outcome);
  }

  /** Forgets the messages received before `ts`; returns how many. */
  forgetBefore(ts: number): number {
    return this.#forget.run(ts).changes;
  }

  /** The patient's row id, if the ward knows the patient. */
  patientId(authority: string, identifier: string): number | undefined {
    return this.#patient.get(authority, identifier);
  }

  upsertPatient(identifier: string, authority: string, at: number): number {
    return this.#upsertPatient(identifier, authority, at);
  }

  /** The patient row takes a new identifier (a merge into an identifier new here). */
  renamePatient(patient: number, identifier: string, authority: string, at: number): void {
    this.#renamePatient.run(identifier, authority, at, patient);
  }

  /** EVN time of the last event applied for the patient. */
  lastEventTs(patient: number): number | undefined {
    return this.#lastEvent.get(patient);
  }

  /** Keeps the later of the stored time and `ts`. */
  setLastEvent(patient: number, ts: number): void {
    this.#setLastEvent.run(patient, ts);
  }

  dropLastEvent(patient: number): void {
    this.#dropLastEvent.run(patient);
  }

  openOf(patient: number): OpenAdmission | undefined {
    return this.#openOf.get(patient);
  }

  openAt(bed: string): OpenAdmission | undefined {
    return this.#openAt.get(bed);
  }

  /** Ends an admission, by the feed. */
  end(admission: number, at: number): void {
    this.#end.run(at, admission);
  }

  /** Moves an admission to `bed`; the feed holds it from then on. */
  move(admission: number, bed: string): void {
    this.#move.run(bed, admission);
  }

  /** The feed takes over a manual admission. */
  adopt(admission: number): void {
    this.#adopt.run(admission);
  }

  rename(admission: number, displayName: string): void {
    this.#rename.run(displayName, admission);
  }

  /** The admission follows the surviving patient of a merge. */
  repoint(admission: number, patient: number): void {
    this.#repoint.run(patient, admission);
  }

  /** The devices bound to patient `from` follow the surviving patient `to`. */
  repointDevices(from: number, to: number): void {
    this.#repointDevices.run(to, from);
  }

  /** An admission by the feed; returns its id. */
  admit(patient: number, bed: string, displayName: string | null, at: number): number {
    return Number(this.#insert.run(patient, bed, displayName, at).lastInsertRowid);
  }
}
