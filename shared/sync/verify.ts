// Reconciliation on the wire: the edge asks the cloud what it holds for
// ranges of its outbox, POST {cloud.url}/verifyRange, signed like a batch
// (the same headers; HMAC over the exact JSON body bytes, no gzip), and
// compares the answer with its own items. Per range the cloud answers the
// count and a digest of the items it holds, read from the stored data itself
// (segments, alarm events, audit entries), not from its record of what it
// stored, so a hole is seen whatever caused it.
import { createHash } from 'node:crypto';
import { formatSyncTimestamp, signBody } from './signature.js';
import { syncStreams, type SyncAlarmEvent, type SyncAuditEntry, type SyncReading, type SyncStream } from './wire.js';

/** Streams that can be verified item by item (device status is kept as the latest per device, not per item). */
export const verifiableStreams = ['readings', 'alarms', 'audit'] as const;
export type VerifiableStream = (typeof verifiableStreams)[number];

/** Outbox numbers per range at most: one shard of the cloud's record (RECORD_SPAN). A range must not cross a multiple of it. */
export const VERIFY_RANGE_SPAN = 2 ** 19;
export const MAX_VERIFY_RANGES = 32;
/** Largest request body. */
export const MAX_VERIFY_BYTES = 16 * 1024;

/** A closed range [lo, hi] of outbox numbers of one stream. */
export interface VerifyRange {
  readonly stream: VerifiableStream;
  readonly lo: number;
  readonly hi: number;
}

export interface VerifyRequest {
  readonly v: 1;
  readonly gateway: string;
  /** At most MAX_VERIFY_RANGES; may be empty when `heads` is asked. */
  readonly ranges: readonly VerifyRange[];
  /**
   * Asks for the highest number the cloud's record holds per stream. A gateway
   * asks it at start, before its first batch: a database restored from an
   * older backup, or wiped, would otherwise number new items with numbers the
   * cloud already holds, and they would be skipped as already stored.
   */
  readonly heads?: true;
}

/** Per stream, the highest outbox number the cloud's record holds for the gateway; 0 when it holds none. */
export type StreamHeads = Readonly<Record<SyncStream, number>>;

export interface VerifiedRange extends VerifyRange {
  /** Items the cloud holds in the range. */
  readonly count: number;
  /** rangeDigest of their keys. */
  readonly digest: string;
  /**
   * Numbers the cloud's record claimed in the range without holding the item
   * (data deleted behind its back): the record is corrected in the same
   * transaction, so that a re-send of the range stores them again.
   */
  readonly corrected: number;
  /**
   * The distinct numbers held, as closed intervals [lo, hi] in ascending
   * order: the edge compares them with its own numbers, so that an item held
   * twice (or one this edge has purged) cannot make up for one missing
   * elsewhere in the range. Absent from clouds that predate it.
   */
  readonly held?: ReadonlyArray<readonly [number, number]>;
}

export interface VerifyAnswer {
  readonly ok: true;
  readonly gateway: string;
  readonly ranges: readonly VerifiedRange[];
  /** Present when the request asked for `heads`. */
  readonly heads?: StreamHeads;
}

/** The key of an item in a digest: its number and what identifies its content. */
export const readingKey = (r: Pick<SyncReading, 'n' | 'device' | 'seq' | 'code'>) =>
  `${r.n}/${r.device}/${r.seq}/${r.code}`;
export const alarmKey = (a: Pick<SyncAlarmEvent, 'n' | 'alarmId' | 'phase'>) => `${a.n}/${a.alarmId}/${a.phase}`;
export const auditKey = (e: Pick<SyncAuditEntry, 'n' | 'action'>) => `${e.n}/${e.action}`;

/** Order-independent: SHA-256 of the keys sorted by number then text, one per line; the first 32 hex digits. */
export function rangeDigest(keys: readonly string[]): string {
  const sorted = [...keys].sort(
    (a, b) => Number.parseInt(a, 10) - Number.parseInt(b, 10) || (a < b ? -1 : a > b ? 1 : 0),
  );
  const hash = createHash('sha256').update('wardgate-verify-v1', 'utf8');
  for (const key of sorted) hash.update(`\n${key}`, 'utf8');
  return hash.digest('hex').slice(0, 32);
}

