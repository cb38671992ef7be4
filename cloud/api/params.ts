// Query parameters of the read API: times, limits and opaque cursors, each
// failing with the parameter's name and what was expected.
import { WardgateError } from '../../shared/errors.js';

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

/** The query string as sent: parsed here, not by the framework, so that a name is never looked up in a plain object. */
export type Query = URLSearchParams;

export function queryOf(url: string): Query {
  const at = url.indexOf('?');
  return new URLSearchParams(at < 0 ? '' : url.slice(at + 1));
}

export function single(query: Query, name: string): string | undefined {
  const values = query.getAll(name);
  if (values.length === 0) return undefined;
  if (values.length > 1) throw new WardgateError('WG_ERR_SCHEMA', 'give the parameter once', name);
  return values[0];
}

/** RFC 3339 text or epoch milliseconds. */
export function timeParam(query: Query, name: string, fallback: number): number {
  const v = single(query, name);
  if (v === undefined) return fallback;
  if (/^\d{10,15}$/.test(v)) return Number(v);
  if (RFC3339.test(v) && !Number.isNaN(Date.parse(v))) return Date.parse(v);
  throw new WardgateError('WG_ERR_SCHEMA', 'expected RFC 3339 time or epoch milliseconds', name);
}

export function intParam(query: Query, name: string, fallback: number, min: number, max: number): number {
  const v = single(query, name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < min || n > max)
    throw new WardgateError('WG_ERR_SCHEMA', `expected a whole number from ${min} to ${max}`, name);
  return n;
}

export function listParam(query: Query, name: string): string[] | undefined {
  const v = single(query, name);
  return v === undefined ? undefined : v.split(',').filter(Boolean);
}

export function encodeCursor(value: unknown): string {
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
}

/** Decodes a cursor and checks its shape and range with `valid`: a cursor is opaque, so anything else is a 400, never a failed read. */
export function cursorParam<T>(query: Query, valid: (v: unknown) => v is T): T | undefined {
  const v = single(query, 'cursor');
  if (v === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = /^[A-Za-z0-9_-]{1,512}$/.test(v) ? JSON.parse(Buffer.from(v, 'base64url').toString('utf8')) : undefined;
  } catch {
    parsed = undefined;
  }
  if (valid(parsed)) return parsed;
  throw new WardgateError('WG_ERR_SCHEMA', 'not a cursor returned by this API for this request', 'cursor');
}
