// HL7 v2 date/time (DTM, v2.6 section 2.A.22):
// YYYY[MM[DD[HH[MM[SS[.S[S[S[S]]]]]]]]][+/-ZZZZ]. Without an offset the time is
// the sender's local time; a ward monitor shares the gateway's zone, so local
// time is read in the gateway's zone. Missing parts mean the start of the period.
// A date the calendar does not have (30 February) is refused, not rolled over.
import { isCalendarDate } from '../../shared/timestamp.js';

const DTM = /^(\d{4})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:\.(\d{1,4}))?)?)?)?)?)?([+-]\d{4})?$/;

/** Epoch ms, or undefined when the text is not a valid DTM. */
export function parseDtm(text: string): number | undefined {
  const m = DTM.exec(text.trim());
  if (!m) return undefined;
  const year = Number(m[1]);
  const month = m[2] === undefined ? 1 : Number(m[2]);
  const day = m[3] === undefined ? 1 : Number(m[3]);
  const hour = Number(m[4] ?? 0);
  const minute = Number(m[5] ?? 0);
  const second = Number(m[6] ?? 0);
  const ms = m[7] === undefined ? 0 : Math.round(Number(`0.${m[7]}`) * 1000);
  if (!isCalendarDate(year, month, day) || hour > 23 || minute > 59 || second > 59) return undefined;
  let ts: number;
  let checkDay: number;
  if (m[8] !== undefined) {
    const sign = m[8][0] === '-' ? -1 : 1;
    const offsetMin = Number(m[8].slice(1, 3)) * 60 + Number(m[8].slice(3, 5));
    if (Number(m[8].slice(3, 5)) > 59 || Number(m[8].slice(1, 3)) > 23) return undefined;
    ts = Date.UTC(year, month - 1, day, hour, minute, second, ms) - sign * offsetMin * 60_000;
    checkDay = new Date(Date.UTC(year, month - 1, day)).getUTCDate();
  } else {
    const local = new Date(year, month - 1, day, hour, minute, second, ms);
    ts = local.getTime();
    checkDay = local.getDate();
  }
  // 20260230 rolls over into March: not a date the sender could have meant.
  return checkDay === day ? ts : undefined;
}

/** The current time as a DTM with seconds and offset, for MSH-7 of an ACK. */
export function formatDtm(ms: number): string {
  const d = new Date(ms);
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  const offset = -d.getTimezoneOffset();
  const sign = offset < 0 ? '-' : '+';
  const abs = Math.abs(offset);
  return `${d.getFullYear()}${pad(d.getMonth() + 1)}${pad(d.getDate())}${pad(d.getHours())}${pad(d.getMinutes())}${pad(d.getSeconds())}${sign}${pad(Math.floor(abs / 60))}${pad(abs % 60)}`;
}
