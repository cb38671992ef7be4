// JSON answers shared by the HTTP functions: errors always carry a stable
// WG_ERR_* code, a sentence, and the field when one is at fault.
import type { Response } from '@google-cloud/functions-framework';
import type { ErrorCode } from '../shared/errors.js';
import type { CloudErrorBody } from '../shared/sync/wire.js';

export function sendJson(res: Response, status: number, body: unknown): void {
  res.status(status).set('Cache-Control', 'no-store').json(body);
}

export function sendError(res: Response, status: number, code: ErrorCode, message: string, field?: string): void {
  const body: CloudErrorBody = { ok: false, error: { code, message, ...(field !== undefined && { field }) } };
  sendJson(res, status, body);
}

/** A header's single value (Node joins repeats with ", "; a repeated security header is refused by its parser). */
export function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}
