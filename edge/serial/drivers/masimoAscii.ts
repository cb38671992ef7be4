// `masimo-ascii`: Masimo Rad-8 / Radical-7 "ASCII 1" real-time output
// (DOMAIN.md section 6), one record per second:
//   MM/DD/YY HH:MM:SS SN=<serial> SPO2=097% BPM=072 PI=04.69% SPCO=--.-% SPMET=--.-% DESAT=-- PIDELTA=+-- ALARM=0000 EXC=000800
// and the older trend form `SpO2=097 PR=069 PI=04.69 EXC=828:Search,OffPat,SET`
// (Rad-8 manual, "Sample trend output"), where `000` is no value.
// `--`, `---`, `--.-` are absent values. EXC is a hex bit field of exception
// conditions: sensor off / no sensor become a technical condition (device
// status), low signal IQ marks the values as unreliable. PI, SpCO, SpMet and
// the alarm word have no metric in the code registry and are not stored.
import type { ObservationEntry, SensorState } from '../../../shared/reading.js';
import { deviceTime, isAbsentText, type SerialDriver } from '../driver.js';

/** EXC bits (Masimo ASCII 1), in the order they are reported. */
export const masimoExceptions: ReadonlyArray<readonly [number, string]> = [
  [0x001, 'no-sensor'],
  [0x002, 'defective-sensor'],
  [0x004, 'low-perfusion'],
  [0x008, 'pulse-search'],
  [0x010, 'interference'],
  [0x020, 'sensor-off'],
  [0x040, 'ambient-light'],
  [0x080, 'unrecognized-sensor'],
  [0x400, 'low-signal-iq'],
  [0x800, 'set-mode'],
];

const LOW_SIGNAL_IQ = 0x400;

/** The sensor state an EXC word reports; the most severe condition wins. */
export function sensorFromExc(exc: number): SensorState {
  if (exc & 0x001) return 'absent';
  if (exc & 0x020) return 'off';
  if (exc & (0x002 | 0x080)) return 'fault';
  return 'ok';
}

const STAMP = /^(\d{2})\/(\d{2})\/(\d{2})\s+(\d{2}):(\d{2}):(\d{2})(?:\s+|$)/;
const FIELD = /^([A-Za-z][A-Za-z0-9]*)=(\S*)$/;
const NUMBER = /^\d{1,3}(\.\d{1,2})?$/;
/** The hex word, then (trend form) the exception names: `828:Search,OffPat,SET`. */
const EXC = /^([0-9A-Fa-f]{1,8})(?::[A-Za-z]*(?:,[A-Za-z]+)*)?$/;

export const masimoAsciiDriver: SerialDriver = {
  name: 'masimo-ascii',
  asciiOnly: true,
  decode(line, context) {
    let text = line.trim();
    let deviceTs: number | undefined;
    const stamp = STAMP.exec(text);
    if (stamp) {
      const [month, day, yy, hour, minute, second] = stamp.slice(1).map(Number);
      deviceTs = deviceTime({ year: 2000 + yy, month, day, hour, minute, second }, context.deviceClock);
      if (deviceTs === undefined && context.deviceClock !== 'ignore') return { kind: 'garbage', reason: 'the date/time is not a real date' };
      text = text.slice(stamp[0].length);
    }
    const fields = new Map<string, string>();
    for (const token of text.split(/\s+/)) {
      const field = FIELD.exec(token);
      if (!field) return { kind: 'garbage', reason: 'expected KEY=VALUE fields' };
      fields.set(field[1].toUpperCase(), field[2]);
    }
    // The trend form (PR= instead of BPM=) prints 000 where it has no value.
    const trend = !fields.has('BPM') && fields.has('PR');
    const spo2 = value(fields.get('SPO2'), trend);
    const pr = value(fields.get('BPM') ?? fields.get('PR'), trend);
    if (spo2 === undefined || pr === undefined) return { kind: 'garbage', reason: 'expected SPO2= and BPM= (or PR=) with 3-digit values or ---' };
    let exc = 0;
    const rawExc = fields.get('EXC');
    if (rawExc !== undefined) {
      const parsed = EXC.exec(rawExc);
      if (!parsed) return { kind: 'garbage', reason: 'expected EXC=<hex>' };
      exc = parseInt(parsed[1], 16);
    }
    const unreliable = (exc & LOW_SIGNAL_IQ) !== 0;
    const obs: ObservationEntry[] = [
      { code: 'spo2', value: spo2, unit: '%', ...(unreliable && { unreliable }) },
      { code: 'pr', value: pr, unit: '/min', ...(unreliable && { unreliable }) },
    ];
    return {
      kind: 'reading',
      ...(deviceTs !== undefined && { deviceTs }),
      obs,
      ...(rawExc !== undefined && { sensor: sensorFromExc(exc), exceptions: masimoExceptions.filter(([bit]) => exc & bit).map(([, name]) => name) }),
    };
  },
};

/** A field's number (a trailing % dropped), null when absent, undefined when missing or unreadable. */
function value(raw: string | undefined, zeroIsAbsent: boolean): number | null | undefined {
  if (raw === undefined) return undefined;
  const text = raw.endsWith('%') ? raw.slice(0, -1) : raw;
  if (isAbsentText(text) || (zeroIsAbsent && /^0+$/.test(text))) return null;
  return NUMBER.test(text) ? Number(text) : undefined;
}
