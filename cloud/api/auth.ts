// Bearer-token authentication for the read API. Tokens are stored only as
// SHA-256 hashes; each grants read access to a list of wards (least privilege:
// a ward's station display sees its own ward only).
import { timingSafeEqual } from 'node:crypto';
import { sha256Hex, type ApiToken } from '../settings.js';

/** WG_ERR_AUTH (401): who are you; WG_ERR_FORBIDDEN (403): not this ward. */
export type AuthResult =
  { ok: true; token: ApiToken } | { ok: false; code: 'WG_ERR_AUTH' | 'WG_ERR_FORBIDDEN'; message: string };

export function authenticate(
  authorization: string | undefined,
  tokens: readonly ApiToken[],
  ward: string | undefined,
): AuthResult {
  const match = /^Bearer ([\x21-\x7e]{16,512})$/.exec(authorization ?? '');
  if (!match) return { ok: false, code: 'WG_ERR_AUTH', message: 'send Authorization: Bearer <token>' };
  const digest = Buffer.from(sha256Hex(match[1]), 'hex');
  // Compare against every token, in constant time each, so timing says nothing about which exist.
  let found: ApiToken | undefined;
  for (const token of tokens) if (timingSafeEqual(digest, Buffer.from(token.sha256, 'hex'))) found = token;
  if (!found) return { ok: false, code: 'WG_ERR_AUTH', message: 'unknown token' };
  if (ward !== undefined && !found.wards.includes('*') && !found.wards.includes(ward)) {
    return { ok: false, code: 'WG_ERR_FORBIDDEN', message: `this token may not read ward ${ward}` };
  }
  return { ok: true, token: found };
}
