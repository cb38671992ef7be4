// Limit alarms. The ward defaults sit at the edges of the NEWS2 chart's
// 3-point bands (RCP 2017; DOMAIN.md section 3): the single-parameter values
// for which the chart asks for an urgent ward review. Every field can be
// overridden for the ward and per bed (config alarms.limits / alarms.beds).
import type { AlarmConfig, LimitOverride } from './config.js';
import type { AlarmPriority } from './types.js';

export interface Limit {
  readonly metric: string;
  readonly low: number | null;
  readonly high: number | null;
  readonly priority: AlarmPriority;
  readonly delayMs: number;
  readonly hysteresis: number;
}

/** Continuous metrics wait out a 15 s condition delay; spot measurements (NIBP, temperature) alarm at once. */
const CONTINUOUS_DELAY = 15_000;

export const defaultLimits: readonly Limit[] = [
  { metric: 'rr', low: 8, high: 25, priority: 'medium', delayMs: CONTINUOUS_DELAY, hysteresis: 2 },
  { metric: 'spo2', low: 91, high: null, priority: 'medium', delayMs: CONTINUOUS_DELAY, hysteresis: 2 },
  { metric: 'pulse', low: 40, high: 131, priority: 'medium', delayMs: CONTINUOUS_DELAY, hysteresis: 5 },
  { metric: 'nibp_sys', low: 90, high: 220, priority: 'medium', delayMs: 0, hysteresis: 5 },
  { metric: 'temp', low: 35.0, high: null, priority: 'medium', delayMs: 0, hysteresis: 0.2 },
];

/** SpO2 on NEWS2 scale 2 (confirmed hypercapnic respiratory failure): <= 83, and >= 97 on oxygen, score 3. */
export function spo2Scale2Limit(base: Limit, onOxygen: boolean): Limit {
  return { ...base, low: 83, high: onOxygen ? 97 : null };
}

function apply(base: Limit, override: LimitOverride | undefined): Limit {
  if (!override) return base;
  return {
    metric: base.metric,
    low: override.low !== undefined ? override.low : base.low,
    high: override.high !== undefined ? override.high : base.high,
    priority: override.priority ?? base.priority,
    delayMs: override.delayMs ?? base.delayMs,
    hysteresis: override.hysteresis ?? base.hysteresis,
  };
}

/** The limits in force for a bed: defaults, then the ward's overrides, then the bed's. */
export function limitsFor(config: AlarmConfig, bed: string | null): Map<string, Limit> {
  const out = new Map<string, Limit>();
  const empty: Limit = {
    metric: '',
    low: null,
    high: null,
    priority: 'medium',
    delayMs: CONTINUOUS_DELAY,
    hysteresis: 0,
  };
  const ward = new Map(Object.entries(config.limits));
  const ofBed = new Map(Object.entries(bedOverrides(config, bed)?.limits ?? {}));
  const metrics = new Set([...defaultLimits.map((l) => l.metric), ...ward.keys(), ...ofBed.keys()]);
  for (const metric of metrics) {
    const base = defaultLimits.find((l) => l.metric === metric) ?? { ...empty, metric };
    const limit = apply(apply(base, ward.get(metric)), ofBed.get(metric));
    if (limit.low !== null || limit.high !== null) out.set(metric, limit);
  }
  return out;
}

/**
 * A bed's own overrides. Bed names come from senders (HL7 PV1-3): a bed named
 * 'constructor' or '__proto__' must find nothing, not Object.prototype's.
 */
export function bedOverrides(config: AlarmConfig, bed: string | null): AlarmConfig['beds'][string] | undefined {
  return bed !== null && Object.hasOwn(config.beds, bed) ? config.beds[bed] : undefined;
}

export type LimitVerdict =
  { state: 'breach'; side: 'low' | 'high'; bound: number } | { state: 'clear' } | { state: 'hold' };

/**
 * Where a value stands against a limit, given whether the condition is already
 * on: a value at or beyond a bound breaches; once on, the condition holds
 * until the value is back inside by the hysteresis margin.
 */
/** Shared answers: every normal reading of every bed gets one. */
const CLEAR: LimitVerdict = Object.freeze({ state: 'clear' });
const HOLD: LimitVerdict = Object.freeze({ state: 'hold' });

export function checkLimit(limit: Limit, value: number, on: boolean): LimitVerdict {
  if (limit.low !== null && value <= limit.low) return { state: 'breach', side: 'low', bound: limit.low };
  if (limit.high !== null && value >= limit.high) return { state: 'breach', side: 'high', bound: limit.high };
  if (!on) return CLEAR;
  const nearLow = limit.low !== null && value <= limit.low + limit.hysteresis;
  const nearHigh = limit.high !== null && value >= limit.high - limit.hysteresis;
  return nearLow || nearHigh ? HOLD : CLEAR;
}
