// The bed view: the patient's NEWS2 with each parameter's points, the bed's
// alarms, current vitals, trend charts over the last hours, the nurse's
// NEWS2 entries (oxygen, SpO2 scale, ACVPU), admission for admins, devices
// and the alarm history. Live parts redraw on every update; the charts
// refresh in the background; the entries and the admission redraw when the
// patient's record changes (saved here or on any other screen).
import { call } from './api.js';
import { historyTable } from './alarms.js';
import { trendChart } from './chart.js';
import { chartReview } from './chartReview.js';
import { h } from './dom.js';
import { age, EXTRA, news2Level, news2Response, NORMAL_RANGE, VITALS, vitalOf } from './format.js';
import { alarmLine, news2Badge, news2Gaps, vitalCell } from './ward.js';

const RANGES = [1, 4, 12, 24];
let current = { bed: null, hours: 4, trends: null, trendsAt: 0, history: [], loading: false, patient: '' };

export function renderBed(view, ctx, bedId, change) {
  const bed = ctx.state.beds.get(bedId);
  if (!bed)
    return view.replaceChildren(
      h('p', { class: 'muted big' }, `No bed ${bedId} on this ward.`),
      h('a', { href: '#/ward' }, 'Back to the ward'),
    );
  const fresh = current.bed !== bedId || !view.querySelector('.bed-view');
  if (fresh)
    current = { bed: bedId, hours: current.hours, trends: null, trendsAt: 0, history: [], loading: false, patient: '' };
  if (!fresh && change.bed && change.bed !== bedId) return;
  const patient = JSON.stringify(bed.patient);
  if (!fresh && (change.bed || change.alarms)) {
    view.querySelector('.bed-live')?.replaceWith(live(bed, ctx));
    view.querySelector('.bed-devices')?.replaceWith(devices(bed, ctx));
    if (patient !== current.patient) {
      current.patient = patient;
      view.querySelector('.bed-columns')?.replaceWith(columns(bed, ctx, view));
    }
    if (Date.now() - current.trendsAt > 30_000) load(view, ctx, true);
    return;
  }
  view.replaceChildren(
    h(
      'div',
      { class: 'bed-view' },
      h('nav', { class: 'crumbs' }, h('a', { href: '#/ward' }, '← Ward')),
      live(bed, ctx),
      h(
        'section',
        { class: 'bed-trends', 'aria-label': 'Trends' },
        h(
          'div',
          { class: 'section-head' },
          h('h2', {}, 'Trends'),
          h(
            'div',
            { class: 'ranges', role: 'group', 'aria-label': 'Period' },
            RANGES.map((r) =>
              h(
                'button',
                {
                  type: 'button',
                  class: 'quiet',
                  'aria-pressed': String(r === current.hours),
                  onclick: () => {
                    current.hours = r;
                    load(view, ctx, false);
                  },
                },
                `${r} h`,
              ),
            ),
          ),
        ),
        h('div', { class: 'charts' }, h('p', { class: 'muted' }, 'Loading trends…')),
      ),
      columns(bed, ctx, view),
      devices(bed, ctx),
      h('section', { class: 'bed-history' }, h('h2', {}, 'Alarm history'), historyTable(current.history)),
    ),
  );
  current.patient = patient;
  load(view, ctx, false);
}

function columns(bed, ctx, view) {
  return h('div', { class: 'bed-columns' }, settings(bed, ctx), chartReview(bed, ctx), admission(bed, ctx, view));
}

function live(bed, ctx) {
  const n = bed.news2;
  const title = `Bed ${bed.bed}`;
  return h(
    'section',
    { class: 'bed-live' },
    h(
      'header',
      { class: 'bed-head' },
      h(
        'h1',
        {},
        title,
        h('span', { class: 'patient' }, bed.patient ? ` · ${bed.patient.label}` : ' · no patient admitted'),
      ),
      news2Badge(n, true),
    ),
    n
      ? h(
          'p',
          { class: `news2-response lvl-${n.level}` },
          `NEWS2 ${n.score} (${news2Level(n.level)}): ${news2Response(n.level)}.`,
          n.missing.length || n.stale.length
            ? h('span', { class: 'gaps' }, ` Incomplete: ${news2Gaps(n).join(', ')}.`)
            : null,
        )
      : null,
    n
      ? h(
          'ul',
          { class: 'news2-parts', 'aria-label': 'NEWS2 points by parameter' },
          Object.entries(n.parts).map(([k, v]) =>
            h('li', { class: `pts-${Math.min(v, 3)}` }, h('span', {}, k), h('strong', {}, String(v))),
          ),
        )
      : null,
    h(
      'div',
      { class: 'bed-alarms' },
      bed.alarms.length
        ? bed.alarms.map((a) => alarmLine(a, ctx))
        : h('p', { class: 'muted' }, 'No open alarms for this bed.'),
    ),
    h(
      'dl',
      { class: 'vitals big' },
      [...VITALS, ...EXTRA.filter((v) => vitalOf(bed.vitals, v.key))].map((v) =>
        vitalCell(v, vitalOf(bed.vitals, v.key), ctx.now()),
      ),
    ),
  );
}

