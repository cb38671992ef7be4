// Which admission a bed's values and alarms belong to, as the alarm engine
// follows it: the admission in each bed, and with none, whether what the bed
// holds may still be its departed patient's. It decides; the engine forgets,
// leaves alarms and scores (engine.ts).
import type { Alarm } from './types.js';

/** Where a bed's admission is read (Admissions): at the start, when a bed is first seen, and at each change of its patient. */
export interface BedAdmissions {
  /** The bed's admission (Admissions.get): the bed's values are its patient's while it lasts. */
  get(bed: string): { readonly admission: number } | undefined;
  /** Every bed's admission, and when it was admitted (gateway time), read once at the start (Admissions.current). */
  current?(): ReadonlyArray<{ readonly bed: string; readonly admission: number; readonly admittedAt?: number }>;
  /**
   * Per bed a patient ever left (discharged, moved out), with or without an
   * admission now: when the last one did (gateway time). Read once at the
   * start (Admissions.departed).
   */
  departed?(): ReadonlyMap<string, number>;
  /**
   * Per bed with an admission: when it came into the bed, admitted there or
   * moved in by a transfer, which keeps its first admission time (gateway
   * time). Read once at the start (Admissions.arrived); a bed not in it
   * counts from its admission time (current()).
   */
  arrived?(): ReadonlyMap<string, number>;
}

/**
 * Where the start of each bed's new episodes (BedPatients.startsEpisode) is
 * kept across restarts (store/episodeStore.ts): with it, the start tells an
 * alarm of no admission kept at the admission that followed an episode
 * (BedPatients.keepsAtStart).
 */
export interface BedEpisodes {
  /** A new episode began at the bed at `at` (gateway time): kept, off the evaluation of the reading that began it. */
  began(bed: string, at: number): void;
  /** Per bed, when its last new episode began, as kept; read once at the start. */
  last(): ReadonlyMap<string, number>;
}

/**
 * A bed whose patient has left, silent this long from the departure (no
 * observation from any of its devices), starts a new episode at its next
 * reading: what it held before was the departed patient's (still attached
 * after the discharge was registered), what comes now is the next patient's,
 * or nobody's yet. A monitor on a patient sends every few seconds at most,
 * and a device silent for 60 s already raises "device silent"
 * (technical.silentAfterMs): two minutes without a single observation means
 * the bed's devices were taken off. Turning a bed round (stripped, cleaned,
 * made up) takes far longer. A probe moved from one patient to the next
 * within two minutes is not told apart: the values are forgotten at the
 * admission, and continuous ones are back within seconds. Spot devices send
 * minutes apart, so silence tells nothing there: SPOT_METRICS.
 */
export const NEW_EPISODE_GAP_MS = 120_000;

/**
 * Spot measurements (DOMAIN.md section 2: NIBP and thermometers, minutes
 * apart): those recorded while a bed whose patient left has no admission
 * never reach the next admission, new episode or not. On a spot-check ward
 * the next reading after a discharge comes minutes later whoever it is of.
 */
export const SPOT_METRICS: readonly string[] = ['nibp_sys', 'nibp_dia', 'nibp_map', 'temp'];

/** A bed's patient as the engine follows it: the admission in it, and with none, what it holds. */
export interface BedPatient {
  readonly bed: string;
  /** The admission in the bed now, recorded on each physiological alarm it raises (Alarm.admission); null: none. */
  admission: number | null;
  /**
   * With no admission: 'never', the bed has had none (nothing in the
   * database): what it holds is the incoming patient's; 'departed', its last
   * patient left and no new episode began since: what it sends may still be
   * theirs; 'episode', one began since: its continuous values are the
   * incoming patient's.
   */
  vacancy: 'never' | 'departed' | 'episode';
  /** When an observation of the bed was last evaluated, or its patient left (gateway time). */
  heard: number;
  /** A silence this long before a reading starts a new episode: NEW_EPISODE_GAP_MS from a departure to the next episode, else Infinity. */
  gap: number;
  /** When the last new episode began (startsEpisode(), gateway time); -Infinity: none yet. */
  episodeAt: number;
}

/**
 * What a bed forgets when its admission changes: 'everything' (its patient
 * left, or it streamed on since the last one did), 'spot' (its spot values
 * only: a new episode began after the last departure), 'nothing' (it never
 * had a patient: what it has is the incoming one's).
 */
export type Forget = 'everything' | 'spot' | 'nothing';

