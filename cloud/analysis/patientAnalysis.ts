// One patient's analysis after a batch: latest vitals, trends (Theil-Sen over
// the last 4 hours of 5-minute means), anomalies in the last hour against the
// patient's own baseline, the NEWS2 trajectory in 5-minute steps, and the risk
// assessment. Pure: hour documents and the previous state in, a new state and
// the alerts to raise out, so it is tested without Firestore.
import { createHash } from 'node:crypto';
import { HOUR_MS, SLOT_MS } from '../store/paths.js';
import { detectAnomalies } from './anomaly.js';
import { slotSeries, type HourDoc } from './hourStats.js';
import { levelRank, news2, type News2Inputs, type News2Level } from '../../shared/news2.js';
import { assessRisk, type RiskAssessment } from './risk.js';
import { theilSenPerHour, type Point } from './robust.js';

export const ANALYZED_CODES = ['hr', 'pr', 'spo2', 'rr', 'nibp_sys', 'nibp_dia', 'nibp_map', 'temp', 'etco2'] as const;
export const WINDOW_MS = 6 * HOUR_MS;
export const TREND_MS = 4 * HOUR_MS;
export const TRAJECTORY_MS = 2 * HOUR_MS;
const MIN_TREND_POINTS = 6;

/**
 * How long a value still counts for NEWS2: continuous numerics 15 minutes,
 * spot measurements (cuff pressure, temperature) 4 hours. wardgate defaults,
 * not from the RCP chart, which assumes a nurse's complete set of observations.
 */
export const staleAfterMs: Readonly<Record<string, number>> = {
  rr: 15 * 60_000, spo2: 15 * 60_000, hr: 15 * 60_000, pr: 15 * 60_000, nibp_sys: 4 * HOUR_MS, temp: 4 * HOUR_MS, fio2: 15 * 60_000, o2_flow: 15 * 60_000,
};

export interface SubjectState {
  bed: string;
  patient: string | null;
  /** Data time of the newest reading analysed, epoch ms. */
  asOf: number;
  last: Record<string, { v: number; t: number }>;
  trends: Record<string, number>;
  news2: { score: number; level: News2Level; anyThree: boolean; missing: string[]; stale: string[] };
  trajectory: Point[];
  risk: RiskAssessment;
  /** Alert keys already raised, with their time, for 6 hours (no alert is raised twice). */
  raised: Record<string, number>;
  /** The NEWS2 level last alerted; re-armed when the patient returns to low. */
  alertedLevel: News2Level;
}

export interface CloudAlert {
  id: string;
  kind: 'anomaly' | 'news2';
  subject: string;
  bed: string;
  patient: string | null;
  /** Data time the alert refers to (the slot start), epoch ms. */
  ts: number;
  level: News2Level;
  message: string;
  code?: string;
  value?: number;
  z?: number;
  score?: number;
}

export const alertId = (ward: string, key: string) => `a${createHash('sha256').update(`${ward}\n${key}`).digest('hex').slice(0, 32)}`;

