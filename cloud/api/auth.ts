// Bearer-token authentication for the read API. Tokens are stored only as
// SHA-256 hashes; each grants read access to a list of wards (least privilege:
// a ward's station display sees its own ward only).
import { timingSafeEqual } from 'node:crypto';
import { sha256Hex, type ApiToken } from '../settings.js';

export type AuthResult = { ok: true; token: ApiToken } | { ok: false; status: 401 | 403; message: string };

export function authenticate(authorization: string | undefined, tokens: readonly ApiToken[], ward: string | undefined): AuthResult {
  const match = /^Bearer ([\x21-\x7e]{16,512})$/.exec(authorization ?? '');
  if (!match) return { ok: false, status: 401, message: 'send Authorization: Bearer <token>' };
  const digest = Buffer.from(sha256Hex(match[1]), 'hex');
  // Compare against every token, in constant time each, so timing says nothing about which exist.
  let found: ApiToken | undefined;
  for (const token of tokens) if (timingSafeEqual(digest, Buffer.from(token.sha256, 'hex'))) found = token;
  if (!found) return { ok: false, status: 401, message: 'unknown token' };
  if (ward !== undefined && !found.wards.includes('*') && !found.wards.includes(ward)) {
    return { ok: false, status: 403, message: `this token may not read ward ${ward}` };
  }
  return { ok: true, token: found };
}
