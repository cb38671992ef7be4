// The set of outbox numbers already stored for one (gateway, stream), kept as
// sorted, disjoint, non-adjacent closed intervals. Outbox numbers arrive nearly
// contiguous, so the set stays a handful of intervals however many items were
// stored; a gap (a batch quarantined by the edge and replayed later) costs one
// interval, and items filling it are still accepted exactly once.

export interface Intervals {
  readonly lo: readonly number[];
  readonly hi: readonly number[];
}

export const emptyIntervals: Intervals = { lo: [], hi: [] };

/** Beyond this many gaps the oldest are closed (their items would count as stored); see docs/DEPLOY.md. */
export const MAX_INTERVALS = 256;

export function contains(set: Intervals, n: number): boolean {
  let a = 0;
  let b = set.lo.length - 1;
  while (a <= b) {
    const mid = (a + b) >> 1;
    if (n < set.lo[mid]) b = mid - 1;
    else if (n > set.hi[mid]) a = mid + 1;
    else return true;
  }
  return false;
}

/** Adds numbers (any order) and returns the merged set. */
export function addAll(set: Intervals, numbers: readonly number[]): Intervals {
  if (numbers.length === 0) return set;
  const pairs: Array<[number, number]> = set.lo.map((lo, i) => [lo, set.hi[i]]);
  for (const n of numbers) pairs.push([n, n]);
  pairs.sort((x, y) => x[0] - y[0]);
  const merged: Array<[number, number]> = [];
  for (const [lo, hi] of pairs) {
    const last = merged[merged.length - 1];
    if (last && lo <= last[1] + 1) last[1] = Math.max(last[1], hi);
    else merged.push([lo, hi]);
  }
  while (merged.length > MAX_INTERVALS) {
    const [first, second] = merged.splice(0, 2);
    merged.unshift([first[0], second[1]]);
  }
  return { lo: merged.map((p) => p[0]), hi: merged.map((p) => p[1]) };
}
