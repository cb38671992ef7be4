// The dashboard page: login, the live feed (server-sent events), and a hash
// router over four views. State lives here; views render from it.
import { call, setSession, whenUnauthorized } from './api.js';
import { renderAlarms } from './alarms.js';
import { renderBed } from './bed.js';
import { clockTime } from './format.js';
import { renderGateway } from './gateway.js';
import { renderWard, updateAges } from './ward.js';

const state = {
  session: null,
  ward: '',
  beds: new Map(),
  alarms: [],
  status: null,
  /** server clock minus this page's clock, so that ages are right on a screen whose clock drifts */
  offset: 0,
  connected: false,
  drainStart: null,
};
const $ = (id) => document.getElementById(id);
let source = null;
let route = { view: 'ward' };
let knownAlarms = new Set();

export const now = () => Date.now() + state.offset;

const ctx = {
  state,
  now,
  canAck: () => state.session && state.session.role !== 'viewer',
  isAdmin: () => state.session?.role === 'admin',
  ack: async (id, button) => {
    if (button) button.disabled = true;
    try {
      await call('POST', `/api/alarms/${encodeURIComponent(id)}/ack`);
    } catch (err) {
      announce(`Acknowledge failed: ${err.message}`);
      if (button) button.disabled = false;
    }
  },
  announce,
  rerender: () => render(),
};

function announce(text) {
  const el = $('announcer');
  el.textContent = '';
  requestAnimationFrame(() => (el.textContent = text));
}

async function boot() {
  whenUnauthorized(() => loggedOut('Your session has ended. Please log in again.'));
  $('login-form').addEventListener('submit', login);
  $('logout').addEventListener('click', logout);
  window.addEventListener('hashchange', () => navigate());
  setInterval(tick, 1000);
  try {
    started(await call('GET', '/dashboard/session', undefined, { background: true }));
  } catch {
    loggedOut('');
  }
}

async function login(event) {
  event.preventDefault();
  const form = event.target;
  $('login-error').textContent = '';
  $('login-submit').disabled = true;
  try {
    const session = await call('POST', '/dashboard/login', {
      name: form.name.value.trim(),
      password: form.password.value,
    });
    form.password.value = '';
    started(session);
  } catch (err) {
    $('login-error').textContent = err.status === 401 ? 'Wrong user name or password.' : err.message;
  } finally {
    $('login-submit').disabled = false;
  }
}

async function logout() {
  try {
    await call('POST', '/dashboard/logout');
  } finally {
    loggedOut('You are logged out.');
  }
}

function started(session) {
  state.session = session;
  setSession(session);
  $('login').hidden = true;
  $('topbar').hidden = false;
  $('view').hidden = false;
  $('who').textContent = `${session.name} · ${session.role}`;
  document.body.dataset.role = session.role;
  connect();
  navigate();
}

function loggedOut(message) {
  source?.close();
  source = null;
  state.session = null;
  state.beds.clear();
  setSession(null);
  $('topbar').hidden = true;
  $('view').hidden = true;
  $('view').replaceChildren();
  $('login').hidden = false;
  $('login-error').textContent = message;
  delete document.body.dataset.role;
  $('login-name').focus();
}

function connect() {
  source?.close();
  source = new EventSource('/dashboard/events');
  source.addEventListener('open', () => setLive(true));
  source.addEventListener('error', () => {
    setLive(false);
    // A closed stream may mean the session is gone: ask, and show the login if so.
    if (source?.readyState === EventSource.CLOSED)
      call('GET', '/dashboard/session', undefined, { background: true }).then(connect, () => {});
  });
  source.addEventListener('snapshot', (e) => {
    const data = JSON.parse(e.data);
    state.offset = data.serverTime - Date.now();
    state.ward = data.ward;
    $('ward-name').textContent = `Ward ${data.ward}`;
    state.beds = new Map(data.beds.map((b) => [b.bed, b]));
    state.alarms = data.alarms;
    state.status = data.status;
    knownAlarms = new Set(data.alarms.map((a) => a.id));
    render();
  });
  source.addEventListener('bed', (e) => {
    const bed = JSON.parse(e.data);
    state.offset = bed.serverTime - Date.now();
    state.beds.set(bed.bed, bed);
    render({ bed: bed.bed });
  });
  source.addEventListener('alarms', (e) => {
    const data = JSON.parse(e.data);
    for (const a of data.alarms) {
      if (!knownAlarms.has(a.id) && a.kind)
        announce(`${a.priority} priority alarm${a.bed ? `, bed ${a.bed}` : ''}: ${a.message}`);
    }
    knownAlarms = new Set(data.alarms.map((a) => a.id));
    state.alarms = data.alarms;
    render({ alarms: true });
  });
  source.addEventListener('status', (e) => {
    state.status = JSON.parse(e.data);
    if (route.view === 'gateway') render();
  });
  source.addEventListener('expired', () => {
    source.close();
    loggedOut('Your session has ended (automatic logoff). Please log in again.');
  });
}

function setLive(on) {
  state.connected = on;
  const el = $('live');
  el.textContent = on ? 'live' : 'reconnecting…';
  el.className = `live ${on ? 'on' : 'off'}`;
}

function navigate() {
  const [, view = 'ward', arg] = (location.hash || '#/ward').split('/');
  route = { view, arg: arg && decodeURIComponent(arg) };
  for (const a of document.querySelectorAll('[data-nav]')) {
    if (a.dataset.nav === view) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  $('view').replaceChildren();
  render();
}

/** Renders the current view; `change` says what changed so that views can redraw only that. */
function render(change = {}) {
  if (!state.session) return;
  const open = state.alarms.filter((a) => a.state !== 'acknowledged').length;
  $('alarm-count').textContent = open ? String(open) : '';
  const high = state.alarms.some((a) => a.priority === 'high' && a.state !== 'acknowledged');
  $('alarm-count').className = `count${high ? ' high' : ''}`;
  const view = $('view');
  if (route.view === 'bed' && route.arg) renderBed(view, ctx, route.arg, change);
  else if (route.view === 'alarms') renderAlarms(view, ctx, change);
  else if (route.view === 'gateway') renderGateway(view, ctx, change);
  else renderWard(view, ctx, change);
}

function tick() {
  $('clock').textContent = clockTime(now());
  if (state.session) updateAges(document, now());
}

boot();
