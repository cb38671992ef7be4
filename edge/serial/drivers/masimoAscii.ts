// `masimo-ascii`: Masimo real-time "ASCII 1" output (Radical-5, Radical-7,
// Rad-8, Rad-97; DOMAIN.md section 6), one record per second:
//   MM/DD/YY HH:MM:SS SN=<serial> SPO2=097% BPM=072 PI=04.69% SPCO=--.-% SPMET=--.-% DESAT=-- PIDELTA=+-- ALARM=0000 EXC=000800
// and the trend form `SpO2=097 PR=069 PI=04.69 EXC=828:Search,OffPat,SET`
// (Rad-8 manual, "Sample trend output"), where `000` is no value.
// `--`, `---`, `--.-` are absent values. EXC is the exception word: 3 hex
// digits on the Radical-5 and in trend output, 6 on the Radical-7 and Rad-8,
// up to 8 on touch-screen models (which add an EXC1 word, read as any other
// field and not interpreted). Every documented bit is named; each is sensor
// state (no monitoring: the values of that line are not patient data and are
// not stored; the alarm engine raises a technical alarm), an unreliable flag
// on the values, or information only. PI, SpCO, SpMet and the alarm word have
// no metric in the code registry and are not stored.
import type { ObservationEntry, SensorState } from '../../../shared/reading.js';
import { deviceTime, isAbsentText, type SerialDriver } from '../driver.js';

/** What an exception means for the values of its line. */
export type ExceptionEffect =
  /** The device is not monitoring: sensor state, technical alarm, no values stored. */
  | { readonly sensor: Exclude<SensorState, 'ok'> }
  /** The device measures, but says the values are of poor quality. */
  | { readonly unreliable: true }
  /** Nothing for the stored values (SET mode, confidence of metrics we do not store). */
  | { readonly info: true };

export interface MasimoException {
  readonly bit: number;
  readonly name: string;
  readonly effect: ExceptionEffect;
}

const absent = { sensor: 'absent' } as const;
const off = { sensor: 'off' } as const;
const fault = { sensor: 'fault' } as const;
const unreliable = { unreliable: true } as const;
const info = { info: true } as const;

/**
 * The EXC bits as Masimo documents them (DOMAIN.md section 6; Rad-8 manual,
 * "Trend data format", for the low 12 bits), in the order they are reported.
 * 0x200 is reserved. No sensor and no cable leave nothing to measure with
 * (absent); a sensor or cable that is defective, unrecognized, incompatible,
 * expired or out of its operating limits cannot be used (fault); sensor off
 * is off the patient. Conditions under which the oximeter still reads but
 * warns mark the values unreliable.
 */
export const masimoExceptions: readonly MasimoException[] = [
  { bit: 0x000001, name: 'no-sensor', effect: absent },
  { bit: 0x000002, name: 'defective-sensor', effect: fault },
  { bit: 0x000004, name: 'low-perfusion', effect: unreliable },
  { bit: 0x000008, name: 'pulse-search', effect: unreliable },
  { bit: 0x000010, name: 'interference', effect: unreliable },
  { bit: 0x000020, name: 'sensor-off', effect: off },
  { bit: 0x000040, name: 'ambient-light', effect: unreliable },
  { bit: 0x000080, name: 'unrecognized-sensor', effect: fault },
  { bit: 0x000100, name: 'incompatible-sensor', effect: fault },
  { bit: 0x000400, name: 'low-signal-iq', effect: unreliable },
  { bit: 0x000800, name: 'set-mode', effect: info },
  { bit: 0x001000, name: 'no-cable', effect: absent },
  { bit: 0x002000, name: 'cable-life-expired', effect: fault },
  { bit: 0x004000, name: 'incompatible-cable', effect: fault },
  { bit: 0x008000, name: 'unrecognized-cable', effect: fault },
  { bit: 0x010000, name: 'defective-cable', effect: fault },
  { bit: 0x020000, name: 'sensor-calibrating', effect: unreliable },
  { bit: 0x040000, name: 'sensor-life-expired', effect: fault },
  { bit: 0x080000, name: 'emitter-temperature', effect: fault },
  { bit: 0x100000, name: 'sensor-current-limit', effect: fault },
  { bit: 0x200000, name: 'spco-low-confidence', effect: info },
  { bit: 0x400000, name: 'spmet-low-confidence', effect: info },
];

/** Which sensor state wins when several are reported: nothing to measure with, then off the patient, then unusable. */
const SEVERITY: Readonly<Record<SensorState, number>> = { ok: 0, fault: 1, off: 2, absent: 3 };

export interface ExcMeaning {
  readonly sensor: SensorState;
  readonly unreliable: boolean;
  /** The names of the bits set, documented ones only. */
  readonly exceptions: readonly string[];
}

/** What an EXC word says: the sensor state (most severe condition), whether values are unreliable, the named exceptions. */
export function readExc(exc: number): ExcMeaning {
  let sensor: SensorState = 'ok';
  let flagged = false;
  const exceptions: string[] = [];
  for (const { bit, name, effect } of masimoExceptions) {
    if (!(exc & bit)) continue;
    exceptions.push(name);
    if ('sensor' in effect && SEVERITY[effect.sensor] > SEVERITY[sensor]) sensor = effect.sensor;
    else if ('unreliable' in effect) flagged = true;
  }
  return { sensor, unreliable: flagged, exceptions };
}

/** The sensor state an EXC word reports; the most severe condition wins. */
export function sensorFromExc(exc: number): SensorState {
  return readExc(exc).sensor;
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
      if (deviceTs === undefined && context.deviceClock !== 'ignore')
        return { kind: 'garbage', reason: 'the date/time is not a real date' };
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
    if (spo2 === undefined || pr === undefined)
      return { kind: 'garbage', reason: 'expected SPO2= and BPM= (or PR=) with 3-digit values or ---' };
    const rawExc = fields.get('EXC');
    let meaning: ExcMeaning | undefined;
    if (rawExc !== undefined) {
      const parsed = EXC.exec(rawExc);
      if (!parsed) return { kind: 'garbage', reason: 'expected EXC=<hex>' };
      meaning = readExc(parseInt(parsed[1], 16));
    }
    // Not monitoring: whatever numbers the line carries are not the patient's.
    const monitoring = meaning === undefined || meaning.sensor === 'ok';
    const flag = monitoring && meaning?.unreliable === true ? { unreliable: true } : {};
    const obs: ObservationEntry[] = [
      { code: 'spo2', value: monitoring ? spo2 : null, unit: '%', ...flag },
      { code: 'pr', value: monitoring ? pr : null, unit: '/min', ...flag },
    ];
    return {
      kind: 'reading',
      ...(deviceTs !== undefined && { deviceTs }),
      obs,
      ...(meaning && { sensor: meaning.sensor, exceptions: meaning.exceptions }),
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
