// Lines as bedside devices print them on their serial port (DOMAIN.md
// section 6), for the simulators, the tests and the benchmark.

export interface OximeterSample {
  /** Device clock, epoch ms (printed in local time unless utc is set). */
  readonly ts: number;
  /** null prints the vendor's "no value" dashes. */
  readonly spo2: number | null;
  readonly pr: number | null;
  /** Masimo EXC bit field. */
  readonly exc?: number;
  readonly utc?: boolean;
}

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/** A Masimo Rad-8 / Radical-7 "ASCII 1" record, CR LF terminated. */
export function masimoLine(s: OximeterSample): string {
  const d = new Date(s.ts);
  const [mo, da, yr, h, mi, se] = s.utc
    ? [
        d.getUTCMonth() + 1,
        d.getUTCDate(),
        d.getUTCFullYear() % 100,
        d.getUTCHours(),
        d.getUTCMinutes(),
        d.getUTCSeconds(),
      ]
    : [d.getMonth() + 1, d.getDate(), d.getFullYear() % 100, d.getHours(), d.getMinutes(), d.getSeconds()];
  const spo2 = s.spo2 === null ? '---' : pad(s.spo2, 3);
  const bpm = s.pr === null ? '---' : pad(s.pr, 3);
  const exc = (s.exc ?? 0).toString(16).toUpperCase().padStart(6, '0');
  return `${pad(mo)}/${pad(da)}/${pad(yr)} ${pad(h)}:${pad(mi)}:${pad(se)} SN=0000123456 SPO2=${spo2}% BPM=${bpm} PI=04.69% SPCO=--.-% SPMET=--.-% DESAT=-- PIDELTA=+-- ALARM=0000 EXC=${exc}\r\n`;
}

/** A Nonin real-time line (`SPO2=097 HR=072`, `*` for a nurse event), CR LF terminated. */
export function noninLine(spo2: number | null, hr: number | null, event = false): string {
  return `SPO2=${spo2 === null ? '---' : pad(spo2, 3)} HR=${hr === null ? '---' : pad(hr, 3)}${event ? '*' : ''}\r\n`;
}

/** The ASCII banner a Nonin oximeter prints at power up (model, date, time): no values. */
export function noninHeader(ts: number): string[] {
  const d = new Date(ts);
  return [
    'NONIN MEDICAL, INC.\r\n',
    'MODEL 7500 REV 1.3\r\n',
    `DATE ${pad(d.getMonth() + 1)}/${pad(d.getDate())}/${pad(d.getFullYear() % 100)} TIME ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}\r\n`,
  ];
}

/** Status conditions of a Nonin binary record (docs/SERIAL.md). */
export interface NoninStatus {
  readonly disconnected?: boolean;
  readonly sensorAlarm?: boolean;
  readonly outOfTrack?: boolean;
  readonly artifact?: boolean;
  readonly lowPerfusion?: boolean;
  readonly marginalPerfusion?: boolean;
  readonly lowBattery?: boolean;
  readonly criticalBattery?: boolean;
}

/**
 * One Nonin binary record as the device sends it: data format #1 (3 bytes)
 * or #8 (4 bytes), or a 25-frame packet of #2 or #7 (125 bytes). null is the
 * format's missing-data value (SpO2 127, HR 511).
 */
export function noninRecord(
  format: 1 | 2 | 7 | 8,
  spo2: number | null,
  hr: number | null,
  status: NoninStatus = {},
  pleth = 0,
): Buffer {
  const s = spo2 ?? 127;
  const h = hr ?? 511;
  if (format === 1 || format === 8) {
    const status1 =
      0x80 |
      (status.disconnected ? 0x40 : 0) |
      (status.outOfTrack ? 0x20 : 0) |
      (status.lowPerfusion ? 0x10 : 0) |
      (status.marginalPerfusion ? 0x08 : 0) |
      (status.artifact ? 0x04 : 0) |
      ((h >> 7) & 0x03);
    const record = [status1, h & 0x7f, s & 0x7f];
    if (format === 8)
      record.push(
        (status.sensorAlarm ? 0x08 : 0) | (status.criticalBattery ? 0x02 : 0) | (status.lowBattery ? 0x01 : 0),
      );
    return Buffer.from(record);
  }
  // Perfusion bits 2-1: 11 yellow (marginal), 10 red (low), 01 green.
  const perfusion = status.marginalPerfusion ? 0x06 : status.lowPerfusion ? 0x04 : 0x02;
  const base =
    0x80 |
    (status.disconnected ? 0x40 : 0) |
    (status.artifact ? 0x20 : 0) |
    (status.outOfTrack ? 0x10 : 0) |
    (status.sensorAlarm ? 0x08 : 0) |
    perfusion;
  // DATA by frame: 1-2 pulse rate MSB/LSB, 3 SpO2, 4 firmware revision, then the other averages (same values here).
  const data = new Array<number>(25).fill(0);
  [data[0], data[1], data[2], data[3]] = [(h >> 7) & 0x03, h & 0x7f, s & 0x7f, 0x30];
  [data[8], data[9], data[10]] = [s & 0x7f, s & 0x7f, s & 0x7f];
  [data[13], data[14], data[15], data[16]] = [(h >> 7) & 0x03, h & 0x7f, s & 0x7f, s & 0x7f];
  [data[19], data[20], data[21], data[22]] = [(h >> 7) & 0x03, h & 0x7f, (h >> 7) & 0x03, h & 0x7f];
  const frames = data.map((d, i) => {
    const stat = base | (i === 0 ? 0x01 : 0);
    const frame = format === 2 ? [0x01, stat, pleth & 0xff, d] : [stat, (pleth >> 8) & 0xff, pleth & 0xff, d];
    return Buffer.from([...frame, frame.reduce((a, b) => a + b, 0) & 0xff]);
  });
  return Buffer.concat(frames);
}
