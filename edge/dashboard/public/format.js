// How values read on the ward: labels, units as people write them, ages,
// NEWS2 bands (RCP 2017) and alarm priorities (IEC 60601-1-8: high red "!!!",
// medium yellow "!!", low cyan "!"). Colour is never the only signal: every
// band and priority also has a word and a marker.

export const VITALS = [
  { key: 'spo2', label: 'SpO₂', unit: '%', digits: 0, continuous: true },
  { key: 'pulse', label: 'Pulse', unit: '/min', digits: 0, continuous: true },
  { key: 'rr', label: 'Resp', unit: '/min', digits: 0, continuous: true },
  { key: 'nibp', label: 'NIBP', unit: 'mmHg', digits: 0, continuous: false },
  { key: 'temp', label: 'Temp', unit: '°C', digits: 1, continuous: false },
];

/** Extra metrics shown only when a device reports them. */
export const EXTRA = [
  { key: 'etco2', label: 'EtCO₂', unit: 'mmHg', digits: 0, continuous: true },
  { key: 'fio2', label: 'FiO₂', unit: '%', digits: 0, continuous: true },
  { key: 'o2_flow', label: 'O₂ flow', unit: 'L/min', digits: 1, continuous: true },
  { key: 'infusion_rate', label: 'Infusion', unit: 'mL/h', digits: 1, continuous: true },
];

// Tables looked up with strings from the API are Maps: a plain object would answer
// '__proto__' or 'constructor' from its prototype.
const UNITS = new Map([
  ['%', '%'],
  ['/min', '/min'],
  ['mm[Hg]', 'mmHg'],
  ['Cel', '°C'],
  ['L/min', 'L/min'],
  ['mL/h', 'mL/h'],
]);
export const unitText = (ucum) => UNITS.get(ucum) ?? ucum ?? '';

/** A continuous value older than this is shown as stale; spot values (NIBP, temperature) are expected hours apart. */
export const STALE_MS = { continuous: 60_000, spot: 4 * 3_600_000 };

const PRIORITY = new Map([
  ['high', { marker: '!!!', word: 'HIGH' }],
  ['medium', { marker: '!!', word: 'MED' }],
  ['low', { marker: '!', word: 'LOW' }],
]);
/** How an alarm priority is shown (an unknown one as itself). */
export const priorityOf = (priority) => PRIORITY.get(priority) ?? { marker: '?', word: String(priority) };

const NEWS2_LEVEL = new Map([
  ['low', 'Low'],
  ['low-medium', 'Low-medium'],
  ['medium', 'Medium'],
  ['high', 'High'],
]);
export const news2Level = (level) => NEWS2_LEVEL.get(level) ?? String(level);

const NEWS2_RESPONSE = new Map([
  ['low', 'ward-based response'],
  ['low-medium', 'urgent ward review (a 3 in one parameter)'],
  ['medium', 'urgent response'],
  ['high', 'emergency response'],
]);
export const news2Response = (level) => NEWS2_RESPONSE.get(level) ?? 'see the NEWS2 chart';

/** NEWS2's normal (0 points) range per chart, for shading: RCP 2017 chart. */
export const NORMAL_RANGE = {
  spo2: [96, 100],
  pulse: [51, 90],
  rr: [12, 20],
  nibp_sys: [111, 219],
  temp: [36.1, 38.0],
};

export function fmt(value, digits = 0) {
  return typeof value === 'number' && Number.isFinite(value) ? value.toFixed(digits) : '–';
}

/** "8 s", "4 min", "2 h 5 min". */
export function age(ms) {
  if (!(ms >= 0)) return '';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const hours = Math.floor(m / 60);
  return m % 60 ? `${hours} h ${m % 60} min` : `${hours} h`;
}

export function clockTime(ms) {
  return new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
}

export function shortTime(ms) {
  return new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', hour12: false });
}

const FLAG_ARTIFACT = 1;
const FLAG_UNRELIABLE = 2;
export function flagText(flags) {
  if (flags & FLAG_ARTIFACT) return 'artifact';
  if (flags & FLAG_UNRELIABLE) return 'unreliable';
  return '';
}

/** The vital to show for a tile key: NIBP joins systolic and diastolic. */
export function vitalOf(vitals, key) {
  const byCode = new Map(Object.entries(vitals));
  if (key !== 'nibp') {
    const vital = byCode.get(key);
    return vital ? { ...vital, text: null } : undefined;
  }
  const sys = byCode.get('nibp_sys');
  if (!sys) return undefined;
  const dia = byCode.get('nibp_dia');
  return { ...sys, text: dia ? `${fmt(sys.value)}/${fmt(dia.value)}` : fmt(sys.value) };
}

const PRIORITY_RANK = new Map([
  ['low', 0],
  ['medium', 1],
  ['high', 2],
]);
export const priorityRank = (priority) => PRIORITY_RANK.get(priority) ?? -1;

export function topAlarm(alarms) {
  const active = alarms.filter((a) => a.state !== 'acknowledged');
  const pool = active.length ? active : alarms;
  return pool.reduce(
    (best, a) => (!best || priorityRank(a.priority) > priorityRank(best.priority) ? a : best),
    undefined,
  );
}

export function deviceStateText(d) {
  switch (d.state) {
    case 'connected':
      return 'connected';
    case 'silent':
      return 'silent';
    case 'sensor-off':
      return d.sensor === 'absent'
        ? 'no sensor or cable'
        : d.sensor === 'fault'
          ? 'sensor or cable fault'
          : 'sensor off';
    case 'offline':
      return 'offline';
    default:
      return 'not heard yet';
  }
}
