// NEWS2 for a bed from the latest valid value of each input within its
// freshness window, and the nurse's entries (consciousness, oxygen, scale).
// It names the inputs that are missing (never measured) or stale (too old):
// an aggregate without them may under-state the patient's risk.
import { news2, type News2Inputs, type News2Result } from '../../shared/news2.js';
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
  readonly at: number;
}

const deviceInputs: ReadonlyArray<[keyof News2Inputs, string, 'continuousMs' | 'spotMs']> = [
  ['rr', 'rr', 'continuousMs'],
  ['spo2', 'spo2', 'continuousMs'],
  ['pulse', 'pulse', 'continuousMs'],
  ['sbp', 'nibp_sys', 'spotMs'],
  ['temp', 'temp', 'spotMs'],
];

export function bedNews2(
  vitals: BedVitals,
  patient: PatientContext | undefined,
  config: AlarmConfig['news2'],
  now: number,
): News2Snapshot {
  const inputs: News2Inputs = { scale: patient?.spo2Scale ?? 1 };
  const stale: string[] = [];
  for (const [input, metric, window] of deviceInputs) {
    const point = vitals.fresh(metric, now, config.freshness[window]);
    if (point) (inputs as Record<string, number>)[input] = point.value;
    else if (vitals.valid.has(metric)) stale.push(input);
  }
  // Oxygen: a device that measures delivered oxygen, or the nurse's entry.
  // Unrecorded is missing, never air: on scale 2 air would hide up to 5 points.
  const fio2 = vitals.fresh('fio2', now, config.freshness.continuousMs);
  const flow = vitals.fresh('o2_flow', now, config.freshness.continuousMs);
  const deviceSaysOxygen = (fio2 !== undefined && fio2.value > 21) || (flow !== undefined && flow.value > 0);
  const oxygen = deviceSaysOxygen || patient?.onOxygen;
  if (typeof oxygen === 'boolean') inputs.oxygen = oxygen;
  const c = patient?.consciousness;
  if (c && now - c.at <= config.freshness.consciousnessMs) inputs.consciousness = c.value;
  else if (c) stale.push('consciousness');
  const result = news2(inputs);
  return { ...result, missing: result.missing.filter((m) => !stale.includes(m)), stale, at: now };
}
