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
    ? [d.getUTCMonth() + 1, d.getUTCDate(), d.getUTCFullYear() % 100, d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds()]
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
