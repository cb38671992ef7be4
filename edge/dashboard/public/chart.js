// A trend chart as inline SVG: the mean line over a min-max band per bucket,
// NEWS2's normal (0 points) range shaded, gaps left open where no device
// reported, and time and value axes a nurse can read across the room.
import { s } from './dom.js';
import { fmt, shortTime } from './format.js';

const W = 640;
const H = 190;
const PAD = { left: 44, right: 12, top: 12, bottom: 26 };
/** Smallest value span per chart, so that a flat line is not drawn as noise. */
const MIN_SPAN = new Map([
  ['spo2', 10],
  ['pulse', 30],
  ['rr', 12],
  ['nibp', 50],
  ['temp', 2],
  ['etco2', 10],
]);

/**
 * series: [{ key, points: [[t, mean, min, max, n], ...] }]; from/to in ms; bucketMs the bucket width.
 */
export function trendChart({ key, label, unit, series, from, to, bucketMs, normal, digits = 0 }) {
  const all = series.flatMap((x) => x.points);
  const svg = s('svg', {
    viewBox: `0 0 ${W} ${H}`,
    class: `chart chart-${key}`,
    role: 'img',
    'aria-label': `${label} over time`,
  });
  const title = s('title', {}, `${label} (${unit}), ${shortTime(from)} to ${shortTime(to)}`);
  svg.append(title);
  const x0 = PAD.left;
  const x1 = W - PAD.right;
  const y0 = H - PAD.bottom;
  const y1 = PAD.top;
  if (!all.length) {
    svg.append(
      s('text', { x: W / 2, y: H / 2, class: 'chart-empty', 'text-anchor': 'middle' }, 'no readings in this period'),
    );
    return svg;
  }
  let lo = Math.min(...all.map((p) => p[2]));
  let hi = Math.max(...all.map((p) => p[3]));
  const span = Math.max(hi - lo, MIN_SPAN.get(key) ?? 10);
  const mid = (lo + hi) / 2;
  lo = mid - span * 0.6;
  hi = mid + span * 0.6;
  if (key === 'spo2') hi = Math.min(hi, 101);
  const x = (t) => x0 + ((t - from) / (to - from)) * (x1 - x0);
  const y = (v) => y0 - ((v - lo) / (hi - lo)) * (y0 - y1);
  const clampY = (v) => Math.max(y1, Math.min(y0, y(v)));

  if (normal) {
    const top = clampY(normal[1]);
    const bottom = clampY(normal[0]);
    if (bottom > top)
      svg.append(s('rect', { x: x0, y: top, width: x1 - x0, height: bottom - top, class: 'normal-band' }));
  }
  for (const v of niceTicks(lo, hi, 4)) {
    svg.append(
      s('line', { x1: x0, x2: x1, y1: y(v), y2: y(v), class: 'grid' }),
      s('text', { x: x0 - 6, y: y(v) + 4, class: 'tick', 'text-anchor': 'end' }, fmt(v, digits && hi - lo < 5 ? 1 : 0)),
    );
  }
  const step = timeStep(to - from);
  for (let t = Math.ceil(from / step) * step; t <= to; t += step) {
    svg.append(
      s('line', { x1: x(t), x2: x(t), y1: y1, y2: y0, class: 'grid' }),
      s('text', { x: x(t), y: H - 8, class: 'tick', 'text-anchor': 'middle' }, shortTime(t)),
    );
  }
  for (const one of series) {
    for (const run of runs(one.points, bucketMs)) {
      const band = [
        ...run.map((p) => `${x(p[0] + bucketMs / 2).toFixed(1)},${y(p[3]).toFixed(1)}`),
        ...[...run].reverse().map((p) => `${x(p[0] + bucketMs / 2).toFixed(1)},${y(p[2]).toFixed(1)}`),
      ];
      svg.append(s('polygon', { points: band.join(' '), class: `band ${one.cls ?? ''}` }));
      const line = run.map((p) => `${x(p[0] + bucketMs / 2).toFixed(1)},${y(p[1]).toFixed(1)}`).join(' ');
      if (run.length === 1)
        svg.append(
          s('circle', { cx: x(run[0][0] + bucketMs / 2), cy: y(run[0][1]), r: 3, class: `dot ${one.cls ?? ''}` }),
        );
      else svg.append(s('polyline', { points: line, class: `line ${one.cls ?? ''}` }));
    }
  }
  svg.append(
    s('line', { x1: x0, x2: x0, y1, y2: y0, class: 'axis' }),
    s('line', { x1: x0, x2: x1, y1: y0, y2: y0, class: 'axis' }),
  );
  return svg;
}

/** Splits a series where buckets are missing (a device off or silent): a gap is drawn as a gap. */
function runs(points, bucketMs) {
  const out = [];
  let run = [];
  for (const p of points) {
    if (run.length && p[0] - run[run.length - 1][0] > 3 * bucketMs) {
      out.push(run);
      run = [];
    }
    run.push(p);
  }
  if (run.length) out.push(run);
  return out;
}

function niceTicks(lo, hi, count) {
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((st) => st >= raw) ?? raw;
  const ticks = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi; v += step) ticks.push(Math.round(v * 1000) / 1000);
  return ticks;
}

function timeStep(span) {
  const minutes = [5, 10, 15, 30, 60, 120, 180, 240, 360].map((m) => m * 60_000);
  return minutes.find((st) => span / st <= 6) ?? 720 * 60_000;
}