export function analyzeSubject(
  ward: string, subject: string, docs: readonly HourDoc[], asOf: number, prev: SubjectState | undefined,
  info: { bed: string; patient: string | null },
): { state: SubjectState; alerts: CloudAlert[] } {
  const series = new Map<string, Point[]>();
  for (const code of [...ANALYZED_CODES, 'fio2', 'o2_flow']) series.set(code, slotSeries(docs, subject, code, asOf - WINDOW_MS, asOf));

  const last: SubjectState['last'] = { ...(prev?.last ?? {}) };
  const trends: Record<string, number> = {};
  for (const [code, points] of series) {
    const newest = points[points.length - 1];
    if (newest && (!last[code] || newest.t >= last[code].t)) last[code] = { v: round(newest.v), t: newest.t };
    const recent = points.filter((p) => p.t >= asOf - TREND_MS);
    if (recent.length >= MIN_TREND_POINTS) trends[code] = round(theilSenPerHour(recent));
  }

  const trajectory: Point[] = [];
  const current = news2AtTime(series, asOf);
  for (let t = Math.floor((asOf - TRAJECTORY_MS) / SLOT_MS) * SLOT_MS; t <= asOf; t += SLOT_MS) {
    const at = news2AtTime(series, t + SLOT_MS - 1);
    if (at.present > 0) trajectory.push({ t, v: at.result.score });
  }
  const risk = assessRisk(current.result, trajectory);

  const raised: Record<string, number> = {};
  for (const [key, t] of Object.entries(prev?.raised ?? {})) if (t >= asOf - WINDOW_MS) raised[key] = t;
  const alerts: CloudAlert[] = [];
  const raise = (key: string, alert: Omit<CloudAlert, 'id' | 'subject' | 'bed' | 'patient'>) => {
    if (raised[key] !== undefined) return;
    raised[key] = alert.ts;
    alerts.push({ id: alertId(ward, `${subject}|${key}`), subject, ...info, ...alert });
  };

  // Only whole slots are judged: a slot still filling would be judged on a partial mean.
  const lastWholeSlot = Math.floor(asOf / SLOT_MS) * SLOT_MS - SLOT_MS;
  for (const code of ANALYZED_CODES) {
    const points = (series.get(code) ?? []).filter((p) => p.t <= lastWholeSlot);
    const from = points.findIndex((p) => p.t >= asOf - HOUR_MS);
    if (from < 0) continue;
    for (const a of detectAnomalies(points, code, from)) {
      // One alert per metric and direction per hour: a sustained change is one event, not one alert
      // per 5 minutes (alarm fatigue, DOMAIN.md section 4).
      const direction = a.z > 0 ? 'up' : 'down';
      if (Object.entries(raised).some(([key, t]) => key.startsWith(`anomaly|${code}|${direction}|`) && Math.abs(t - a.t) < HOUR_MS)) continue;
      raise(`anomaly|${code}|${direction}|${a.t}`, {
        kind: 'anomaly', ts: a.t, level: 'low-medium', code, value: round(a.value), z: a.z,
        message: `${code} 5-minute mean ${round(a.value)} is ${Math.abs(a.z)} robust SDs ${a.z > 0 ? 'above' : 'below'} the patient's baseline ${round(a.baselineMedian)}`,
      });
    }
  }

  let alertedLevel = prev?.alertedLevel ?? 'low';
  const level = current.result.level;
  // Re-armed only by a low score on fresh data: a low score because readings are stale or not yet
  // analysed (batches can be analysed out of order) must not make the next high score alert again.
  if (level === 'low' && current.stale.length === 0 && current.present >= 3) alertedLevel = 'low';
  else if (levelRank[level] > levelRank[alertedLevel]) {
    const slot = Math.floor(asOf / SLOT_MS) * SLOT_MS;
    raise(`news2|${level}|${slot}`, {
      kind: 'news2', ts: slot, level, score: current.result.score,
      message: `NEWS2 ${current.result.score} (${level})${current.result.missing.length ? `; missing ${current.result.missing.join(', ')}` : ''}`,
    });
    alertedLevel = level;
  }

  const state: SubjectState = {
    ...info, asOf, last, trends, trajectory, risk, raised, alertedLevel,
    news2: { score: current.result.score, level, anyThree: current.result.anyThree, missing: [...current.result.missing], stale: current.stale },
  };
  return { state, alerts };
}

/** NEWS2 from the newest 5-minute mean at or before `t` of each input, if not stale. */
function news2AtTime(series: ReadonlyMap<string, Point[]>, t: number) {
  const stale: string[] = [];
  let present = 0;
  const latest = (code: string): number | undefined => {
    const points = series.get(code) ?? [];
    for (let i = points.length - 1; i >= 0; i--) {
      if (points[i].t > t) continue;
      if (t - points[i].t > staleAfterMs[code]) {
        stale.push(code);
        return undefined;
      }
      present++;
      return points[i].v;
    }
    return undefined;
  };
  const inputs: News2Inputs = {};
  const set = <K extends keyof News2Inputs>(key: K, v: News2Inputs[K] | undefined) => {
    if (v !== undefined) inputs[key] = v;
  };
  set('rr', latest('rr'));
  set('spo2', latest('spo2'));
  set('sbp', latest('nibp_sys'));
  set('pulse', latest('hr') ?? latest('pr'));
  set('temp', latest('temp'));
  // Oxygen is known only when a device reports it: an FiO2 above room air (21 %) or any O2 flow.
  const fio2 = latest('fio2');
  const flow = latest('o2_flow');
  if (fio2 !== undefined || flow !== undefined) inputs.oxygen = (fio2 ?? 21) > 21 || (flow ?? 0) > 0;
  return { result: news2(inputs), stale, present };
}

const round = (v: number) => Math.round(v * 100) / 100;
