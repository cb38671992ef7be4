// Anomaly detection against the patient's own baseline: the modified z-score
// of Iglewicz and Hoaglin (1993), z = (x - median) / (1.4826 MAD), computed on
// 5-minute means against the patient's preceding points in the window, with
// their recommended cut-off |z| > 3.5. Because a very steady patient has a MAD
// near zero, the scale is floored per metric (minScale below), so that a
// change smaller than the floor never counts as an anomaly. The floors are
// wardgate defaults (about one display resolution step of each metric, two
// for heart rate), not published values.
import { ownValue } from '../../shared/record.js';
import { MAD_TO_SD, mad, median, type Point } from './robust.js';

export const Z_THRESHOLD = 3.5;
/** Points of baseline needed before a point is judged: one hour of 5-minute means. */
export const MIN_BASELINE_POINTS = 12;

export const minScale: Readonly<Record<string, number>> = {
  hr: 2,
  pr: 2,
  spo2: 1,
  rr: 1,
  nibp_sys: 4,
  nibp_dia: 3,
  nibp_map: 3,
  temp: 0.1,
  etco2: 1,
};

export interface Anomaly {
  readonly t: number;
  readonly value: number;
  readonly z: number;
  readonly baselineMedian: number;
}

/**
 * Judges every point with index >= `from` against all points before it (up to
 * `baselineSize` of them, most recent). Returns the anomalous ones.
 */
export function detectAnomalies(series: readonly Point[], code: string, from: number, baselineSize = 72): Anomaly[] {
  const floor = ownValue(minScale, code);
  if (floor === undefined) return [];
  const found: Anomaly[] = [];
  for (let i = Math.max(from, MIN_BASELINE_POINTS); i < series.length; i++) {
    const baseline = series.slice(Math.max(0, i - baselineSize), i).map((p) => p.v);
    if (baseline.length < MIN_BASELINE_POINTS) continue;
    const m = median(baseline);
    const scale = Math.max(MAD_TO_SD * mad(baseline), floor);
    const z = (series[i].v - m) / scale;
    if (Math.abs(z) > Z_THRESHOLD)
      found.push({ t: series[i].t, value: series[i].v, z: Math.round(z * 100) / 100, baselineMedian: m });
  }
  return found;
}
