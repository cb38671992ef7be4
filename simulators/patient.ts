// A simulated patient: a personal baseline, slow physiological drift, and the
// couplings a clinician expects to see (fever raises heart and respiratory
// rate; a falling saturation raises heart rate). Scenarios push the patient
// with offsets; devices then measure the result with their own noise.
import type { Rng } from './random.js';

/** The patient's true state, before any device measures it. */
export interface TrueVitals {
  /** Heart rate, /min. */
  readonly hr: number;
  readonly rr: number;
  readonly spo2: number;
  readonly sbp: number;
  readonly dbp: number;
  /** Core temperature, Cel. */
  readonly temp: number;
}

/** What scenarios add to the patient at one moment (0 for untouched). */
export interface Offsets {
  hr: number;
  rr: number;
  spo2: number;
  sbp: number;
  temp: number;
}

export const noOffsets = (): Offsets => ({ hr: 0, rr: 0, spo2: 0, sbp: 0, temp: 0 });

/**
 * Baselines drawn inside NEWS2's zero bands (RCP 2017) for an adult on a
 * general ward, so a "stable" patient scores 0-2 and only a scenario makes
 * the aggregate climb.
 */
export function drawBaseline(r: Rng): TrueVitals {
  const sbp = r.uniform(114, 145);
  return {
    hr: r.uniform(60, 86),
    rr: r.uniform(12, 18),
    spo2: r.uniform(96, 99),
    sbp,
    dbp: sbp * r.uniform(0.55, 0.65),
    temp: r.uniform(36.4, 37.2),
  };
}

/** Stationary spread and time constant of each vital's slow drift (an Ornstein-Uhlenbeck process). */
const DRIFT = { hr: 3.5, rr: 1, spo2: 0.5, sbp: 5, temp: 0.12 } as const;
const DRIFT_TAU_S = 1200;

/** Liebermeister's rule: about 10 beats/min per degree of fever; breathing about 2.5 breaths/min. */
const HR_PER_DEG = 10;
const RR_PER_DEG = 2.5;
/** Compensatory tachycardia as saturation falls below the patient's own baseline. */
const HR_PER_SAT_POINT = 0.8;

export class Patient {
  readonly baseline: TrueVitals;
  readonly #r: Rng;
  readonly #drift: Record<keyof typeof DRIFT, number> = { hr: 0, rr: 0, spo2: 0, sbp: 0, temp: 0 };

  constructor(baseline: TrueVitals, r: Rng) {
    this.baseline = baseline;
    this.#r = r;
  }

  /** Advances the drift by `dt` seconds and returns the true state under the scenarios' offsets. */
  step(dt: number, o: Offsets): TrueVitals {
    const decay = Math.exp(-dt / DRIFT_TAU_S);
    for (const key of Object.keys(DRIFT) as Array<keyof typeof DRIFT>) {
      this.#drift[key] = this.#drift[key] * decay + DRIFT[key] * Math.sqrt(1 - decay * decay) * this.#r.gauss();
    }
    const b = this.baseline;
    const d = this.#drift;
    const temp = b.temp + d.temp + o.temp;
    const fever = Math.max(0, temp - Math.max(b.temp, 37));
    const spo2 = Math.min(100, b.spo2 + d.spo2 + o.spo2);
    const satDrop = Math.max(0, b.spo2 - spo2);
    const sbp = b.sbp + d.sbp + o.sbp;
    return {
      hr: b.hr + d.hr + o.hr + HR_PER_DEG * fever + HR_PER_SAT_POINT * satDrop,
      rr: Math.max(4, b.rr + d.rr + o.rr + RR_PER_DEG * fever),
      spo2,
      sbp,
      // Diastolic follows systolic, less steeply (pulse pressure narrows as SBP falls).
      dbp: b.dbp + 0.5 * (sbp - b.sbp),
      temp,
    };
  }
}
