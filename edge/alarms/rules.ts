// Physiological rules evaluated for a bed after each committed reading: limits,
// rate of change and NEWS2. Each returns, per condition key, a verdict: breach
// (with what to say), clear, or hold (inside the hysteresis band).
import { metric as metricInfo } from '../../shared/codes.js';
import type { AlarmConfig } from './config.js';
import type { News2Snapshot } from './bedNews2.js';
import { checkLimit, spo2Scale2Limit, type Limit } from './limits.js';
import type { AlarmPriority, ConditionReport } from './types.js';
import { BUCKET_MS, type BedVitals, type HistoryBucket } from './vitals.js';

export type Verdict =
  | { state: 'breach'; report: ConditionReport; delayMs: number }
  | { state: 'clear'; key: string }
  | { state: 'hold'; key: string };

const unitOf = (metric: string) => (metric === 'pulse' ? '/min' : metricInfo(metric).unit);
const labelOf = (metric: string) => (metric === 'pulse' ? 'Pulse' : metricInfo(metric).label);
const fmt = (v: number) => String(Math.round(v * 10) / 10);

export interface Location {
  readonly bed: string | null;
  readonly deviceId: string;
  /** Condition keys are scoped by bed, or by device when the device is bound to no bed. */
  readonly scope: string;
}

/** `key`: the condition's key, `{scope}:limit:{metric}` (built once per scope by the engine). */
export function limitVerdict(
  at: Location,
  key: string,
  metric: string,
  base: Limit,
  vitals: BedVitals,
  on: boolean,
  patient: { spo2Scale: 1 | 2; onOxygen: boolean | null } | undefined,
  bedOverridesSpo2: boolean,
): Verdict | undefined {
  const point = vitals.valid.get(metric);
  if (!point) return undefined;
  // NEWS2 scale 2 moves the SpO2 bands, unless the bed has its own SpO2 limits.
  const limit =
    metric === 'spo2' && patient?.spo2Scale === 2 && !bedOverridesSpo2
      ? spo2Scale2Limit(base, patient.onOxygen === true)
      : base;
  const verdict = checkLimit(limit, point.value, on);
  if (verdict.state !== 'breach') return { state: verdict.state, key };
  const word = verdict.side === 'low' ? 'low' : 'high';
  return {
    state: 'breach',
    delayMs: limit.delayMs,
    report: {
      key,
      bed: at.bed,
      deviceId: point.deviceId,
      kind: 'physiological',
      rule: 'limit',
      metric,
      priority: limit.priority,
      message: `${labelOf(metric)} ${word}: ${fmt(point.value)} ${unitOf(metric)} (limit ${verdict.side === 'low' ? '<=' : '>='} ${fmt(verdict.bound)})`,
      value: point.value,
      limit: { side: verdict.side, value: verdict.bound },
    },
  };
}

/** Values from the last minute count as "now"; the window before it is the baseline. */
const RECENT_MS = 60_000;

/** The `q` quantile of values sorted ascending: the value at floor(q * n). */
const quantileOf = (sorted: Float64Array, q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];

/**
 * A bucket's median, kept on the bucket: a bucket only ever gains values (and
 * only the newest one does), so a median is computed again only when its count
 * changed, not for each of a window's 60 buckets at every check.
 */
function medianOf(bucket: HistoryBucket): number {
  if (bucket.medianOf !== bucket.values.length) {
    bucket.median = quantileOf(Float64Array.from(bucket.values).sort(), 0.5);
    bucket.medianOf = bucket.values.length;
  }
  return bucket.median;
}

/**
 * Rate of change, robust to artifacts: the median of the last minute against a
 * low (rising) or high (falling) percentile of the rest of the window, each
 * taken over 10-second bucket medians, so that one motion spike, up or down,
 * neither starts nor anchors a trend.
 */
export function rateVerdict(
  at: Location,
  key: string,
  rule: AlarmConfig['rateOfChange'][number],
  vitals: BedVitals,
  now: number,
  on: boolean,
): Verdict | undefined {
  const buckets = vitals.history(rule.metric, now, rule.windowMs);
  // The last minute's buckets ("recent") and the rest of the window ("before"), each in history order.
  const isRecent = (b: HistoryBucket) => b.start + BUCKET_MS > now - RECENT_MS;
  let recent = 0;
  let recentValues = 0;
  let firstBefore: HistoryBucket | undefined;
  for (const b of buckets)
    if (isRecent(b)) {
      recent++;
      recentValues += b.values.length;
    } else firstBefore ??= b;
  const before = buckets.length - recent;
  if (recent < 2 || before < 2) return undefined;
  const rising = rule.change > 0;
  const lastMinute = new Float64Array(recentValues);
  const medians = new Float64Array(before);
  for (let i = 0, v = 0, m = 0; i < buckets.length; i++) {
    const b = buckets[i];
    if (isRecent(b)) {
      lastMinute.set(b.values, v);
      v += b.values.length;
    } else medians[m++] = medianOf(b);
  }
  const to = quantileOf(lastMinute.sort(), 0.5);
  const from = quantileOf(medians.sort(), rising ? 0.1 : 0.9);
  const change = to - from;
  const reached = rising ? change >= rule.change : change <= rule.change;
  if (!reached) {
    // Hysteresis: once on, it takes the change falling below half the threshold to clear.
    const stillHalf = rising ? change >= rule.change / 2 : change <= rule.change / 2;
    return { state: on && stillHalf ? 'hold' : 'clear', key };
  }
  const last = vitals.valid.get(rule.metric)!;
  const minutes = Math.max(1, Math.round((now - firstBefore!.start) / 60_000));
  return {
    state: 'breach',
    delayMs: rule.delayMs,
    report: {
      key,
      bed: at.bed,
      deviceId: last.deviceId,
      kind: 'physiological',
      rule: 'rate',
      metric: rule.metric,
      priority: rule.priority,
      message: `${labelOf(rule.metric)} ${rising ? 'rose' : 'fell'} ${fmt(Math.abs(change))} ${unitOf(rule.metric)} within ${minutes} min (now ${fmt(to)})`,
      value: to,
    },
  };
}

/** NEWS2 aggregate alarms (RCP 2017 clinical response): >= 7 emergency (high), 5-6 urgent (medium). */
export function news2Verdict(bed: string, snapshot: News2Snapshot, config: AlarmConfig['news2'], on: boolean): Verdict {
  const key = `${bed}:news2`;
  const { score } = snapshot;
  if (score < config.mediumAt) {
    // Hysteresis: a score one below the threshold keeps an alarm that is on.
    return { state: on && score >= config.mediumAt - 1 ? 'hold' : 'clear', key };
  }
  const priority: AlarmPriority = score >= config.highAt ? 'high' : 'medium';
  const gaps = [...snapshot.missing.map((m) => `${m} missing`), ...snapshot.stale.map((m) => `${m} stale`)];
  return {
    state: 'breach',
    delayMs: config.delayMs,
    report: {
      key,
      bed,
      deviceId: null,
      kind: 'physiological',
      rule: 'news2',
      metric: 'news2',
      priority,
      message: `NEWS2 ${score}${priority === 'high' ? ': emergency response' : ': urgent response'}${gaps.length ? ` (${gaps.join(', ')})` : ''}`,
      value: score,
    },
  };
}
