// `nonin-ascii`: Nonin real-time serial output (e.g. 7500 series; DOMAIN.md
// section 6): once a second `SPO2=XXX HR=YYY`, `---` when there is no data, a
// trailing ` F` in fast-response mode (BT4000 manual, "Real-Time Patient Data
// Output"), a trailing `*` when a nurse marked an event; an ASCII header with model, date
// and time at power up, which carries no values and is skipped. The lines
// carry no time of their own: the gateway's receive time is the reading time.
import type { ObservationEntry } from '../../../shared/reading.js';
import { isAbsentText, type SerialDriver } from '../driver.js';

const LINE = /^SPO2\s*=\s*(\d{1,3}|-{2,3})\s+HR\s*=\s*(\d{1,3}|-{2,3})(?:\s+F)?\s*(\*)?$/i;
/** A line that tries to be data but is not: a damaged data line, not a header. */
const DATA_LIKE = /(SPO2|HR)\s*=/i;

export const noninAsciiDriver: SerialDriver = {
  name: 'nonin-ascii',
  asciiOnly: true,
  decode(line) {
    const text = line.trim();
    const match = LINE.exec(text);
    if (!match) {
      if (DATA_LIKE.test(text)) return { kind: 'garbage', reason: 'expected SPO2=XXX HR=YYY' };
      return { kind: 'header' };
    }
    const obs: ObservationEntry[] = [
      { code: 'spo2', value: isAbsentText(match[1]) ? null : Number(match[1]), unit: '%' },
      { code: 'pr', value: isAbsentText(match[2]) ? null : Number(match[2]), unit: '/min' },
    ];
    return { kind: 'reading', obs, ...(match[3] !== undefined && { event: true }) };
  },
};
