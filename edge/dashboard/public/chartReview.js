// "Review & send to chart" on the bed view (shown when the ward sends vitals
// to the EHR): a nurse loads the bed's current values, confirms each, types
// a corrected value, or enters one the devices did not measure, and sends
// them. The gateway decides what is a confirmation or a correction (by the
// stored reading each row names) and audits it; this panel only shows it. A
// reading already in the chart, or a value entered before where no device
// measured, says so and is not ticked again; a new value for it goes as a
// correction of the charted result.
import { call } from './api.js';
import { h } from './dom.js';
import { age, unitText } from './format.js';

export function chartReview(bed, ctx) {
  // The session says whether this ward sends vitals to the EHR (config ehr): without it, no panel.
  if (!ctx.state.session?.ehr) return null;
  const box = h(
    'section',
    { class: 'bed-chart', 'aria-label': 'Review and send to chart' },
    h('h2', {}, 'Review & send to chart'),
  );
  if (!bed.patient) return (box.append(h('p', { class: 'muted' }, 'No patient admitted.')), box);
  if (!ctx.canAck()) return (box.append(h('p', { class: 'muted' }, 'Charting vitals needs a nurse account.')), box);
  const body = h('div', { class: 'chart-body' });
  const start = h('button', { type: 'button', onclick: () => review(bed, ctx, body) }, 'Review current vitals');
  body.append(start);
  box.append(body);
  return box;
}

async function review(bed, ctx, body) {
  let data;
  try {
    data = await call('GET', `/api/beds/${encodeURIComponent(bed.bed)}/chart`);
  } catch (err) {
    ctx.announce(`Could not load the vitals to review: ${err.message}`);
    return;
  }
  const rows = data.vitals.map((v) => row(v, ctx));
  const form = h(
    'form',
    { class: 'chart-form', onsubmit: (e) => send(e, bed, ctx, body, rows) },
    h('p', { class: 'hint' }, `For ${data.patient.label}. Tick what goes to the chart; change a value to correct it.`),
    h(
      'table',
      {},
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ['Send', 'Vital', 'Device value', 'Charted value'].map((t) => h('th', { scope: 'col' }, t)),
        ),
      ),
      h(
        'tbody',
        {},
        rows.map((r) => r.tr),
      ),
    ),
    h(
      'div',
      { class: 'chart-actions' },
      h('button', { type: 'submit' }, 'Send to chart'),
      h(
        'button',
        {
          type: 'button',
          class: 'quiet',
          onclick: () =>
            body.replaceChildren(
              h('button', { type: 'button', onclick: () => review(bed, ctx, body) }, 'Review current vitals'),
            ),
        },
        'Cancel',
      ),
    ),
  );
  body.replaceChildren(form);
}

function row(v, ctx) {
  const usable = v.value !== null && !v.artifact;
  const input = h('input', {
    type: 'number',
    step: 'any',
    name: `value-${v.metric}`,
    'aria-label': `${v.label} to chart (${unitText(v.unit)})`,
    value: v.charted ? String(v.charted.value) : usable ? String(v.value) : '',
    inputmode: 'decimal',
  });
  const tick = h('input', {
    type: 'checkbox',
    name: `send-${v.metric}`,
    'aria-label': `Send ${v.label}`,
    checked: usable && !v.charted,
  });
  const note = h('span', { class: 'chart-note' });
  const mark = () => {
    const typed = input.value === '' ? null : Number(input.value);
    if (v.charted) {
      const amended = typed !== null && typed !== v.charted.value;
      note.textContent = amended ? ' corrects the charted value' : '';
      tick.checked = amended;
      return;
    }
    const changed = v.value !== null && typed !== null && typed !== v.value;
    note.textContent = changed ? ' corrected' : v.value === null && typed !== null ? ' entered' : '';
    if (typed !== null) tick.checked = true;
  };
  input.addEventListener('input', mark);
  const charted = () =>
    `charted ${v.charted.value} by ${v.charted.by}, ${age(ctx.now() - Date.parse(v.charted.at))} ago`;
  const device =
    v.value === null
      ? v.charted
        ? h('span', { class: 'chart-charted' }, `no device reading · entered and ${charted()}`)
        : h('span', { class: 'muted' }, 'none since admission')
      : h(
          'span',
          { class: v.artifact ? 'artifact' : '' },
          `${v.value} ${unitText(v.unit)}`,
          h('span', { class: 'muted' }, ` · ${v.deviceId} · ${age(ctx.now() - Date.parse(v.measuredAt))} ago`),
          v.artifact
            ? h('strong', {}, ' artifact: enter the measured value')
            : v.unreliable
              ? h('span', {}, ' (device: unreliable)')
              : null,
          v.charted ? h('span', { class: 'chart-charted' }, ` · ${charted()}`) : null,
        );
  const tr = h(
    'tr',
    { dataset: { metric: v.metric } },
    h('td', {}, tick),
    h('th', { scope: 'row' }, v.label),
    h('td', {}, device),
    h('td', {}, input, note),
  );
  return {
    tr,
    take: () =>
      tick.checked && input.value !== ''
        ? {
            metric: v.metric,
            value: Number(input.value),
            ...(v.observation !== null && { observation: v.observation }),
            // A value entered before, corrected: named by the message that charted it.
            ...(v.observation === null && v.charted && { amends: v.charted.controlId }),
          }
        : null,
  };
}

async function send(e, bed, ctx, body, rows) {
  e.preventDefault();
  const values = rows.map((r) => r.take()).filter(Boolean);
  if (!values.length) return ctx.announce('Nothing ticked to send.');
  const button = e.currentTarget.querySelector('button[type=submit]');
  button.disabled = true;
  try {
    const r = await call('POST', `/api/beds/${encodeURIComponent(bed.bed)}/chart`, { values });
    const parts = [`${r.confirmed.length} confirmed`, `${r.corrected.length} corrected`, `${r.entered.length} entered`];
    if (r.amended.length) parts.push(`${r.amended.length} charted value${r.amended.length > 1 ? 's' : ''} corrected`);
    const text = `Sent to chart: ${parts.join(', ')} (message ${r.controlId}).`;
    body.replaceChildren(
      h('p', { class: 'chart-sent', role: 'status' }, text),
      h('button', { type: 'button', onclick: () => review(bed, ctx, body) }, 'Review again'),
    );
    ctx.announce(text);
  } catch (err) {
    button.disabled = false;
    ctx.announce(`Not sent: ${err.message}`);
    body.querySelector('.chart-error')?.remove();
    body.append(h('p', { class: 'chart-error', role: 'alert' }, `Not sent: ${err.message}`));
  }
}