/** What an open physiological alarm says about its patient, as a change of admission weighs it. */
export type AlarmAbout = Pick<Alarm, 'admission' | 'rule' | 'metric' | 'raisedAt'>;

/** A change of a bed's admission (BedPatients.changed): what the bed forgets, and which of its alarms stay. */
export interface AdmissionChange {
  readonly bed: string;
  readonly forget: Forget;
  /**
   * Whether an open physiological alarm of the bed stays open at the change:
   * one about the new admission, or one of no admission about values the new
   * admission keeps. Such an alarm keeps its admission (none: it was raised
   * before the admission existed), stays its condition's and ends with it.
   * Any other leaves: none is ever given to another patient.
   */
  keeps(alarm: AlarmAbout): boolean;
}

export class BedPatients {
  readonly #admissions: BedAdmissions;
  /**
   * Per bed: its patient (BedPatient), taken from the database at the start, else when the bed is first seen,
   * and changed at each change of its patient, never looked up per reading.
   */
  readonly #patients = new Map<string, BedPatient>();
  /** Per bed a patient left before the start: when the last one did (BedAdmissions.departed). */
  #departedAtStart: ReadonlyMap<string, number> = new Map();
  /** Per bed with an admission at the start: when it came into the bed (BedAdmissions.arrived, else current). */
  readonly #arrivedAtStart = new Map<string, number>();
  /** Per bed: when its last new episode began before the start (BedEpisodes.last). */
  #episodesAtStart: ReadonlyMap<string, number> = new Map();
  readonly #episodes: BedEpisodes | undefined;
  #startedAt: number;
  /** Per bed that forgot a patient: when (readings received before were that patient's). */
  readonly #forgotAt = new Map<string, number>();

  constructor(admissions: BedAdmissions, now: number, episodes?: BedEpisodes) {
    this.#admissions = admissions;
    this.#startedAt = now;
    this.#episodes = episodes;
  }

  /** Each bed's patient as the database has it at `now`; any other bed has had none. */
  start(now: number): void {
    this.#startedAt = now;
    this.#departedAtStart = this.#admissions.departed?.() ?? new Map<string, number>();
    this.#episodesAtStart = this.#episodes?.last() ?? new Map<string, number>();
    for (const bed of this.#departedAtStart.keys()) this.of(bed);
    const arrived = this.#admissions.arrived?.();
    for (const { bed, admittedAt } of this.#admissions.current?.() ?? []) {
      this.of(bed);
      const at = arrived?.get(bed) ?? admittedAt;
      if (at !== undefined) this.#arrivedAtStart.set(bed, at);
    }
  }

  /** The bed's patient as the engine follows it: taken at the start (start()), else as it was then, when the bed is first seen. */
  of(bed: string): BedPatient {
    let patient = this.#patients.get(bed);
    if (!patient) {
      patient = this.#atStart(bed, this.#admissions.get(bed)?.admission ?? null);
      this.#patients.set(bed, patient);
    }
    return patient;
  }

  /** Readings of the bed received before this (gateway time) were a previous patient's: not recorded. */
  since(bed: string): number {
    return this.#forgotAt.get(bed) ?? -Infinity;
  }

  /**
   * The bed's admission is now `admission` (null: none). Undefined when it is
   * the one the bed had: nothing changes. Otherwise what the bed forgets
   * (Forget) and which of its open physiological alarms stay (#keeps). When
   * a patient leaves the bed (discharged, moved out, another admitted over
   * them), a reading received before now is not recorded for anyone after
   * them (since()), and the silence before a new episode counts from now. An
   * admission to a bed with no patient keeps its continuous values only if a
   * new episode began after the last departure (startsEpisode()), its spot
   * values never (SPOT_METRICS); a bed that streamed on since its patient
   * left forgets everything; one that never had a patient keeps what it has.
   */
  changed(bed: string, admission: number | null, now: number): AdmissionChange | undefined {
    // Not followed yet: nothing changed the bed since the start, when it had no admission.
    let patient = this.#patients.get(bed);
    if (!patient) {
      patient = this.#atStart(bed, null);
      this.#patients.set(bed, patient);
    }
    if (admission === patient.admission) return undefined;
    let forget: Forget = 'nothing';
    if (patient.admission !== null || patient.vacancy === 'departed') forget = 'everything';
    else if (patient.vacancy === 'episode') forget = 'spot';
    if (forget !== 'nothing') this.#forgotAt.set(bed, now);
    const { episodeAt } = patient;
    patient.admission = admission;
    if (admission === null) {
      patient.vacancy = 'departed';
      patient.heard = now;
      patient.gap = NEW_EPISODE_GAP_MS;
    } else patient.gap = Infinity;
    return { bed, forget, keeps: (alarm) => BedPatients.#keeps(alarm, admission, forget, episodeAt) };
  }

  /**
   * Whether `alarm` stays at a change of its bed to `admission` that forgets
   * `forget`. One about that admission stays. One of no admission, raised
   * before the bed had one, stays when it is about values the admission
   * keeps: in a bed that never had a patient, every one (the incoming
   * patient's: monitoring often starts before the admission is registered);
   * after a new episode (began at `episodeAt`), one raised since on a
   * continuous metric (not SPOT_METRICS, not NEWS2, which counts them). Any
   * other leaves, among them every alarm of no admission at a departure: one
   * kept at the admission was about the patient who now leaves.
   */
  static #keeps(alarm: AlarmAbout, admission: number | null, forget: Forget, episodeAt: number): boolean {
    const about = alarm.admission ?? null;
    if (about !== null) return about === admission;
    if (forget === 'nothing') return true;
    return forget === 'spot' && alarm.raisedAt >= episodeAt && BedPatients.#continuous(alarm);
  }

  /** On a continuous value: not a spot metric (SPOT_METRICS), nor NEWS2, which counts them. */
  static #continuous(alarm: AlarmAbout): boolean {
    return alarm.rule !== 'news2' && alarm.metric !== null && !SPOT_METRICS.includes(alarm.metric);
  }

