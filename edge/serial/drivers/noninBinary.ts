// `nonin-binary-1`, `-2`, `-7`, `-8`: Nonin serial data formats #1, #2, #7 and
// #8 (OEM III modules, Xpod, WristOx 3150, Onyx 9560; see docs/SERIAL.md for
// the sources). The NoninFramer cuts the byte stream into records: a 3- or
// 4-byte record a second (#1, #8) or a 25-frame packet (#2, #7). The status
// bits are mapped as Masimo's exceptions are:
// - sensor disconnected (SNSD): no sensor, absent; sensor alarm (SNSA, the
//   sensor gives unusable data): fault. Not monitoring: no value is stored,
//   the alarm engine raises a technical alarm;
// - out of track (OOT), artifact (ARTF), low perfusion (LPRF, or RPRF in a
//   packet): the values are flagged unreliable;
// - marginal perfusion (MPRF, or YPRF in a packet), low and critical battery
//   (#8): named, for the log, nothing more.
// Missing data is HR 511 and SpO2 127. The records carry no time: the
// gateway's receive time is the reading time.
import type { ObservationEntry, SensorState } from '../../../shared/reading.js';
import type { SerialDriverName } from '../../config/schema.js';
import type { DecodedLine, SerialDriver } from '../driver.js';
import { NoninFramer, recordBytes, type NoninFormat } from '../noninFramer.js';

const MISSING_HR = 511;
const MISSING_SPO2 = 127;

interface Status {
  disconnected: boolean;
  sensorAlarm: boolean;
  outOfTrack: boolean;
  artifact: boolean;
  lowPerfusion: boolean;
  marginalPerfusion: boolean;
  lowBattery: boolean;
  criticalBattery: boolean;
}

const none = (): Status => ({
  disconnected: false,
  sensorAlarm: false,
  outOfTrack: false,
  artifact: false,
  lowPerfusion: false,
  marginalPerfusion: false,
  lowBattery: false,
  criticalBattery: false,
});

/** #1 and #8 STATUS: bit 7 set, SNSD 0x40, OOT 0x20, LPRF 0x10, MPRF 0x08, ARTF 0x04, HR bits 8-7 in bits 1-0. */
function recordStatus(byte: number, s: Status): void {
  s.disconnected ||= (byte & 0x40) !== 0;
  s.outOfTrack ||= (byte & 0x20) !== 0;
  s.lowPerfusion ||= (byte & 0x10) !== 0;
  s.marginalPerfusion ||= (byte & 0x08) !== 0;
  s.artifact ||= (byte & 0x04) !== 0;
}

/** #2 and #7 STATUS: bit 7 set, SNSD 0x40, ARTF 0x20, OOT 0x10, SNSA 0x08, bits 2-1 perfusion (11 yellow, 10 red, 01 green), SYNC 0x01. */
function frameStatus(byte: number, s: Status): void {
  s.disconnected ||= (byte & 0x40) !== 0;
  s.artifact ||= (byte & 0x20) !== 0;
  s.outOfTrack ||= (byte & 0x10) !== 0;
  s.sensorAlarm ||= (byte & 0x08) !== 0;
  const perfusion = (byte >> 1) & 0x03;
  s.marginalPerfusion ||= perfusion === 0x03;
  s.lowPerfusion ||= perfusion === 0x02;
}

const hr = (msb: number, lsb: number) => ((msb & 0x03) << 7) | (lsb & 0x7f);

function decodeRecord(b: Buffer, format: 1 | 8): { hr: number; spo2: number; status: Status } {
  const status = none();
  recordStatus(b[0], status);
  if (format === 8) {
    // STATUS2: SNSA 0x08, critical battery 0x02, low battery 0x01.
    status.sensorAlarm = (b[3] & 0x08) !== 0;
    status.criticalBattery = (b[3] & 0x02) !== 0;
    status.lowBattery = (b[3] & 0x01) !== 0;
  }
  return { hr: hr(b[0], b[1]), spo2: b[2] & 0x7f, status };
}

/** A 25-frame packet: DATA of frames 1-2 is the 4-beat pulse rate (MSB, LSB), of frame 3 the 4-beat SpO2. */
function decodePacket(b: Buffer, format: 2 | 7): { hr: number; spo2: number; status: Status } {
  const status = none();
  const statusAt = format === 2 ? 1 : 0;
  for (let at = 0; at < b.length; at += 5) frameStatus(b[at + statusAt], status);
  return { hr: hr(b[3], b[8]), spo2: b[13] & 0x7f, status };
}

const names: ReadonlyArray<[keyof Status, string]> = [
  ['disconnected', 'sensor-disconnected'],
  ['sensorAlarm', 'sensor-alarm'],
  ['outOfTrack', 'out-of-track'],
  ['artifact', 'artifact'],
  ['lowPerfusion', 'low-perfusion'],
  ['marginalPerfusion', 'marginal-perfusion'],
  ['lowBattery', 'low-battery'],
  ['criticalBattery', 'critical-battery'],
];

function decodeNonin(frame: Buffer, format: NoninFormat): DecodedLine {
  const bytes = recordBytes(format);
  if (frame.length !== bytes)
    return { kind: 'garbage', reason: `expected a ${bytes}-byte data format #${format} record` };
  const {
    hr: rate,
    spo2,
    status,
  } = format === 1 || format === 8 ? decodeRecord(frame, format) : decodePacket(frame, format);
  const sensor: SensorState = status.disconnected ? 'absent' : status.sensorAlarm ? 'fault' : 'ok';
  const monitoring = sensor === 'ok';
  const flag = monitoring && (status.outOfTrack || status.artifact || status.lowPerfusion) ? { unreliable: true } : {};
  const obs: ObservationEntry[] = [
    { code: 'spo2', value: monitoring && spo2 !== MISSING_SPO2 ? spo2 : null, unit: '%', ...flag },
    { code: 'pr', value: monitoring && rate !== MISSING_HR ? rate : null, unit: '/min', ...flag },
  ];
  return { kind: 'reading', obs, sensor, exceptions: names.filter(([key]) => status[key]).map(([, name]) => name) };
}

function noninBinaryDriver(format: NoninFormat): SerialDriver {
  return {
    name: `nonin-binary-${format}` as SerialDriverName,
    // The frame reaches decode as latin1 text: one character per byte.
    asciiOnly: true,
    framer: (onFault) => new NoninFramer({ format, onFault }),
    decode: (frame) => decodeNonin(Buffer.from(frame, 'latin1'), format),
  };
}

export const noninBinary1Driver = noninBinaryDriver(1);
export const noninBinary2Driver = noninBinaryDriver(2);
export const noninBinary7Driver = noninBinaryDriver(7);
export const noninBinary8Driver = noninBinaryDriver(8);
