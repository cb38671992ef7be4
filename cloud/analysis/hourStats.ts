// Hourly statistics per patient and metric, kept as mergeable sums so that
// readings can be added batch by batch in any order: count, sum, sum of
// squares, min, max, a value histogram at the metric's resolution (for
// percentiles), and twelve 5-minute slots (count, sum, min, max) that serve
// the downsampled vitals and the trend and anomaly series.
import { SLOT_MS, SLOTS_PER_HOUR, hourStart } from '../store/paths.js';
import { ReadingFlag } from '../../shared/reading.js';
import { ownValue, setOwn } from '../../shared/record.js';
import type { StoredReading } from '../ingest/segments.js';
import type { Point } from './robust.js';

export interface MetricHour {
  c: number;
  s: number;
  ss: number;
  mn: number;
  mx: number;
  /** Readings left out of the statistics: flagged artifact or unreliable. */
  x: number;
  h: Record<string, number>;
  q: number[];
  qs: number[];
  qmn: Array<number | null>;
  qmx: Array<number | null>;
}

export interface SubjectHour {
  bed: string;
  patient: string | null;
  m: Record<string, MetricHour>;
}

export interface HourDoc {
  ward: string;
  hour: number;
  shard: number;
  p: Record<string, SubjectHour>;
}

/** Histogram resolution per metric: the charted resolution (0.1 for temperature and flows). */
export const binWidth = (code: string) => (code === 'temp' || code === 'o2_flow' ? 0.1 : 1);

export function emptyMetricHour(): MetricHour {
  return {
    c: 0,
    s: 0,
    ss: 0,
    mn: Infinity,
    mx: -Infinity,
    x: 0,
    h: {},
    q: new Array<number>(SLOTS_PER_HOUR).fill(0),
    qs: new Array<number>(SLOTS_PER_HOUR).fill(0),
    qmn: new Array<number | null>(SLOTS_PER_HOUR).fill(null),
    qmx: new Array<number | null>(SLOTS_PER_HOUR).fill(null),
  };
}

/** Adds one reading to its hour document (which must be the reading's hour). */
export function addReading(doc: HourDoc, r: StoredReading): void {
  const subject = ownValue(doc.p, r.subject) ?? setOwn(doc.p, r.subject, { bed: r.bed, patient: r.patient, m: {} });
  subject.bed = r.bed;
  const m = ownValue(subject.m, r.code) ?? setOwn(subject.m, r.code, emptyMetricHour());
  if (r.flags & (ReadingFlag.artifact | ReadingFlag.unreliable)) {
    m.x++;
    return;
  }
  const v = r.value;
  m.c++;
  m.s += v;
  m.ss += v * v;
  m.mn = Math.min(m.mn, v);
  m.mx = Math.max(m.mx, v);
  const bin = String(Math.round(v / binWidth(r.code)));
  setOwn(m.h, bin, (ownValue(m.h, bin) ?? 0) + 1);
  const slot = Math.floor((r.ts - doc.hour) / SLOT_MS);
  m.q[slot]++;
  m.qs[slot] += v;
  m.qmn[slot] = Math.min(m.qmn[slot] ?? Infinity, v);
  m.qmx[slot] = Math.max(m.qmx[slot] ?? -Infinity, v);
}

/** Nearest-rank percentile (p in 0..100) from the histogram, at the histogram's resolution. */
export function percentile(m: MetricHour, code: string, p: number): number | null {
  if (m.c === 0) return null;
  const rank = Math.max(1, Math.ceil((p / 100) * m.c));
  const bins = Object.entries(m.h)
    .map(([k, n]) => [Number(k), n] as const)
    .sort((a, b) => a[0] - b[0]);
  let seen = 0;
  for (const [bin, n] of bins) {
    seen += n;
    if (seen >= rank) return Math.round(bin * binWidth(code) * 10) / 10;
  }
  return null;
}

export interface HourSummary {
  count: number;
  excluded: number;
  mean: number | null;
  sd: number | null;
  min: number | null;
  max: number | null;
  p05: number | null;
  p25: number | null;
  p50: number | null;
  p75: number | null;
  p95: number | null;
}

export function summarize(m: MetricHour, code: string): HourSummary {
  const mean = m.c ? m.s / m.c : null;
  // Sample standard deviation from the running sums (clamped: rounding can make the variance a hair negative).
  const sd = m.c > 1 ? Math.sqrt(Math.max(0, (m.ss - (m.s * m.s) / m.c) / (m.c - 1))) : null;
  const r = (v: number | null) => (v === null ? null : Math.round(v * 100) / 100);
  return {
    count: m.c,
    excluded: m.x,
    mean: r(mean),
    sd: r(sd),
    min: m.c ? m.mn : null,
    max: m.c ? m.mx : null,
    p05: percentile(m, code, 5),
    p25: percentile(m, code, 25),
    p50: percentile(m, code, 50),
    p75: percentile(m, code, 75),
    p95: percentile(m, code, 95),
  };
}

/** The 5-minute means of one subject and metric across hour documents, oldest first. */
export function slotSeries(docs: readonly HourDoc[], subject: string, code: string, from: number, to: number): Point[] {
  const out: Point[] = [];
  for (const doc of [...docs].sort((a, b) => a.hour - b.hour)) {
    const m = ownValue(ownValue(doc.p, subject)?.m, code);
    if (!m) continue;
    for (let i = 0; i < SLOTS_PER_HOUR; i++) {
      const t = doc.hour + i * SLOT_MS;
      if (m.q[i] > 0 && t >= from && t <= to) out.push({ t, v: m.qs[i] / m.q[i] });
    }
  }
  return out;
}

export const newHourDoc = (ward: string, ms: number, shard: number): HourDoc => ({
  ward,
  hour: hourStart(ms),
  shard,
  p: {},
});

/** Firestore cannot store Infinity: an empty min/max is stored as the neutral value of an empty hour. */
export function toStored(doc: HourDoc): HourDoc {
  const p: Record<string, SubjectHour> = {};
  for (const [subject, sh] of Object.entries(doc.p)) {
    const m: Record<string, MetricHour> = {};
    for (const [code, mh] of Object.entries(sh.m))
      setOwn(m, code, { ...mh, mn: mh.c ? mh.mn : 0, mx: mh.c ? mh.mx : 0 });
    setOwn(p, subject, { ...sh, m });
  }
  return { ...doc, p };
}

export function fromStored(doc: HourDoc): HourDoc {
  const p: Record<string, SubjectHour> = {};
  for (const [subject, sh] of Object.entries(doc.p ?? {})) {
    const m: Record<string, MetricHour> = {};
    for (const [code, mh] of Object.entries(sh.m))
      setOwn(m, code, { ...mh, mn: mh.c ? mh.mn : Infinity, mx: mh.c ? mh.mx : -Infinity });
    setOwn(p, subject, { ...sh, m });
  }
  return { ...doc, p };
}
