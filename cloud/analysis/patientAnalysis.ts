// One patient's analysis after a batch: latest vitals, trends (Theil-Sen over
// the last 4 hours of 5-minute means), anomalies in every slot the batch
// brought against the patient's own baseline (one alert per sustained
// change), the NEWS2 trajectory in 5-minute steps, and the risk assessment.
// Pure: hour documents and the previous state in, a new state and the alerts
// to raise out, so it is tested without Firestore.
import { createHash } from 'node:crypto';
import { HOUR_MS, SLOT_MS } from '../store/paths.js';
import { detectAnomalies } from './anomaly.js';
import { slotSeries, type HourDoc } from './hourStats.js';
import { levelRank, news2, type News2Inputs, type News2Level } from '../../shared/news2.js';
import { assessRisk, type RiskAssessment } from './risk.js';
import { theilSenPerHour, type Point } from './robust.js';
import { ownValue, setOwn } from '../../shared/record.js';

export const ANALYZED_CODES = ['hr', 'pr', 'spo2', 'rr', 'nibp_sys', 'nibp_dia', 'nibp_map', 'temp', 'etco2'] as const;
export const WINDOW_MS = 6 * HOUR_MS;
export const TREND_MS = 4 * HOUR_MS;
export const TRAJECTORY_MS = 2 * HOUR_MS;
const MIN_TREND_POINTS = 6;
/**
 * Anomalous slots of one metric and direction no further apart than this are
 * one event (one alert): a sustained change, or one interrupted by a slot or
 * two back within the noise, is not re-announced (alarm fatigue, DOMAIN.md
 * section 4). A wardgate default.
 */
export const EPISODE_GAP_MS = 30 * 60_000;

/**
 * How long a value still counts for NEWS2: continuous numerics 15 minutes,
 * spot measurements (cuff pressure, temperature) 4 hours. wardgate defaults,
 * not from the RCP chart, which assumes a nurse's complete set of observations.
 */
export const staleAfterMs: Readonly<Record<string, number>> = {
  rr: 15 * 60_000,
  spo2: 15 * 60_000,
  hr: 15 * 60_000,
  pr: 15 * 60_000,
  nibp_sys: 4 * HOUR_MS,
  temp: 4 * HOUR_MS,
  fio2: 15 * 60_000,
  o2_flow: 15 * 60_000,
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
  /** Anomaly events by `code|direction`: first and last anomalous slot start, for 6 hours. */
  episodes?: Record<string, { start: number; last: number }>;
}

/** The data times a batch brought for one patient: its oldest and newest reading. */
export interface BatchSpan {
  readonly from: number;
  readonly to: number;
}

/**
 * The 5-minute slots to judge for anomalies after a batch: every whole slot
 * the batch's readings fall in, as they happened (a backlog of hours is judged
 * hour by hour, not only at its end), and the slot that was still filling when
 * the patient was last analysed. A slot is whole once newer data exists after
 * it; the newest slot is left for the next batch. Slot starts, inclusive.
 */