async function load(view, ctx, background) {
  if (current.loading) return;
  current.loading = true;
  const bedId = current.bed;
  try {
    const [trends, history] = await Promise.all([
      call('GET', `/api/beds/${encodeURIComponent(bedId)}/trends?hours=${current.hours}&points=180`, undefined, {
        background,
      }),
      call('GET', `/api/alarms/history?bed=${encodeURIComponent(bedId)}&limit=30`, undefined, { background }),
    ]);
    if (current.bed !== bedId) return;
    Object.assign(current, { trends, trendsAt: Date.now(), history: history.events });
    view.querySelector('.charts')?.replaceWith(charts(trends));
    view.querySelector('.bed-history table, .bed-history p')?.replaceWith(historyTable(history.events));
    for (const b of view.querySelectorAll('.ranges button'))
      b.setAttribute('aria-pressed', String(b.textContent === `${current.hours} h`));
  } catch (err) {
    ctx.announce(`Could not load trends: ${err.message}`);
  } finally {
    current.loading = false;
  }
}

function charts(trends) {
  const from = Date.parse(trends.from);
  const to = Date.parse(trends.to);
  const sr = trends.series;
  const pulse = sr.hr?.length ? sr.hr : (sr.pr ?? []);
  const defs = [
    {
      key: 'spo2',
      label: 'SpO₂',
      unit: '%',
      series: [{ points: sr.spo2 ?? [], cls: 's-spo2' }],
      normal: NORMAL_RANGE.spo2,
    },
    {
      key: 'pulse',
      label: 'Pulse',
      unit: '/min',
      series: [{ points: pulse, cls: 's-pulse' }],
      normal: NORMAL_RANGE.pulse,
    },
    {
      key: 'rr',
      label: 'Respiration',
      unit: '/min',
      series: [{ points: sr.rr ?? [], cls: 's-rr' }],
      normal: NORMAL_RANGE.rr,
    },
    {
      key: 'nibp',
      label: 'NIBP sys / dia',
      unit: 'mmHg',
      series: [
        { points: sr.nibp_sys ?? [], cls: 's-sys' },
        { points: sr.nibp_dia ?? [], cls: 's-dia' },
      ],
      normal: NORMAL_RANGE.nibp_sys,
    },
    {
      key: 'temp',
      label: 'Temperature',
      unit: '°C',
      series: [{ points: sr.temp ?? [], cls: 's-temp' }],
      normal: NORMAL_RANGE.temp,
      digits: 1,
    },
  ];
  return h(
    'div',
    { class: 'charts' },
    defs.map((d) =>
      h(
        'figure',
        { class: 'chart-box', dataset: { chart: d.key } },
        h(
          'figcaption',
          {},
          h('strong', {}, d.label),
          ` ${d.unit}`,
          h('span', { class: 'muted' }, ' · shaded: NEWS2 0 points'),
        ),
        trendChart({ ...d, from, to, bucketMs: trends.bucketMs }),
      ),
    ),
  );
}

