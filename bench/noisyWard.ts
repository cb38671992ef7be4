// A noisy ward for alarm benchmarks: per bed, continuous SpO2, pulse and
// respiration at 1 Hz with measurement noise, motion artifacts, brief dips,
// values that hover at a limit, and a few real, sustained deteriorations,
// each labelled. Deterministic from its seed.
import { prng } from '../simulators/random.js';

export interface WardSample {
  /** Seconds since the start. */
  readonly t: number;
  readonly bed: string;
  readonly values: Record<string, number>;
  /** Flags per code (1 = artifact, as the validator would mark values outside the plausibility gates). */
  readonly flags: Record<string, number>;
}

export interface LabelledEvent {
  readonly bed: string;
  readonly metric: string;
  readonly start: number;
  readonly end: number;
}

export function noisyWard(options: { beds: number; seconds: number; seed: number }): {
  samples: WardSample[];
  events: LabelledEvent[];
} {
  const random = prng(options.seed);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  const samples: WardSample[] = [];
  const events: LabelledEvent[] = [];
  for (let b = 1; b <= options.beds; b++) {
    const bed = String(b);
    const base = { spo2: 95 + random() * 3, pr: 65 + random() * 25, rr: 13 + random() * 5 };
    // Some patients sit near a limit (SpO2 92-93 on a 91 limit): the hardest case for plain thresholds.
    if (random() < 0.2) base.spo2 = 92.5;
    // One bed in six has a real desaturation: SpO2 falls to 85 for 3-6 minutes.
    const deteriorates = random() < 1 / 6;
    const eventStart = Math.floor(random() * (options.seconds - 600)) + 120;
    const eventEnd = eventStart + 180 + Math.floor(random() * 180);
    if (deteriorates) events.push({ bed, metric: 'spo2', start: eventStart, end: eventEnd });
    let dipUntil = -1;
    let artifactUntil = -1;
    for (let t = 0; t < options.seconds; t++) {
      if (dipUntil < t && random() < 1 / 900) dipUntil = t + 3 + Math.floor(random() * 8); // brief dip, 3-10 s
      if (artifactUntil < t && random() < 1 / 600) artifactUntil = t + 1 + Math.floor(random() * 4); // motion, 1-4 s
      let spo2 = base.spo2 + gauss() * 0.8;
      if (dipUntil >= t) spo2 -= 5;
      if (deteriorates && t >= eventStart && t <= eventEnd) spo2 = 85 + gauss() * 0.8;
      let pr = base.pr + gauss() * 2;
      const flags: Record<string, number> = {};
      if (artifactUntil >= t) {
        // Motion: the oximeter reads nonsense; the plausible-looking part is not flagged.
        spo2 = 60 + random() * 40;
        pr = 30 + random() * 200;
        if (spo2 < 50) flags.spo2 = 1;
      }
      samples.push({
        t,
        bed,
        values: { spo2: Math.round(spo2), pr: Math.round(pr), rr: Math.round(base.rr + gauss()) },
        flags,
      });
    }
  }
  samples.sort((a, b) => a.t - b.t);
  return { samples, events };
}

/** Plain threshold alarms: raised on each crossing of the limit, cleared on return; no delay, hysteresis or gating. */
export function plainThresholdAlarms(
  samples: readonly WardSample[],
  limits: Record<string, { low?: number; high?: number }>,
): Array<{ bed: string; metric: string; t: number }> {
  const on = new Set<string>();
  const raised: Array<{ bed: string; metric: string; t: number }> = [];
  for (const s of samples) {
    for (const [metric, value] of Object.entries(s.values)) {
      const limit = limits[metric === 'pr' ? 'pulse' : metric];
      if (!limit) continue;
      const key = `${s.bed}:${metric}`;
      const breach =
        (limit.low !== undefined && value <= limit.low) || (limit.high !== undefined && value >= limit.high);
      if (breach && !on.has(key)) {
        on.add(key);
        raised.push({ bed: s.bed, metric, t: s.t });
      } else if (!breach) on.delete(key);
    }
  }
  return raised;
}