/** Splits [lo, hi] at multiples of VERIFY_RANGE_SPAN. */
export function splitRange(stream: VerifiableStream, lo: number, hi: number): VerifyRange[] {
  const out: VerifyRange[] = [];
  for (let a = lo; a <= hi; a = (Math.floor(a / VERIFY_RANGE_SPAN) + 1) * VERIFY_RANGE_SPAN) {
    out.push({ stream, lo: a, hi: Math.min(hi, (Math.floor(a / VERIFY_RANGE_SPAN) + 1) * VERIFY_RANGE_SPAN - 1) });
  }
  return out;
}

/** The request's body and headers (X-Wardgate-Gateway, -Timestamp, -Signature, as for a batch). */
export function signedVerifyRequest(
  request: VerifyRequest,
  secret: string | Buffer,
  nowMs: number,
): { body: Buffer; headers: Record<string, string> } {
  const body = Buffer.from(JSON.stringify(request), 'utf8');
  const timestamp = formatSyncTimestamp(nowMs);
  return {
    body,
    headers: {
      'Content-Type': 'application/json',
      'X-Wardgate-Gateway': request.gateway,
      'X-Wardgate-Timestamp': timestamp,
      'X-Wardgate-Signature': signBody(secret, timestamp, body),
    },
  };
}

/** The request from untrusted JSON, or the reason it is refused. */
export function parseVerifyRequest(json: unknown): VerifyRequest | { error: string; field: string } {
  const r = json as Partial<VerifyRequest> | null;
  if (typeof r !== 'object' || r === null || r.v !== 1)
    return { error: 'expected {"v": 1, "gateway", "ranges"}', field: 'v' };
  if (typeof r.gateway !== 'string') return { error: 'expected a string', field: 'gateway' };
  if (r.heads !== undefined && r.heads !== true) return { error: 'expected true, or no field', field: 'heads' };
  const fewest = r.heads ? 0 : 1;
  if (!Array.isArray(r.ranges) || r.ranges.length < fewest || r.ranges.length > MAX_VERIFY_RANGES)
    return { error: `expected ${fewest} to ${MAX_VERIFY_RANGES} ranges`, field: 'ranges' };
  const ranges: VerifyRange[] = [];
  for (const [i, range] of (r.ranges as unknown[]).entries()) {
    const { stream, lo, hi } = (range ?? {}) as Partial<VerifyRange>;
    if (!verifiableStreams.includes(stream as VerifiableStream))
      return { error: `expected one of ${verifiableStreams.join(', ')}`, field: `ranges[${i}].stream` };
    if (!Number.isSafeInteger(lo) || !Number.isSafeInteger(hi) || lo! < 0 || hi! < lo!)
      return { error: 'expected integers 0 <= lo <= hi', field: `ranges[${i}]` };
    if (Math.floor(lo! / VERIFY_RANGE_SPAN) !== Math.floor(hi! / VERIFY_RANGE_SPAN))
      return { error: `a range may not cross a multiple of ${VERIFY_RANGE_SPAN}`, field: `ranges[${i}]` };
    ranges.push({ stream: stream!, lo: lo!, hi: hi! });
  }
  return { v: 1, gateway: r.gateway, ranges, ...(r.heads && { heads: true as const }) };
}

/** The heads of an answer, checked: every stream a whole number >= 0. */
export function parseHeads(json: unknown): StreamHeads | undefined {
  if (typeof json !== 'object' || json === null) return undefined;
  const heads = json as Record<string, unknown>;
  const out: Partial<Record<SyncStream, number>> = {};
  for (const stream of syncStreams) {
    const n = heads[stream];
    if (!Number.isSafeInteger(n) || (n as number) < 0) return undefined;
    out[stream] = n as number;
  }
  return out as StreamHeads;
}
