// Robust statistics used by the analysis: median, MAD and the Theil-Sen slope.
// Robust because bedside numerics carry artifacts (motion, a probe slipping)
// that would drag a mean or a least-squares fit.

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Median absolute deviation from the median (unscaled). */
export function mad(values: readonly number[]): number {
  const m = median(values);
  return median(values.map((v) => Math.abs(v - m)));
}

/** 1 / Phi^-1(3/4): scales a MAD to estimate the standard deviation of normal data. */
export const MAD_TO_SD = 1.4826;

export interface Point {
  /** Time, epoch ms. */
  readonly t: number;
  readonly v: number;
}

/**
 * Theil-Sen estimator (Theil 1950, Sen 1968): the median of the slopes of all
 * pairs of points, here in units per hour. Tolerates up to ~29 % outliers.
 * O(n^2) pairs: the analysis calls it on at most a few dozen 5-minute means.
 */
export function theilSenPerHour(points: readonly Point[]): number {
  const slopes: number[] = [];
  for (let i = 0; i < points.length; i++) {
    for (let j = i + 1; j < points.length; j++) {
      const dt = points[j].t - points[i].t;
      if (dt !== 0) slopes.push(((points[j].v - points[i].v) / dt) * 3_600_000);
    }
  }
  return median(slopes);
}
