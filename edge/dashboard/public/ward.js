// The ward view: one tile per bed, in the ward's own order (positions never
// move, so a nurse finds bed 7 where it was). A tile shows who, the latest
// vitals with their age, NEWS2 with its band, the bed's alarms by priority and
// its devices. Only the tile of a bed that changed is redrawn.
import { h } from './dom.js';
import {
  age,
  deviceStateText,
  EXTRA,
  flagText,
  fmt,
  news2Level,
  priorityOf,
  priorityRank,
  STALE_MS,
  topAlarm,
  VITALS,
  vitalOf,
} from './format.js';

export function renderWard(view, ctx, change) {
  let grid = view.querySelector('.ward-grid');
  if (!grid || (!change.bed && !change.alarms)) {
    grid = h('div', { class: 'ward-grid', role: 'list', 'aria-label': 'Beds' });
    const beds = [...ctx.state.beds.values()];
    grid.append(...beds.map((b) => tile(b, ctx)));
    const ward = ctx.state.alarms.filter((a) => a.bed === null);
    view.replaceChildren(
      wardAlarms(ward, ctx),
      beds.length
        ? grid
        : h('p', { class: 'muted big' }, 'No beds yet: bind devices to beds in the gateway configuration.'),
    );
    return;
  }
  if (change.bed) {
    const bed = ctx.state.beds.get(change.bed);
    const old = grid.querySelector(`[data-bed="${CSS.escape(change.bed)}"]`);
    if (bed && old) old.replaceWith(tile(bed, ctx));
    else if (bed) renderWard(view, ctx, {});
  }
  if (change.alarms)
    view.querySelector('.ward-alarms')?.replaceWith(
      wardAlarms(
        ctx.state.alarms.filter((a) => a.bed === null),
        ctx,
      ),
    );
}

/** Alarms of the gateway itself (cloud unreachable, buffer filling): above the tiles, for the engineer. */
function wardAlarms(alarms, ctx) {
  return h(
    'div',
    { class: 'ward-alarms' },
    alarms.map((a) => alarmLine(a, ctx)),
  );
}

export function tile(bed, ctx) {
  const top = topAlarm(bed.alarms);
  const prio = top ? `prio-${top.priority}${top.state === 'acknowledged' ? ' acked' : ''}` : '';
  const who = bed.patient ? bed.patient.label : 'No patient admitted';
  const el = h(
    'article',
    {
      class: `tile ${prio}`,
      role: 'listitem',
      dataset: { bed: bed.bed },
      'aria-label': `Bed ${bed.bed}: ${who}${top ? `, ${top.priority} priority alarm` : ''}`,
    },
    h(
      'header',
      { class: 'tile-head' },
      h(
        'a',
        { class: 'bed-no', href: `#/bed/${encodeURIComponent(bed.bed)}`, title: 'Open the bed view' },
        h('span', { class: 'bed-word' }, 'Bed '),
        bed.bed,
      ),
      h(
        'span',
        { class: `patient${bed.patient ? '' : ' muted'}` },
        who,
        bed.patient?.source === 'adt'
          ? h('span', { class: 'src-tag', title: "admitted by the hospital's ADT feed" }, 'ADT')
          : null,
        bed.patient?.onOxygen ? h('span', { class: 'o2-tag', title: 'on oxygen' }, 'O₂') : null,
      ),
      news2Badge(bed.news2),
    ),
    h(
      'div',
      { class: 'tile-alarms' },
      [...bed.alarms]
        .sort(byPriority)
        .slice(0, 3)
        .map((a) => alarmLine(a, ctx, true)),
      bed.alarms.length > 3 ? h('div', { class: 'more' }, `+${bed.alarms.length - 3} more`) : null,
    ),
    vitalsGrid(bed, ctx.now()),
    h(
      'footer',
      { class: 'devices' },
      bed.devices.length ? bed.devices.map(deviceChip) : h('span', { class: 'muted' }, 'no device'),
    ),
  );
  return el;
}

const byPriority = (a, b) =>
  priorityRank(b.priority) - priorityRank(a.priority) || Date.parse(b.raisedAt) - Date.parse(a.raisedAt);

/** What a NEWS2 score lacks, in words. An unrecorded oxygen status is said as such: "no oxygen" would read as "on air". */
export function news2Gaps(news2) {
  return [
    ...news2.missing.map((m) => (m === 'oxygen' ? 'air or oxygen not recorded' : `no ${m}`)),
    ...news2.stale.map((m) => `${m} stale`),
  ];
}

