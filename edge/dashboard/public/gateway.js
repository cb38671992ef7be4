// The gateway view, for the ward's engineer: what is buffered, how far the
// cloud is behind, the sync and its drain progress, rejected messages by
// reason, and every device with its last message.
import { h } from './dom.js';
import { age, clockTime } from './format.js';

export function renderGateway(view, ctx) {
  const st = ctx.state.status;
  if (!st) return view.replaceChildren(h('p', { class: 'muted' }, 'Waiting for the gateway status…'));
  const now = ctx.now();
  const sync = st.sync;
  const oldest = st.readings.oldestUnsyncedTs ? Date.parse(st.readings.oldestUnsyncedTs) : null;
  // Drain progress: share of the backlog seen when draining began that has gone since.
  if (sync.state === 'draining' && sync.backlog.readings > 0) {
    if (!ctx.state.drainStart || sync.backlog.readings > ctx.state.drainStart)
      ctx.state.drainStart = sync.backlog.readings;
  } else if (sync.state !== 'draining') ctx.state.drainStart = null;
  const progress = ctx.state.drainStart ? 1 - sync.backlog.readings / ctx.state.drainStart : null;
  view.replaceChildren(
    h('h1', {}, 'Gateway'),
    h(
      'div',
      { class: 'cards' },
      card(
        'Buffered readings',
        st.readings.unsynced.toLocaleString(),
        `${st.readings.total.toLocaleString()} stored in all`,
      ),
      card(
        'Oldest unsynced',
        oldest ? age(now - oldest) : 'none',
        oldest ? `since ${clockTime(oldest)}` : 'the cloud has everything',
      ),
      card(
        'Sync',
        sync.state,
        sync.lastSuccessTs ? `last success ${age(now - Date.parse(sync.lastSuccessTs))} ago` : 'no success yet',
        `sync-${sync.state}`,
      ),
      card(
        'Drain',
        sync.drainRatePerSecond ? `${Math.round(sync.drainRatePerSecond).toLocaleString()}/s` : '–',
        sync.etaSeconds
          ? `about ${age(sync.etaSeconds * 1000)} left`
          : sync.backlog.readings
            ? 'not draining'
            : 'nothing to drain',
      ),
      card('Open alarms', String(st.alarms.active), ''),
      card('Dead letters', st.deadLetters.total.toLocaleString(), 'rejected messages, kept with the reason'),
    ),
    progress !== null
      ? h(
          'div',
          { class: 'drain' },
          h('label', { for: 'drain-progress' }, `Draining the backlog: ${Math.round(progress * 100)} %`),
          h('progress', { id: 'drain-progress', max: 1, value: progress.toFixed(3) }),
        )
      : null,
    sync.pausedReason ? h('p', { class: 'error' }, `Sync paused: ${sync.pausedReason}`) : null,
    h(
      'p',
      { class: 'muted' },
      `Batches in flight ${sync.backlog.batchesInFlight}, quarantined ${sync.backlog.batchesQuarantined}; alarm events to send ${sync.backlog.alarmEvents}, device statuses ${sync.backlog.statuses}.`,
    ),
    h('h2', {}, 'Dead letters by reason'),
    Object.keys(st.deadLetters.byReason).length
      ? h(
          'table',
          { class: 'dead-letters' },
          h(
            'thead',
            {},
            h('tr', {}, h('th', { scope: 'col' }, 'Reason'), h('th', { scope: 'col', class: 'num' }, 'Count')),
          ),
          h(
            'tbody',
            {},
            Object.entries(st.deadLetters.byReason)
              .sort((a, b) => b[1] - a[1])
              .map(([reason, n]) =>
                h('tr', {}, h('td', {}, h('code', {}, reason)), h('td', { class: 'num' }, n.toLocaleString())),
              ),
          ),
        )
      : h('p', { class: 'muted' }, 'None.'),
    h('h2', {}, 'Devices'),
    h(
      'table',
      { class: 'devices-table' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ['Device', 'Bed', 'Source', 'Last message', 'Online', 'Battery', 'Sensor'].map((t) =>
            h('th', { scope: 'col' }, t),
          ),
        ),
      ),
      h(
        'tbody',
        {},
        st.devices.map((d) =>
          h(
            'tr',
            { dataset: { device: d.id } },
            h('td', {}, d.id, d.declared ? null : h('span', { class: 'muted' }, ' (undeclared)')),
            h('td', {}, d.bed ?? '–'),
            h('td', {}, d.source),
            h(
              'td',
              {},
              d.lastSeen
                ? h(
                    'span',
                    { class: 'age', dataset: { ts: Date.parse(d.lastSeen), staleMs: 60_000 } },
                    age(now - Date.parse(d.lastSeen)),
                  )
                : 'never',
            ),
            h('td', {}, d.online === null ? '–' : d.online ? '● yes' : '○ no'),
            h(
              'td',
              { class: d.battery !== null && d.battery <= 20 ? 'low' : '' },
              d.battery === null ? '–' : `${Math.round(d.battery)} %`,
            ),
            h('td', {}, d.sensor ?? '–'),
          ),
        ),
      ),
    ),
  );
}

function card(title, value, note, extra = '') {
  return h(
    'div',
    { class: `card ${extra}` },
    h('div', { class: 'card-title' }, title),
    h('div', { class: 'card-value' }, value),
    h('div', { class: 'card-note' }, note),
  );
}
