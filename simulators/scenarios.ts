// Scenarios: what happens to a bed, when. A bed's script is a list of steps
// such as `sepsis@10m/4h+desat@30m/3m` (kind, start, duration), combinable
// freely; each step pushes the patient (offsets) or upsets a device, and says
// which alarm, if any, a good alarm system should raise for it.
import { WardgateError } from '../shared/errors.js';
import { noOffsets, type Offsets } from './patient.js';

export const scenarioKinds = [
  'stable',
  'sepsis',
  'desat',
  'artifact',
  'sensor-off',
  'unplug',
  'battery',
  'malformed',
  'blip',
] as const;
export type ScenarioKind = (typeof scenarioKinds)[number];

export interface ScenarioStep {
  readonly kind: ScenarioKind;
  /** Start, seconds from the beginning of the run. */
  readonly at: number;
  /** Seconds. For sepsis: the time the deterioration takes to reach its plateau (compress it for a demo). */
  readonly duration: number;
}

/** Durations that make each scenario clinically typical when the script gives none. */
const DEFAULTS: Readonly<Record<ScenarioKind, { at: number; duration: number }>> = {
  stable: { at: 0, duration: 0 },
  // Sepsis on a ward develops over hours (NEWS2's rationale, RCP 2017).
  sepsis: { at: 600, duration: 4 * 3600 },
  desat: { at: 300, duration: 180 },
  artifact: { at: 60, duration: 1800 },
  'sensor-off': { at: 240, duration: 120 },
  unplug: { at: 360, duration: 180 },
  battery: { at: 0, duration: 2 * 3600 },
  malformed: { at: 120, duration: 300 },
  blip: { at: 300, duration: 30 },
};

const UNIT_S: ReadonlyMap<string, number> = new Map([
  ['s', 1],
  ['m', 60],
  ['h', 3600],
]);

/** `90`, `90s`, `15m`, `4h`, `1.5h` -> seconds. */
export function parseDuration(text: string, what: string): number {
  const m = /^(\d+(?:\.\d+)?)([smh]?)$/.exec(text.trim());
  if (!m) throw new WardgateError('WG_ERR_USAGE', `expected a duration such as 90s, 15m or 4h, got '${text}'`, what);
  return Math.round(Number(m[1]) * UNIT_S.get(m[2] || 's')!);
}

/** Parses `kind[@start][/duration]` steps joined by `+`. */
export function parseScript(text: string, what = 'scenario'): ScenarioStep[] {
  return text.split('+').map((part) => {
    const m = /^([a-z-]+)(?:@([^/]+))?(?:\/(.+))?$/.exec(part.trim());
    if (!m || !(scenarioKinds as readonly string[]).includes(m[1])) {
      throw new WardgateError(
        'WG_ERR_USAGE',
        `expected kind[@start][/duration] with kind one of ${scenarioKinds.join(', ')}, got '${part}'`,
        what,
      );
    }
    const kind = m[1] as ScenarioKind;
    const at = m[2] === undefined ? DEFAULTS[kind].at : parseDuration(m[2], what);
    const duration = m[3] === undefined ? DEFAULTS[kind].duration : parseDuration(m[3], what);
    if (kind !== 'stable' && duration <= 0)
      throw new WardgateError('WG_ERR_USAGE', `'${part}' needs a duration above 0`, what);
    return { kind, at, duration };
  });
}

export const formatStep = (s: ScenarioStep) => (s.kind === 'stable' ? 'stable' : `${s.kind}@${s.at}s/${s.duration}s`);

const clamp01 = (x: number) => Math.min(1, Math.max(0, x));
/** Smooth start and end of a change (no step a monitor would never show). */
const smooth = (x: number) => {
  const p = clamp01(x);
  return p * p * (3 - 2 * p);
};

/** Sepsis-like plateau: fever to about 39.4 Cel, tachycardia and tachypnoea on top of the fever's own, hypotension, a mild desaturation. */
const SEPSIS = { temp: 2.4, hr: 18, rr: 7, sbp: -45, spo2: -3 } as const;
/** Desaturation: SpO2 falls about 12 points (to 84-87 %) over 30 s, recovers over 60 s. */
const DESAT_DROP = 12;
const DESAT_RAMP_S = 30;
const DESAT_RECOVER_S = 60;

/** The sum of the physiological scenarios' offsets at second t. */
export function offsetsAt(steps: readonly ScenarioStep[], t: number): Offsets {
  const o = noOffsets();
  for (const s of steps) {
    if (t < s.at) continue;
    if (s.kind === 'sepsis') {
      // Not reversed within the run: untreated, the patient stays at the plateau.
      const p = smooth((t - s.at) / s.duration);
      o.temp += SEPSIS.temp * p;
      o.hr += SEPSIS.hr * p;
      o.rr += SEPSIS.rr * p;
      o.sbp += SEPSIS.sbp * p;
      o.spo2 += SEPSIS.spo2 * p;
    } else if (s.kind === 'desat') {
      const end = s.at + s.duration;
      const depth = t <= end ? smooth((t - s.at) / DESAT_RAMP_S) : 1 - smooth((t - end) / DESAT_RECOVER_S);
      o.spo2 -= DESAT_DROP * depth;
    }
  }
  return o;
}

/** Battery charge (percent) of a draining device at second t: 100 % at the start to 5 % at the end, then flat. */
export const BATTERY_FROM = 100;
export const BATTERY_TO = 5;
export function batteryAt(step: ScenarioStep, t: number): number {
  return BATTERY_FROM - (BATTERY_FROM - BATTERY_TO) * clamp01((t - step.at) / step.duration);
}

/** Whether second t falls in the step's window. */
export const within = (s: ScenarioStep, t: number) => t >= s.at && t < s.at + s.duration;
