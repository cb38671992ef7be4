// HL7 v2 date/time (DTM, v2.6 section 2.A.22):
// YYYY[MM[DD[HH[MM[SS[.S[S[S[S]]]]]]]]][+/-ZZZZ]. Without an offset the time is
// the sender's local time (v2.6 2.A.22: "the time zone of the sender"), which
// the message itself tells through MSH-7's offset, or the configuration
// through the sender's time zone (hl7.senders[].timeZone). The gateway's own
// zone is never assumed: a time with no zone known is refused, not guessed.
// Missing parts mean the start of the period. A date the calendar does not
// have (30 February) is refused, not rolled over.
import { isCalendarDate } from '../../shared/timestamp.js';

const DTM = /^(\d{4})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:\.(\d{1,4}))?)?)?)?)?)?([+-]\d{4})?$/;

/** Where a time without its own offset is placed: a fixed offset (minutes east of UTC) or an IANA zone. */
export type DtmZone = { readonly offsetMin: number } | { readonly timeZone: string };

/** Why a DTM could not be read: not a date/time at all, or no zone known for a local time. */
export type DtmError = 'format' | 'zone';

export interface DtmValue {
  readonly ts: number;
  /** The UTC offset the text carried, in minutes east; undefined when it had none. */
  readonly offsetMin?: number;
}

/** Reads a DTM; a time without offset is placed by `zone`, and refused ('zone') when there is none. */
export function readDtm(text: string, zone?: DtmZone): DtmValue | DtmError {
  const m = DTM.exec(text.trim());
  if (!m) return 'format';
  const year = Number(m[1]);
  const month = m[2] === undefined ? 1 : Number(m[2]);
  const day = m[3] === undefined ? 1 : Number(m[3]);
  const hour = Number(m[4] ?? 0);
  const minute = Number(m[5] ?? 0);
  const second = Number(m[6] ?? 0);
  const ms = m[7] === undefined ? 0 : Math.round(Number(`0.${m[7]}`) * 1000);
  // 20260230 would roll over into March: not a date the sender could have meant.
  if (!isCalendarDate(year, month, day) || hour > 23 || minute > 59 || second > 59) return 'format';
  const wall = Date.UTC(year, month - 1, day, hour, minute, second, ms);
  if (new Date(Date.UTC(year, month - 1, day)).getUTCDate() !== day) return 'format';
  if (m[8] !== undefined) {
    const hours = Number(m[8].slice(1, 3));
    const minutes = Number(m[8].slice(3, 5));
    if (minutes > 59 || hours > 23) return 'format';
    const offsetMin = (m[8][0] === '-' ? -1 : 1) * (hours * 60 + minutes);
    return { ts: wall - offsetMin * 60_000, offsetMin };
  }
  if (!zone) return 'zone';
  if ('offsetMin' in zone) return { ts: wall - zone.offsetMin * 60_000 };
  return { ts: wall - zoneOffsetMin(zone.timeZone, wall) * 60_000 };
}

/** Epoch ms of a DTM that carries its offset or is placed by `zone`; undefined otherwise. */
export function parseDtm(text: string, zone?: DtmZone): number | undefined {
  const v = readDtm(text, zone);
  return typeof v === 'string' ? undefined : v.ts;
}

/** The offset (minutes east of UTC) of an IANA zone at the instant whose local wall-clock reading is `wall` (as if UTC). */
function zoneOffsetMin(timeZone: string, wall: number): number {
  // Two passes: the offset at the wall time read as UTC, then at the instant that gives; right across DST changes but the skipped hour.
  const first = offsetAt(timeZone, wall);
  const second = offsetAt(timeZone, wall - first * 60_000);
  return second;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function offsetAt(timeZone: string, instant: number): number {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(timeZone, f);
  }
  const parts = new Map(f.formatToParts(new Date(instant)).map((p) => [p.type, p.value]));
  const local = Date.UTC(
    Number(parts.get('year')),
    Number(parts.get('month')) - 1,
    Number(parts.get('day')),
    Number(parts.get('hour')),
    Number(parts.get('minute')),
    Number(parts.get('second')),
  );
  return Math.round((local - Math.floor(instant / 1000) * 1000) / 60_000);
}

/** Whether `timeZone` is an IANA zone this runtime knows (config validation). */
export function isTimeZone(timeZone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone });
    return true;
  } catch {
    return false;
  }
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