export function news2Badge(news2, large = false) {
  if (!news2)
    return h(
      'span',
      { class: `news2 none${large ? ' large' : ''}`, title: 'NEWS2: no inputs yet' },
      h('span', { class: 'n2-label' }, 'NEWS2'),
      h('span', { class: 'n2-score' }, '–'),
    );
  const gaps = news2Gaps(news2);
  return h(
    'span',
    {
      class: `news2 lvl-${news2.level}${large ? ' large' : ''}`,
      title: `NEWS2 ${news2.score}: ${news2Level(news2.level)}${gaps.length ? ` (incomplete: ${gaps.join(', ')})` : ''}`,
    },
    h('span', { class: 'n2-label' }, 'NEWS2'),
    h('span', { class: 'n2-score' }, String(news2.score)),
    h('span', { class: 'n2-level' }, news2Level(news2.level)),
    gaps.length ? h('span', { class: 'n2-gap', 'aria-label': 'incomplete' }, '?') : null,
  );
}

export function alarmLine(a, ctx, compact = false) {
  const p = priorityOf(a.priority);
  const acked = a.state === 'acknowledged';
  return h(
    'div',
    {
      class: `alarm prio-${a.priority} state-${a.state}`,
      dataset: { alarm: a.id, priority: a.priority, state: a.state },
    },
    h('span', { class: 'marker', 'aria-hidden': 'true' }, p.marker),
    h('span', { class: 'prio-word' }, p.word),
    h('span', { class: 'alarm-msg' }, a.message),
    acked
      ? h('span', { class: 'ack-by' }, `✓ ack ${a.acknowledgedBy ?? ''}`)
      : a.state === 'latched'
        ? h('span', { class: 'latched' }, 'latched')
        : null,
    !acked && ctx.canAck()
      ? h(
          'button',
          {
            type: 'button',
            class: compact ? 'ack small' : 'ack',
            'aria-label': `Acknowledge: ${a.message}`,
            onclick: (e) => ctx.ack(a.id, e.currentTarget),
          },
          'Ack',
        )
      : null,
  );
}

function vitalsGrid(bed, now) {
  const extra = EXTRA.filter((v) => vitalOf(bed.vitals, v.key));
  return h(
    'dl',
    { class: 'vitals' },
    [...VITALS, ...extra].map((v) => vitalCell(v, vitalOf(bed.vitals, v.key), now)),
  );
}

export function vitalCell(v, point, now) {
  const staleMs = v.continuous ? STALE_MS.continuous : STALE_MS.spot;
  const ts = point ? Date.parse(point.ts) : NaN;
  const flag = point ? flagText(point.flags) : '';
  const stale = point && now - ts > staleMs;
  return h(
    'div',
    { class: `vital v-${v.key}${stale ? ' stale' : ''}${flag ? ' flagged' : ''}`, dataset: { vital: v.key } },
    h('dt', {}, v.label),
    h(
      'dd',
      {},
      h(
        'span',
        { class: 'value', ...(point && { 'data-vital-ts': ts }) },
        point ? (point.text ?? fmt(point.value, v.digits)) : '–',
      ),
      h('span', { class: 'unit' }, v.unit),
      point
        ? h('span', { class: 'age', dataset: { ts, staleMs } }, stale ? `stale ${age(now - ts)}` : age(now - ts))
        : null,
      flag ? h('span', { class: 'flag' }, flag) : null,
    ),
  );
}

function deviceChip(d) {
  const low = d.battery !== null && d.battery <= 20;
  return h(
    'span',
    {
      class: `device dev-${d.state}`,
      title: `${d.id}: ${deviceStateText(d)}${d.battery !== null ? `, battery ${Math.round(d.battery)} %` : ''}`,
    },
    h('span', { class: 'dev-shape', 'aria-hidden': 'true' }),
    h('span', { class: 'dev-id' }, d.id),
    h('span', { class: 'dev-state' }, deviceStateText(d)),
    d.battery !== null
      ? h('span', { class: `battery${low ? ' low' : ''}` }, `${low ? 'battery low ' : ''}${Math.round(d.battery)} %`)
      : null,
  );
}

/** Once a second: ages move on and values go stale without a message from the server. */
export function updateAges(root, now) {
  for (const el of root.querySelectorAll('.age[data-ts]')) {
    const ms = now - Number(el.dataset.ts);
    const stale = ms > Number(el.dataset.staleMs);
    el.textContent = stale ? `stale ${age(ms)}` : age(ms);
    el.closest('.vital')?.classList.toggle('stale', stale);
  }
}
