// `nonin-ascii`: Nonin real-time serial output (DOMAIN.md section 6), once a
// second, in the forms the manuals print:
//   SPO2=XXX HR=YYY            7500, 2500, 8500, BT4000, Avant 9600
//   SPO2=XXX HR=YYY F          fast-responding values (DIP switch 8 up; BT4000, 9600)
//   SPO2=XXX HR=YYY*           a nurse marked an event
//   HH:MM:SS SPO2=XXX HR=YYY   time-prefixed (8600V, 9847), `*` for an event,
//                              a trailing `B` when a breath was detected (9847)
//   SPO2=--- HR=---            no data
// and an ASCII header with model, date and time at power up, which carries no
// values and is skipped. The time prefix has no date and the lines no zone,
// so the gateway's receive time is the reading time.
import type { ObservationEntry } from '../../../shared/reading.js';
import { isAbsentText, type SerialDriver } from '../driver.js';

const LINE =
  /^(?:(\d{2}):(\d{2}):(\d{2})\s+)?SPO2\s*=\s*(\d{1,3}|-{2,3})\s+HR\s*=\s*(\d{1,3}|-{2,3})(?:\s+F)?\s*(\*)?\s*(B)?\s*(\*)?$/i;
/** A line that tries to be data but is not: a damaged data line, not a header. */
const DATA_LIKE = /(SPO2|HR)\s*=/i;

export const noninAsciiDriver: SerialDriver = {
  name: 'nonin-ascii',
  asciiOnly: true,
  decode(line) {
    const text = line.trim();
    const match = LINE.exec(text);
    if (!match) {
      if (DATA_LIKE.test(text)) return { kind: 'garbage', reason: 'expected [HH:MM:SS ]SPO2=XXX HR=YYY[ F][*][B]' };
      return { kind: 'header' };
    }
    const [, hh, mm, ss, spo2, hr, event1, , event2] = match;
    if (hh !== undefined && (Number(hh) > 23 || Number(mm) > 59 || Number(ss) > 59))
      return { kind: 'garbage', reason: 'the time prefix is not a time of day' };
    const obs: ObservationEntry[] = [
      { code: 'spo2', value: isAbsentText(spo2) ? null : Number(spo2), unit: '%' },
      { code: 'pr', value: isAbsentText(hr) ? null : Number(hr), unit: '/min' },
    ];
    return { kind: 'reading', obs, ...((event1 ?? event2) !== undefined && { event: true }) };
  },
};
