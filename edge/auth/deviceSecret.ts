// Device secrets: long random strings minted by the gateway (`wardgate passwd
// --device`), 256 bits each. A secret that no person chose needs no slow hash:
// guessing it is hopeless whatever the hash costs, so its verifier is a plain
// SHA-256 (domain-separated), checked in microseconds and compared in constant
// time. That is what lets a whole floor of devices log in again at once after
// a restart. People's passwords keep scrypt (password.ts) and the throttle.
// Format: sha256$<base64url of SHA-256("wardgate device secret\0" + secret)>
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

const PREFIX = 'sha256$';
const FORMAT = /^sha256\$[A-Za-z0-9_-]{43}$/;
const DOMAIN = 'wardgate device secret\0';
/** Bytes of randomness in a minted secret (NIST SP 800-63B asks at least 112 bits of a look-up secret; this is 256). */
export const DEVICE_SECRET_BYTES = 32;

/** A fresh secret: 32 random bytes, base64url (43 characters). */
export function mintDeviceSecret(): string {
  return randomBytes(DEVICE_SECRET_BYTES).toString('base64url');
}

function digest(secret: string): Buffer {
  return createHash('sha256').update(DOMAIN).update(secret, 'utf8').digest();
}

export function deviceVerifier(secret: string): string {
  return `${PREFIX}${digest(secret).toString('base64url')}`;
}

export function isDeviceVerifier(text: string): boolean {
  return FORMAT.test(text);
}

/** Synchronous and cheap (one SHA-256): no queue, no thread pool. */
export function verifyDeviceSecret(secret: string, verifier: string): boolean {
  if (!isDeviceVerifier(verifier)) return false;
  const want = Buffer.from(verifier.slice(PREFIX.length), 'base64url');
  const got = digest(secret);
  return timingSafeEqual(want, got);
}
