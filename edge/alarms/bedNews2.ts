// NEWS2 for a bed from the latest valid value of each input within its
// freshness window, and the nurse's entries (consciousness, oxygen, scale).
// It names the inputs that are missing (never measured) or stale (too old):
// an aggregate without them may under-state the patient's risk.
import {
  news2,
  scorePulse,
  scoreRr,
  scoreSbp,
  scoreSpo2,
  scoreTemp,
  type News2Inputs,
  type News2Result,
} from '../../shared/news2.js';
import type { AlarmConfig } from './config.js';
import type { BedVitals } from './vitals.js';

/** What the nurse or the admission recorded for the patient in a bed. */
export interface PatientContext {
  readonly id: string;
  readonly spo2Scale: 1 | 2;
  /** null: the nurse has not recorded air or oxygen; NEWS2 names oxygen missing rather than assume air. */
  readonly onOxygen: boolean | null;
  readonly consciousness: { readonly value: 'A' | 'C' | 'V' | 'P' | 'U'; readonly at: number } | null;
}

export interface News2Snapshot extends News2Result {
  readonly stale: readonly string[];
  /** When it was scored; the engine scores a bed again only when an input would score other points (engine.ts). */
  readonly at: number;
}

/** What NEWS2 is scored from for a bed at `now`, and which device inputs are too old to count. */
export interface News2InputsAt {
  readonly inputs: News2Inputs;
  readonly stale: readonly string[];
}

/**
 * The latest valid value of a device input if it is fresh; a stale one is
 * named in `stale` (as the input, 'sbp' for nibp_sys).
 */
function freshValue(
  vitals: BedVitals,
  metric: string,
  input: string,
  now: number,
  maxAgeMs: number,
  stale: string[],
): number | undefined {
  const point = vitals.valid.get(metric);
  if (point === undefined) return undefined;
  if (now - point.ts <= maxAgeMs) return point.value;
  stale.push(input);
  return undefined;
}

export function bedNews2Inputs(
  vitals: BedVitals,
  patient: PatientContext | undefined,
  config: AlarmConfig['news2'],
  now: number,
): News2InputsAt {
  const { continuousMs, spotMs, consciousnessMs } = config.freshness;
  const stale: string[] = [];
  // Scored for every bed at every reading and every tick: one object of one shape, not one built key by key.
  // An input without a value is undefined, which NEWS2 counts as missing (shared/news2.ts).
  const rr = freshValue(vitals, 'rr', 'rr', now, continuousMs, stale);
  const spo2 = freshValue(vitals, 'spo2', 'spo2', now, continuousMs, stale);
  const pulse = freshValue(vitals, 'pulse', 'pulse', now, continuousMs, stale);
  const sbp = freshValue(vitals, 'nibp_sys', 'sbp', now, spotMs, stale);
  const temp = freshValue(vitals, 'temp', 'temp', now, spotMs, stale);
  // Oxygen: a device that measures delivered oxygen, or the nurse's entry.
  // Unrecorded is missing, never air: on scale 2 air would hide up to 5 points.
  const fio2 = vitals.fresh('fio2', now, continuousMs);
  const flow = vitals.fresh('o2_flow', now, continuousMs);
  const deviceSaysOxygen = (fio2 !== undefined && fio2.value > 21) || (flow !== undefined && flow.value > 0);
  const oxygen = deviceSaysOxygen || patient?.onOxygen;
  const c = patient?.consciousness;
  const consciousness = c && now - c.at <= consciousnessMs ? c.value : undefined;
  if (c && consciousness === undefined) stale.push('consciousness');
  const inputs: News2Inputs = {
    scale: patient?.spo2Scale ?? 1,
    rr,
    spo2,
    pulse,
    sbp,
    temp,
    oxygen: typeof oxygen === 'boolean' ? oxygen : undefined,
    consciousness,
  };
  return { inputs, stale };
}

const samePart = (a: number | undefined, b: number | undefined, score: (v: number) => number) =>
  a === b || (a !== undefined && b !== undefined && score(a) === score(b));

/**
 * Whether two sets of inputs give the same NEWS2 (score, parts, missing and
 * stale inputs): each input scores the same points, or is absent from both. A
 * bed whose values moved within their bands (a pulse from 72 to 73) need not
 * be scored again.
 */
export function sameNews2(a: News2InputsAt, b: News2InputsAt): boolean {
  const x = a.inputs;
  const y = b.inputs;
  if (
    x.scale !== y.scale ||
    x.oxygen !== y.oxygen ||
    x.consciousness !== y.consciousness ||
    a.stale.length !== b.stale.length ||
    !samePart(x.rr, y.rr, scoreRr) ||
    !samePart(x.spo2, y.spo2, (v) => scoreSpo2(v, x.scale ?? 1, x.oxygen ?? false)) ||
    !samePart(x.pulse, y.pulse, scorePulse) ||
    !samePart(x.sbp, y.sbp, scoreSbp) ||
    !samePart(x.temp, y.temp, scoreTemp)
  )
    return false;
  for (let i = 0; i < a.stale.length; i++) if (a.stale[i] !== b.stale[i]) return false;
  return true;
}

export function scoreBedNews2({ inputs, stale }: News2InputsAt, now: number): News2Snapshot {
  const result = news2(inputs);
  return { ...result, missing: result.missing.filter((m) => !stale.includes(m)), stale, at: now };
}

export function bedNews2(
  vitals: BedVitals,
  patient: PatientContext | undefined,
  config: AlarmConfig['news2'],
  now: number,
): News2Snapshot {
  return scoreBedNews2(bedNews2Inputs(vitals, patient, config, now), now);
}