function settings(bed, ctx) {
  const p = bed.patient;
  const box = h('section', { class: 'bed-settings' }, h('h2', {}, 'NEWS2 entries'));
  if (!p) return (box.append(h('p', { class: 'muted' }, 'No patient admitted.')), box);
  const editable = ctx.canAck();
  const save = async (body) => {
    try {
      await call('PUT', `/api/beds/${encodeURIComponent(bed.bed)}/settings`, body);
      ctx.announce('Saved.');
    } catch (err) {
      ctx.announce(`Not saved: ${err.message}`);
    }
  };
  const c = p.consciousness;
  box.append(
    h(
      'div',
      { class: 'setting' },
      h('span', { class: 'setting-label' }, 'Oxygen'),
      h(
        'div',
        { class: 'segmented', role: 'group', 'aria-label': 'Air or oxygen' },
        ['Air', 'Oxygen'].map((w, i) =>
          h(
            'button',
            {
              type: 'button',
              'aria-pressed': String(p.onOxygen === (i === 1)),
              disabled: !editable,
              onclick: () => save({ onOxygen: i === 1 }),
            },
            w,
          ),
        ),
      ),
    ),
    h(
      'div',
      { class: 'setting' },
      h('span', { class: 'setting-label' }, 'SpO₂ scale'),
      h(
        'div',
        { class: 'segmented', role: 'group', 'aria-label': 'SpO2 scale' },
        [1, 2].map((n) =>
          h(
            'button',
            {
              type: 'button',
              'aria-pressed': String(p.spo2Scale === n),
              disabled: !editable,
              onclick: () => save({ spo2Scale: n }),
            },
            `Scale ${n}`,
          ),
        ),
      ),
      h('span', { class: 'hint' }, 'Scale 2 only for confirmed hypercapnic respiratory failure.'),
    ),
    h(
      'div',
      { class: 'setting' },
      h('span', { class: 'setting-label' }, 'ACVPU'),
      h(
        'div',
        { class: 'segmented', role: 'group', 'aria-label': 'Consciousness (ACVPU)' },
        [
          ['A', 'Alert'],
          ['C', 'new Confusion'],
          ['V', 'Voice'],
          ['P', 'Pain'],
          ['U', 'Unresponsive'],
        ].map(([v, t]) =>
          h(
            'button',
            {
              type: 'button',
              title: t,
              'aria-pressed': String(c?.value === v),
              disabled: !editable,
              onclick: () => save({ consciousness: v }),
            },
            v,
          ),
        ),
      ),
      h('span', { class: 'hint' }, c ? `recorded ${age(ctx.now() - Date.parse(c.at))} ago` : 'not recorded'),
    ),
  );
  if (!editable) box.append(h('p', { class: 'muted' }, 'Viewing only: entries need a nurse account.'));
  return box;
}

function admission(bed, ctx, view) {
  if (!ctx.isAdmin()) return null;
  const box = h('section', { class: 'bed-admission' }, h('h2', {}, 'Admission'));
  const done = () =>
    call('GET', `/api/beds/${encodeURIComponent(bed.bed)}`).then((b) => {
      ctx.state.beds.set(bed.bed, { ...ctx.state.beds.get(bed.bed), ...b });
      view.replaceChildren();
      ctx.rerender();
    });
  if (bed.patient) {
    const by = bed.patient.source === 'adt' ? " from the hospital's ADT feed, which may also end it" : '';
    box.append(
      h('p', {}, `Admitted ${age(ctx.now() - Date.parse(bed.patient.admittedAt))} ago${by}.`),
      h(
        'button',
        {
          type: 'button',
          class: 'danger',
          onclick: async () => {
            if (!confirm(`Discharge the patient from bed ${bed.bed}?`)) return;
            try {
              await call('POST', `/api/beds/${encodeURIComponent(bed.bed)}/discharge`);
              await done();
            } catch (err) {
              ctx.announce(err.message);
            }
          },
        },
        'Discharge',
      ),
    );
    return box;
  }
  const form = h(
    'form',
    {
      class: 'admit-form',
      onsubmit: async (e) => {
        e.preventDefault();
        const f = e.currentTarget;
        try {
          await call('POST', '/api/admissions', {
            bed: bed.bed,
            identifier: f.identifier.value.trim(),
            ...(f.displayName.value.trim() && { displayName: f.displayName.value.trim() }),
          });
          await done();
        } catch (err) {
          ctx.announce(`Not admitted: ${err.message}`);
        }
      },
    },
    h(
      'label',
      {},
      'Patient identifier (stays on this gateway) ',
      h('input', { name: 'identifier', required: true, maxlength: 128, autocomplete: 'off' }),
    ),
    h(
      'label',
      {},
      'Display name (optional) ',
      h('input', { name: 'displayName', maxlength: 128, autocomplete: 'off' }),
    ),
    h('button', { type: 'submit' }, 'Admit'),
  );
  box.append(form);
  return box;
}

function devices(bed, ctx) {
  return h(
    'section',
    { class: 'bed-devices' },
    h('h2', {}, 'Devices'),
    bed.devices.length
      ? h(
          'table',
          {},
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              ['Device', 'State', 'Battery', 'Sensor', 'Last message'].map((t) => h('th', { scope: 'col' }, t)),
            ),
          ),
          h(
            'tbody',
            {},
            bed.devices.map((d) =>
              h(
                'tr',
                {},
                h('td', {}, d.id),
                h('td', { class: `dev-${d.state}` }, d.state),
                h('td', {}, d.battery === null ? '–' : `${Math.round(d.battery)} %`),
                h('td', {}, d.sensor ?? '–'),
                h('td', {}, d.lastSeen ? `${age(ctx.now() - Date.parse(d.lastSeen))} ago` : 'never'),
              ),
            ),
          ),
        )
      : h('p', { class: 'muted' }, 'No device bound to this bed.'),
  );
}
