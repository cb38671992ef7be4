// The observation-message validator: turns a device's JSON into normalized,
// coded readings, or into a rejection that names the field and says why.
import { lookupCode } from './codes.js';
import { reject, type Rejection } from './errors.js';
import { isNoValueMarker, isPlausible } from './plausibility.js';
import { ReadingFlag, type Reading } from './reading.js';
import { isRejection, parseTimestamp, type TimestampPolicy } from './timestamp.js';
import { acceptedUnits, toCanonical } from './units.js';

/** More entries than any bedside device sends in one message. */
export const MAX_OBS_PER_MESSAGE = 64;

const MESSAGE_KEYS = new Set(['seq', 'ts', 'obs']);
const ENTRY_KEYS = new Set(['code', 'value', 'unit', 'ts', 'unreliable']);
const ABSENT_TEXT = new Set(['--', '---', '--.-', '']);

export interface ValidObservation {
  readonly ok: true;
  readonly seq: number;
  /** Message time, epoch ms (the receive time when the device sent none). */
  readonly ts: number;
  readonly readings: Reading[];
  /** Entries that carried a "no value" marker: present in the message, not a reading. */
  readonly absent: number;
}

export type ObservationResult = ValidObservation | { readonly ok: false; readonly error: Rejection };

const fail = (error: Rejection) => ({ ok: false as const, error });

/** Parses raw bytes (UTF-8 JSON) and validates them as an observation message. */
export function parseObservation(payload: Buffer | string, policy: TimestampPolicy): ObservationResult {
  let body: unknown;
  try {
    body = JSON.parse(typeof payload === 'string' ? payload : payload.toString('utf8'));
  } catch (err) {
    return fail(reject('WG_ERR_JSON', `payload is not valid JSON (${(err as Error).message})`));
  }
  return validateObservation(body, policy);
}

/** Validates an already-parsed observation message. */
export function validateObservation(body: unknown, policy: TimestampPolicy): ObservationResult {
  if (!isPlainObject(body)) return fail(reject('WG_ERR_SCHEMA', 'expected a JSON object with seq and obs'));
  const unknown = firstUnknownKey(body, MESSAGE_KEYS);
  if (unknown !== undefined) return fail(reject('WG_ERR_SCHEMA', 'unknown field (allowed: seq, ts, obs)', unknown));

  const seq = body.seq;
  if (seq === undefined)
    return fail(reject('WG_ERR_SCHEMA', 'missing: every message needs a per-device sequence number', 'seq'));
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) {
    return fail(reject('WG_ERR_SCHEMA', 'expected a whole number >= 0', 'seq'));
  }

  let ts = policy.now;
  if (body.ts !== undefined) {
    const parsed = parseTimestamp(body.ts, 'ts', policy);
    if (isRejection(parsed)) return fail(parsed);
    ts = parsed;
  }

  const obs = body.obs;
  if (!Array.isArray(obs)) return fail(reject('WG_ERR_SCHEMA', 'expected an array of observations', 'obs'));
  if (obs.length === 0) return fail(reject('WG_ERR_SCHEMA', 'expected at least one observation', 'obs'));
  if (obs.length > MAX_OBS_PER_MESSAGE) {
    return fail(
      reject('WG_ERR_SCHEMA', `expected at most ${MAX_OBS_PER_MESSAGE} observations, got ${obs.length}`, 'obs'),
    );
  }

  const readings: Reading[] = [];
  // At most 64 codes, each the registry's own string: a short list is cheaper than a set.
  const seen: string[] = [];
  let absent = 0;
  for (let i = 0; i < obs.length; i++) {
    const entry = checkEntry(obs[i], i, ts, policy);
    if (isRejection(entry)) return fail(entry);
    if (seen.includes(entry.code)) {
      return fail(reject('WG_ERR_SCHEMA', `'${entry.code}' appears twice in one message`, `obs[${i}].code`));
    }
    seen.push(entry.code);
    if (entry.reading) readings.push(entry.reading);
    else absent++;
  }
  return { ok: true, seq, ts, readings, absent };
}

/** One entry alone (a driver checking a row before grouping it: HL7 refuses rows, not messages). */
export function validateEntry(
  entry: unknown,
  at: string,
  messageTs: number,
  policy: TimestampPolicy,
): { code: string; reading?: Reading } | Rejection {
  return checkEntry(entry, at, messageTs, policy);
}

/** Where an entry is: a driver's path, or its index in a message's obs. */
const pathOf = (where: string | number) => (typeof where === 'number' ? `obs[${where}]` : where);

/** `where`: as pathOf; an index's path is built only for a rejection, not for each valid entry. */
function checkEntry(
  entry: unknown,
  where: string | number,
  messageTs: number,
  policy: TimestampPolicy,
): { code: string; reading?: Reading } | Rejection {
  if (!isPlainObject(entry))
    return reject('WG_ERR_SCHEMA', 'expected an object with code, value and unit', pathOf(where));
  const unknown = firstUnknownKey(entry, ENTRY_KEYS);
  if (unknown !== undefined)
    return reject(
      'WG_ERR_SCHEMA',
      'unknown field (allowed: code, value, unit, ts, unreliable)',
      `${pathOf(where)}.${unknown}`,
    );

  const rawCode = entry.code;
  if (typeof rawCode !== 'string' && typeof rawCode !== 'number') {
    return reject('WG_ERR_SCHEMA', 'expected a short name such as spo2 or an MDC code', `${pathOf(where)}.code`);
  }
  const metric = lookupCode(rawCode);
  if (!metric)
    return reject('WG_ERR_UNKNOWN_CODE', `'${rawCode}' is not a known short name or MDC code`, `${pathOf(where)}.code`);

  if (entry.unreliable !== undefined && typeof entry.unreliable !== 'boolean') {
    return reject('WG_ERR_SCHEMA', 'expected true or false', `${pathOf(where)}.unreliable`);
  }

  let ts = messageTs;
  if (entry.ts !== undefined) {
    const parsed = parseTimestamp(entry.ts, `${pathOf(where)}.ts`, policy);
    if (isRejection(parsed)) return parsed;
    ts = parsed;
  }

  const value = entry.value;
  if (value === null || (typeof value === 'string' && ABSENT_TEXT.has(value.trim()))) return { code: metric.code };
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    return reject('WG_ERR_SCHEMA', 'expected a number, or null when the device has no value', `${pathOf(where)}.value`);
  }
  if (isNoValueMarker(value)) return { code: metric.code };

  const unit = entry.unit;
  if (typeof unit !== 'string') {
    return reject('WG_ERR_UNIT', `missing: expected a UCUM unit such as ${metric.unit}`, `${pathOf(where)}.unit`);
  }
  const canonical = toCanonical(value, unit, metric.unit);
  if (canonical === undefined) {
    return reject(
      'WG_ERR_UNIT',
      `'${unit}' does not fit ${metric.code}; expected one of ${acceptedUnits(metric.unit).join(', ')}`,
      `${pathOf(where)}.unit`,
    );
  }

  let flags = 0;
  if (!isPlausible(metric.code, canonical)) flags |= ReadingFlag.artifact;
  if (entry.unreliable === true) flags |= ReadingFlag.unreliable;
  return { code: metric.code, reading: { code: metric.code, value: canonical, unit: metric.unit, ts, flags } };
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function firstUnknownKey(obj: Record<string, unknown>, allowed: Set<string>): string | undefined {
  for (const key in obj) if (!allowed.has(key)) return key;
  return undefined;
}
