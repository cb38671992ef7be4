// The deterioration-risk model: wardgate's own transparent heuristic, NOT a
// published or validated model (see docs/ANALYSIS.md). It starts from the
// published NEWS2 response bands (RCP 2017) and adds one rule of ours: when
// the NEWS2 trajectory rises by at least RISING_POINTS_PER_HOUR, the score
// projected one hour ahead on that trend decides the band if it is worse.
import { levelRank, news2Level, type News2Level } from '../../shared/news2.js';
import { theilSenPerHour, type Point } from './robust.js';

export const RISING_POINTS_PER_HOUR = 1;
export const PROJECTION_HOURS = 1;
/** Trajectory points (5-minute NEWS2 values) needed for a slope: 30 minutes. */
export const MIN_TRAJECTORY_POINTS = 6;

export interface RiskAssessment {
  readonly level: News2Level;
  readonly score: number;
  /** Theil-Sen slope of the NEWS2 trajectory, points per hour; null with too few points. */
  readonly slopePerHour: number | null;
  readonly projected: number | null;
  readonly reasons: readonly string[];
  /** Inputs NEWS2 lacked; the assessment may under-state risk. */
  readonly missing: readonly string[];
}

export function assessRisk(
  current: { score: number; anyThree: boolean; missing: readonly string[] },
  trajectory: readonly Point[],
): RiskAssessment {
  const base = news2Level(current.score, current.anyThree);
  const reasons = [`NEWS2 ${current.score} (${base})`];
  let level = base;
  let slope: number | null = null;
  let projected: number | null = null;
  if (trajectory.length >= MIN_TRAJECTORY_POINTS) {
    slope = Math.round(theilSenPerHour(trajectory) * 100) / 100;
    projected = Math.min(20, Math.max(0, Math.round(current.score + slope * PROJECTION_HOURS)));
    const ahead = news2Level(projected, current.anyThree);
    if (slope >= RISING_POINTS_PER_HOUR && levelRank[ahead] > levelRank[base]) {
      level = ahead;
      reasons.push(`rising ${slope} points/h, projected ${projected} in ${PROJECTION_HOURS} h`);
    }
  }
  if (current.missing.length > 0) reasons.push(`missing ${current.missing.join(', ')}`);
  return { level, score: current.score, slopePerHour: slope, projected, reasons, missing: current.missing };
}