export function judgedSlots(asOf: number, span: BatchSpan, prevAsOf: number | undefined): { from: number; to: number } {
  const slot = (t: number) => Math.floor(t / SLOT_MS) * SLOT_MS;
  const to = Math.min(slot(asOf) - SLOT_MS, slot(span.to));
  let from = slot(span.from);
  if (prevAsOf !== undefined && prevAsOf < span.from && span.from - prevAsOf <= HOUR_MS) from = slot(prevAsOf);
  return { from, to };
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

export const alertId = (ward: string, key: string) =>
  `a${createHash('sha256').update(`${ward}\n${key}`).digest('hex').slice(0, 32)}`;

export function analyzeSubject(
  ward: string,
  subject: string,
  docs: readonly HourDoc[],
  asOf: number,
  prev: SubjectState | undefined,
  info: { bed: string; patient: string | null },
  span: BatchSpan = { from: asOf - HOUR_MS, to: asOf },
): { state: SubjectState; alerts: CloudAlert[] } {
  const series = new Map<string, Point[]>();
  for (const code of [...ANALYZED_CODES, 'fio2', 'o2_flow'])
    series.set(code, slotSeries(docs, subject, code, asOf - WINDOW_MS, asOf));

  const last: SubjectState['last'] = { ...(prev?.last ?? {}) };
  const trends: Record<string, number> = {};
  for (const [code, points] of series) {
    const newest = points[points.length - 1];
    const known = ownValue(last, code);
    if (newest && (!known || newest.t >= known.t)) setOwn(last, code, { v: round(newest.v), t: newest.t });
    const recent = points.filter((p) => p.t >= asOf - TREND_MS);
    if (recent.length >= MIN_TREND_POINTS) setOwn(trends, code, round(theilSenPerHour(recent)));
  }

  const trajectory: Point[] = [];
  const current = news2AtTime(series, asOf);
  for (let t = Math.floor((asOf - TRAJECTORY_MS) / SLOT_MS) * SLOT_MS; t <= asOf; t += SLOT_MS) {
    const at = news2AtTime(series, t + SLOT_MS - 1);
    if (at.present > 0) trajectory.push({ t, v: at.result.score });
  }
  const risk = assessRisk(current.result, trajectory);

  const raised: Record<string, number> = {};
  for (const [key, t] of Object.entries(prev?.raised ?? {})) if (t >= asOf - WINDOW_MS) setOwn(raised, key, t);
  const alerts: CloudAlert[] = [];
  const raise = (key: string, alert: Omit<CloudAlert, 'id' | 'subject' | 'bed' | 'patient'>) => {
    if (ownValue(raised, key) !== undefined) return;
    setOwn(raised, key, alert.ts);
    alerts.push({ id: alertId(ward, `${subject}|${key}`), subject, ...info, ...alert });
  };

  const episodes = liveEpisodes(prev, asOf);
  const judged = judgedSlots(asOf, span, prev?.asOf);
  for (const code of judged.to >= judged.from ? ANALYZED_CODES : []) {
    // Each judged slot against the 6 hours before it, so the first hours of a backlog have their own baseline.
    const points = slotSeries(docs, subject, code, judged.from - WINDOW_MS, judged.to);
    const from = points.findIndex((p) => p.t >= judged.from);
    if (from < 0) continue;
    for (const a of detectAnomalies(points, code, from)) {
      const key = `${code}|${a.z > 0 ? 'up' : 'down'}`;
      const episode = ownValue(episodes, key);
      if (episode && a.t >= episode.start - EPISODE_GAP_MS && a.t <= episode.last + EPISODE_GAP_MS) {
        // The same sustained change: one event, already alerted.
        setOwn(episodes, key, { start: Math.min(episode.start, a.t), last: Math.max(episode.last, a.t) });
        continue;
      }
      setOwn(episodes, key, { start: a.t, last: a.t });
      raise(`anomaly|${key}|${a.t}`, {
        kind: 'anomaly',
        ts: a.t,
        level: 'low-medium',
        code,
        value: round(a.value),
        z: a.z,
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
      kind: 'news2',
      ts: slot,
      level,
      score: current.result.score,
      message: `NEWS2 ${current.result.score} (${level})${current.result.missing.length ? `; missing ${current.result.missing.join(', ')}` : ''}`,
    });
    alertedLevel = level;
  }

  const state: SubjectState = {
    ...info,
    asOf,
    last,
    trends,
    trajectory,
    risk,
    raised,
    alertedLevel,
    episodes,
    news2: {
      score: current.result.score,
      level,
      anyThree: current.result.anyThree,
      missing: [...current.result.missing],
      stale: current.stale,
    },
  };
  return { state, alerts };
}

/**
 * The anomaly events still open or recent (6 hours), including those of a state
 * written before events were kept: each anomaly alert it raised starts one.
 */
function liveEpisodes(prev: SubjectState | undefined, asOf: number): Record<string, { start: number; last: number }> {
  const out: Record<string, { start: number; last: number }> = {};
  for (const [key, t] of Object.entries(prev?.raised ?? {})) {
    const [kind, code, direction] = key.split('|');
    const k = `${code}|${direction}`;
    const seen = ownValue(out, k);
    if (kind === 'anomaly' && !ownValue(prev?.episodes, k))
      setOwn(out, k, { start: Math.min(seen?.start ?? t, t), last: Math.max(seen?.last ?? t, t) });
  }
  for (const [k, e] of Object.entries(prev?.episodes ?? {})) setOwn(out, k, e);
  return Object.fromEntries(Object.entries(out).filter(([, e]) => e.last >= asOf - WINDOW_MS));
}

/** NEWS2 from the newest 5-minute mean at or before `t` of each input, if not stale. */
function news2AtTime(series: ReadonlyMap<string, Point[]>, t: number) {
  const stale: string[] = [];
  let present = 0;
  const latest = (code: string): number | undefined => {
    const points = series.get(code) ?? [];
    for (let i = points.length - 1; i >= 0; i--) {
      if (points[i].t > t) continue;
      if (t - points[i].t > (ownValue(staleAfterMs, code) ?? Infinity)) {
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