  /**
   * Whether an open physiological alarm of `bed` restored from the last run
   * stays at the start (start()), the bed's admission as the database has it
   * now. One about an admission stays in that admission's bed. One of no
   * admission was raised while the bed had none. In a bed with an admission
   * now, it stays if the bed never had a departure: the admission is the
   * bed's first, which keeps what the bed holds, its alarms too (#keeps).
   * After a departure it stays as that admission kept it: a new episode began
   * after the last departure (BedEpisodes.last), the admission came into the
   * bed after the episode (admitted, or moved in: BedAdmissions.arrived), and
   * the alarm, on a continuous value, at or after it; any other leaves (an
   * episode not kept: the start cannot tell). In a bed with no admission
   * now, it leaves if raised before the bed's last departure, or at it (its
   * patient left while the daemon was down), and stays otherwise.
   */
  keepsAtStart(bed: string, alarm: AlarmAbout): boolean {
    const { admission } = this.of(bed);
    const about = alarm.admission ?? null;
    if (about !== null) return about === admission;
    const departedAt = this.#departedAtStart.get(bed);
    if (departedAt === undefined) return true;
    if (admission === null) return alarm.raisedAt > departedAt;
    const episodeAt = this.#episodesAtStart.get(bed) ?? -Infinity;
    const arrivedAt = this.#arrivedAtStart.get(bed) ?? -Infinity;
    return (
      episodeAt > departedAt && arrivedAt >= episodeAt && alarm.raisedAt >= episodeAt && BedPatients.#continuous(alarm)
    );
  }

  /**
   * An observation of the bed is evaluated at `now`: true when it starts a new
   * episode (the bed's patient left, and it was silent for NEW_EPISODE_GAP_MS
   * since). What the bed held then was the departed patient's and goes; this
   * reading and those after it are the next patient's, the continuous ones
   * kept at their admission. The bed's open alarms are still of no admission.
   * Its start is kept across restarts (BedEpisodes.began): the one write an
   * episode costs.
   * One comparison per reading: the gap is Infinity except from a departure
   * to the next episode.
   */
  startsEpisode(patient: BedPatient, now: number): boolean {
    const episode = now - patient.heard >= patient.gap;
    if (episode) {
      patient.vacancy = 'episode';
      patient.gap = Infinity;
      patient.episodeAt = now;
      this.#episodes?.began(patient.bed, now);
    }
    patient.heard = now;
    return episode;
  }

  /**
   * The bed's patient as the start found it: `admission`, or with none, a
   * departure at the start when its last patient left before (BedAdmissions.departed):
   * the silence before a new episode counts from the start.
   */
  #atStart(bed: string, admission: number | null): BedPatient {
    const departed = admission === null && this.#departedAtStart.has(bed);
    return {
      bed,
      admission,
      vacancy: departed ? 'departed' : 'never',
      heard: this.#startedAt,
      gap: departed ? NEW_EPISODE_GAP_MS : Infinity,
      episodeAt: -Infinity,
    };
  }
}
