// Request signing for edge-to-cloud calls: `v1=<hex HMAC-SHA256(secret,
// timestamp + "." + body)>` over the exact body bytes as sent (for ingestBatch,
// the gzip bytes; for the config pull, an empty body). The same scheme as
// Stripe's and Slack's webhook signatures: the timestamp inside the MAC stops
// an old request being replayed outside the window.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { SIGNATURE_WINDOW_SECONDS } from './wire.js';

const SIGNATURE = /^v1=([0-9a-f]{64})$/;
const TIMESTAMP = /^[0-9]{1,15}$/;

/**
 * The X-Wardgate-Timestamp value: Unix time in whole milliseconds, decimal.
 * Milliseconds rather than seconds so that two attempts to send the same batch
 * never carry the same signature (the cloud refuses a signature it has seen).
 */
export function formatSyncTimestamp(nowMs: number): string {
  return String(Math.floor(nowMs));
}

/** The X-Wardgate-Signature value. */
export function signBody(secret: string | Buffer, timestamp: string, body: Buffer): string {
  const mac = createHmac('sha256', secret);
  mac.update(`${timestamp}.`, 'utf8');
  mac.update(body);
  return `v1=${mac.digest('hex')}`;
}

export type SignatureCheck =
  | { readonly ok: true; readonly timestampMs: number }
  | { readonly ok: false; readonly reason: 'missing' | 'malformed' | 'mismatch' | 'stale'; readonly message: string };

/**
 * Checks a signature and its timestamp. The MAC is compared in constant time,
 * and before the window, so that a forger learns nothing from the answer.
 */
export function verifySignature(
  secret: string | Buffer,
  timestamp: string | undefined,
  signature: string | undefined,
  body: Buffer,
  nowMs: number,
  windowSeconds = SIGNATURE_WINDOW_SECONDS,
): SignatureCheck {
  if (!timestamp || !signature) {
    return { ok: false, reason: 'missing', message: 'X-Wardgate-Timestamp and X-Wardgate-Signature are required' };
  }
  if (!TIMESTAMP.test(timestamp)) {
    return {
      ok: false,
      reason: 'malformed',
      message: 'X-Wardgate-Timestamp: expected Unix time in whole milliseconds',
    };
  }
  const given = SIGNATURE.exec(signature);
  if (!given) return { ok: false, reason: 'malformed', message: 'X-Wardgate-Signature: expected v1=<64 hex digits>' };
  const expected = Buffer.from(signBody(secret, timestamp, body).slice(3), 'hex');
  if (!timingSafeEqual(expected, Buffer.from(given[1], 'hex'))) {
    return { ok: false, reason: 'mismatch', message: 'signature does not match the body and timestamp' };
  }
  const ms = Number(timestamp);
  const skew = Math.abs(nowMs - ms) / 1000;
  if (skew > windowSeconds) {
    return {
      ok: false,
      reason: 'stale',
      message: `timestamp is ${Math.round(skew)} s from the cloud clock (window ${windowSeconds} s)`,
    };
  }
  return { ok: true, timestampMs: ms };
}
