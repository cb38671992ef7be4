// Observation times: RFC 3339 text or epoch milliseconds.
import { reject, type Rejection } from './errors.js';

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+-](\d{2}):(\d{2}))$/;
/** 2000-01-01T00:00:00Z: nothing a ward device measures is older. */
const EARLIEST = 946_684_800_000;

export interface TimestampPolicy {
  /** The gateway's receive time, epoch ms. */
  readonly now: number;
  /** How far ahead of the gateway clock a device clock may run. */
  readonly maxFutureMs: number;
}

/** Parses a wire timestamp to epoch ms, or says what is wrong with it. */
export function parseTimestamp(raw: unknown, field: string, policy: TimestampPolicy): number | Rejection {
  let ms: number;
  if (typeof raw === 'number') {
    if (!Number.isSafeInteger(raw)) return reject('WG_ERR_TIMESTAMP', 'expected whole epoch milliseconds', field);
    if (raw < EARLIEST && raw >= EARLIEST / 1000) {
      return reject('WG_ERR_TIMESTAMP', `${raw} looks like epoch seconds; send epoch milliseconds`, field);
    }
    ms = raw;
  } else if (typeof raw === 'string') {
    const m = RFC3339.exec(raw);
    if (!m) return reject('WG_ERR_TIMESTAMP', 'expected RFC 3339 text such as 2026-11-27T09:00:00.123Z', field);
    // Date.parse rolls 2026-02-30 over into March and reads hour 24 as the next day: check the calendar first.
    const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number);
    const offsetOk = m[9] === undefined || (Number(m[9]) <= 23 && Number(m[10]) <= 59);
    if (!isCalendarDate(year, month, day) || hour > 23 || minute > 59 || second > 59 || !offsetOk) {
      return reject('WG_ERR_TIMESTAMP', `${raw} is not a real date and time`, field);
    }
    ms = Date.parse(raw);
    if (Number.isNaN(ms)) return reject('WG_ERR_TIMESTAMP', `${raw} is not a real date`, field);
  } else {
    return reject('WG_ERR_TIMESTAMP', 'expected RFC 3339 text or epoch milliseconds', field);
  }
  if (ms < EARLIEST) return reject('WG_ERR_TIMESTAMP', 'lies before the year 2000', field);
  if (ms > policy.now + policy.maxFutureMs) {
    return reject(
      'WG_ERR_TIMESTAMP',
      `lies ${Math.round((ms - policy.now) / 1000)} s ahead of the gateway clock`,
      field,
    );
  }
  return ms;
}

/** Whether year-month-day names a day of the Gregorian calendar (month 1-12; 30 February does not). */
export function isCalendarDate(year: number, month: number, day: number): boolean {
  if (
    !Number.isInteger(year) ||
    !Number.isInteger(month) ||
    !Number.isInteger(day) ||
    month < 1 ||
    month > 12 ||
    day < 1
  )
    return false;
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  const days = month === 2 ? (leap ? 29 : 28) : [4, 6, 9, 11].includes(month) ? 30 : 31;
  return day <= days;
}

export function isRejection(value: unknown): value is Rejection {
  return typeof value === 'object' && value !== null && 'code' in value && 'message' in value;
}
