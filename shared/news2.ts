// NEWS2 (Royal College of Physicians, 2017): the chart in DOMAIN.md section 3,
// one function per row. Values are first rounded to the chart's resolution
// (whole numbers; temperature to 0.1 Cel) so that a 5-minute mean such as
// 20.4 /min is scored like the 20 a nurse would chart.

export interface News2Inputs {
  rr?: number;
  spo2?: number;
  /** Systolic blood pressure, mm[Hg]. */
  sbp?: number;
  /** Pulse, /min. */
  pulse?: number;
  /** Temperature, Cel. */
  temp?: number;
  /** On supplemental oxygen. Devices do not say: from the nurse, config, or an fio2/o2_flow reading. */
  oxygen?: boolean;
  /** ACVPU: 'A' alert; anything else (new confusion, V, P, U) scores 3. From the nurse, never from devices. */
  consciousness?: 'A' | 'C' | 'V' | 'P' | 'U';
  /** SpO2 scale 2 only for confirmed hypercapnic respiratory failure (a per-patient setting). */
  scale?: 1 | 2;
}

export type News2Level = 'low' | 'low-medium' | 'medium' | 'high';

export interface News2Result {
  /** Aggregate 0-20 over the parameters present (a lower bound when some are missing). */
  readonly score: number;
  readonly level: News2Level;
  /** Some single parameter scored 3. */
  readonly anyThree: boolean;
  readonly parts: Readonly<Partial<Record<keyof News2Inputs, number>>>;
  /** Inputs that were not available: the score may under-state the patient's risk. */
  readonly missing: readonly string[];
}

const whole = Math.round;
const tenth = (v: number) => Math.round(v * 10) / 10;

export function scoreRr(v: number): number {
  const x = whole(v);
  if (x <= 8) return 3;
  if (x <= 11) return 1;
  if (x <= 20) return 0;
  if (x <= 24) return 2;
  return 3;
}

export function scoreSpo2(v: number, scale: 1 | 2 = 1, oxygen = false): number {
  const x = whole(v);
  if (scale === 1) {
    if (x <= 91) return 3;
    if (x <= 93) return 2;
    if (x <= 95) return 1;
    return 0;
  }
  if (x <= 83) return 3;
  if (x <= 85) return 2;
  if (x <= 87) return 1;
  if (x <= 92 || !oxygen) return 0;
  if (x <= 94) return 1;
  if (x <= 96) return 2;
  return 3;
}

export const scoreOxygen = (oxygen: boolean) => (oxygen ? 2 : 0);

export function scoreSbp(v: number): number {
  const x = whole(v);
  if (x <= 90) return 3;
  if (x <= 100) return 2;
  if (x <= 110) return 1;
  if (x <= 219) return 0;
  return 3;
}

export function scorePulse(v: number): number {
  const x = whole(v);
  if (x <= 40) return 3;
  if (x <= 50) return 1;
  if (x <= 90) return 0;
  if (x <= 110) return 1;
  if (x <= 130) return 2;
  return 3;
}

export const scoreConsciousness = (c: NonNullable<News2Inputs['consciousness']>) => (c === 'A' ? 0 : 3);

export function scoreTemp(v: number): number {
  const x = tenth(v);
  if (x <= 35.0) return 3;
  if (x <= 36.0) return 1;
  if (x <= 38.0) return 0;
  if (x <= 39.0) return 1;
  return 2;
}

/** The RCP clinical response band for an aggregate score. */
export function news2Level(score: number, anyThree: boolean): News2Level {
  if (score >= 7) return 'high';
  if (score >= 5) return 'medium';
  if (anyThree) return 'low-medium';
  return 'low';
}

export const levelRank: Readonly<Record<News2Level, number>> = { low: 0, 'low-medium': 1, medium: 2, high: 3 };

export function news2(inputs: News2Inputs): News2Result {
  const scale = inputs.scale ?? 1;
  const parts: Partial<Record<keyof News2Inputs, number>> = {};
  const missing: string[] = [];
  const add = <K extends keyof News2Inputs>(key: K, score: (v: NonNullable<News2Inputs[K]>) => number) => {
    const v = inputs[key];
    if (v === undefined) missing.push(key);
    else parts[key] = score(v);
  };
  add('rr', scoreRr);
  add('spo2', (v) => scoreSpo2(v, scale, inputs.oxygen ?? false));
  add('oxygen', scoreOxygen);
  add('sbp', scoreSbp);
  add('pulse', scorePulse);
  add('consciousness', scoreConsciousness);
  add('temp', scoreTemp);
  const values = Object.values<number>(parts);
  const score = values.reduce((a, b) => a + b, 0);
  const anyThree = values.includes(3);
  return { score, level: news2Level(score, anyThree), anyThree, parts, missing };
}
