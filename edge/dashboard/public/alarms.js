// The alarm list: every open alarm, highest priority first, with acknowledge
// for nurses and admins (the gateway records who), and the recent history.
import { call } from './api.js';
import { h } from './dom.js';
import { age, clockTime, priorityOf, priorityRank } from './format.js';

let history = [];
let historyAt = 0;

export function renderAlarms(view, ctx, change) {
  const open = [...ctx.state.alarms].sort(
    (a, b) =>
      Number(a.state === 'acknowledged') - Number(b.state === 'acknowledged') ||
      priorityRank(b.priority) - priorityRank(a.priority) ||
      Date.parse(a.raisedAt) - Date.parse(b.raisedAt),
  );
  const now = ctx.now();
  const rows = open.map((a) =>
    h(
      'tr',
      {
        class: `alarm-row prio-${a.priority} state-${a.state}`,
        dataset: { alarm: a.id, priority: a.priority, state: a.state },
      },
      h(
        'td',
        { class: 'prio-cell' },
        h('span', { class: 'marker', 'aria-hidden': 'true' }, priorityOf(a.priority).marker),
        ` ${priorityOf(a.priority).word}`,
      ),
      h('td', {}, a.bed === null ? 'gateway' : h('a', { href: `#/bed/${encodeURIComponent(a.bed)}` }, `Bed ${a.bed}`)),
      h(
        'td',
        { class: 'alarm-msg' },
        a.message,
        a.escalations ? h('span', { class: 'escalated' }, ` escalated ×${a.escalations}`) : null,
      ),
      h('td', {}, a.kind === 'technical' ? 'technical' : 'patient'),
      h(
        'td',
        {},
        h(
          'span',
          { class: 'age', dataset: { ts: Date.parse(a.raisedAt), staleMs: Infinity } },
          age(now - Date.parse(a.raisedAt)),
        ),
      ),
      h(
        'td',
        { class: 'state-cell' },
        a.state === 'acknowledged'
          ? `✓ acknowledged by ${a.acknowledgedBy}`
          : a.state === 'latched'
            ? 'latched (cause gone)'
            : 'active',
      ),
      h(
        'td',
        {},
        a.state !== 'acknowledged' && ctx.canAck()
          ? h(
              'button',
              {
                type: 'button',
                class: 'ack',
                'aria-label': `Acknowledge: ${a.message}`,
                onclick: (e) => ctx.ack(a.id, e.currentTarget),
              },
              'Acknowledge',
            )
          : null,
      ),
    ),
  );
  const table = open.length
    ? h(
        'table',
        { class: 'alarm-table' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ['Priority', 'Where', 'Alarm', 'Kind', 'For', 'State', ''].map((t) => h('th', { scope: 'col' }, t)),
          ),
        ),
        h('tbody', {}, rows),
      )
    : h('p', { class: 'all-quiet' }, 'No open alarms.');
  if (Date.now() - historyAt > 10_000 || change.alarms) refreshHistory(view, ctx);
  view.replaceChildren(
    h('h1', {}, 'Open alarms'),
    ctx.canAck() ? null : h('p', { class: 'muted' }, 'Viewing only: acknowledging needs a nurse account.'),
    table,
    h('h2', {}, 'Recent alarm events'),
    historyTable(history),
  );
}

async function refreshHistory(view, ctx) {
  historyAt = Date.now();
  try {
    history = (await call('GET', '/api/alarms/history?limit=50', undefined, { background: true })).events;
    const old = view.querySelector('.history');
    if (old) old.replaceWith(historyTable(history));
  } catch (err) {
    ctx.announce(`Could not load the alarm history: ${err.message}`);
  }
}

export function historyTable(events) {
  if (!events.length) return h('p', { class: 'history muted' }, 'No alarm events yet.');
  return h(
    'table',
    { class: 'history' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        ['Time', 'Where', 'Event', 'Priority', 'Alarm', 'By'].map((t) => h('th', { scope: 'col' }, t)),
      ),
    ),
    h(
      'tbody',
      {},
      events.map((e) =>
        h(
          'tr',
          { class: `prio-${e.priority}` },
          h('td', {}, clockTime(Date.parse(e.ts))),
          h('td', {}, e.bed === null ? 'gateway' : `Bed ${e.bed}`),
          h('td', {}, e.phase),
          h(
            'td',
            {},
            h('span', { class: 'marker', 'aria-hidden': 'true' }, priorityOf(e.priority).marker),
            ` ${priorityOf(e.priority).word}`,
          ),
          h('td', {}, e.message),
          h('td', {}, e.by ?? ''),
        ),
      ),
    ),
  );
}
