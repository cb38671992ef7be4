// JSON answers shared by the HTTP functions: errors always carry a stable
// WG_ERR_* code, a sentence, and the field when one is at fault.
import { randomBytes } from 'node:crypto';
import type { Request, Response } from '@google-cloud/functions-framework';
import { httpStatusOf, isHttpErrorCode, type HttpErrorCode, type Rejection } from '../shared/errors.js';
import { verifySignature } from '../shared/sync/signature.js';
import { SyncHeader, type CloudErrorBody } from '../shared/sync/wire.js';
import type { CloudContext } from './context.js';
import type { GatewayEntry } from './settings.js';

export function sendJson(res: Response, status: number, body: unknown): void {
  res.status(status).set('Cache-Control', 'no-store').json(body);
}

/** An error answer, with the status shared/errors.ts gives its code (documented in docs/ERRORS.md). */
export function sendError(res: Response, code: HttpErrorCode, message: string, field?: string): void {
  const body: CloudErrorBody = { ok: false, error: { code, message, ...(field !== undefined && { field }) } };
  sendJson(res, httpStatusOf(code), body);
}

/** A validator's refusal of a request. A code HTTP has no status for would be a fault of ours, and is answered as one. */
export function sendRejection(res: Response, rejection: Rejection): void {
  if (isHttpErrorCode(rejection.code)) return sendError(res, rejection.code, rejection.message, rejection.field);
  sendError(
    res,
    'WG_ERR_INTERNAL',
    `the request failed inside the cloud function (${rejection.code} has no HTTP answer)`,
  );
}

/** A header's single value (Node joins repeats with ", "; a repeated security header is refused by its parser). */
export function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}

export type GatewayCheck =
  | { readonly ok: true; readonly id: string; readonly gateway: GatewayEntry; readonly timestampMs: number }
  | {
      readonly ok: false;
      readonly id: string | undefined;
      readonly reason: 'unknown' | 'missing' | 'malformed' | 'mismatch' | 'stale';
    };

/** Checks an unknown gateway id against this secret: the same work as a known one, so timing does not tell them apart. */
const NO_GATEWAY_SECRET = randomBytes(32);

/** The gateway named by X-Wardgate-Gateway, if its signature over `body` is good. */
export function verifyGatewaySignature(ctx: CloudContext, req: Request, body: Buffer): GatewayCheck {
  const id = header(req.headers[SyncHeader.gateway]);
  const gateway = id === undefined ? undefined : ctx.settings.gateways.get(id);
  const check = verifySignature(
    gateway?.secret ?? NO_GATEWAY_SECRET,
    header(req.headers[SyncHeader.timestamp]),
    header(req.headers[SyncHeader.signature]),
    body,
    ctx.now(),
  );
  if (!gateway) return { ok: false, id, reason: 'unknown' };
  if (!check.ok) return { ok: false, id, reason: check.reason };
  return { ok: true, id: id!, gateway, timestampMs: check.timestampMs };
}

/**
 * One answer for every bad signature, whatever the cause (an unknown gateway,
 * a missing, malformed or wrong signature): a prober learns nothing about which
 * gateway ids exist. Only a request that carries a valid signature, which only
 * the gateway can make, is told that its clock is off. The log keeps the cause.
 */
export function sendSignatureRefusal(res: Response, check: Extract<GatewayCheck, { ok: false }>): void {
  if (check.reason === 'stale')
    return sendError(
      res,
      'WG_ERR_STALE',
      'the signed timestamp lies outside the 5-minute window; check the gateway clock (NTP)',
      'X-Wardgate-Timestamp',
    );
  sendError(
    res,
    'WG_ERR_SIGNATURE',
    'unknown gateway, or a missing, malformed or wrong signature',
    'X-Wardgate-Signature',
  );
}
