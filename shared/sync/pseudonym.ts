// Patient identifiers never leave the ward in clear (PRODUCT.md, "Edge to cloud
// sync"; HIPAA 45 CFR 164.312 transmission security). The edge replaces each
// with a keyed pseudonym before a batch is built: HMAC-SHA256 under a secret
// that stays on the ward, so the cloud can link a patient's readings over time
// but cannot recover, or test guesses of, the identifier.
import { createHmac } from 'node:crypto';

/** Domain separation: the same ward secret used for anything else yields unrelated values. */
const CONTEXT = 'wardgate-patient-v1\n';
const PSEUDONYM = /^p[0-9a-f]{32}$/;

/**
 * `p` + the first 32 hex digits (128 bits) of HMAC-SHA256(wardSecret,
 * "wardgate-patient-v1\n" + identifier). The identifier is used as given after
 * trimming surrounding white space (an HL7 PID-3 `id^^^AUTH^MR` is hashed whole,
 * so ids from two authorities do not collide). 128 bits keeps collisions out of
 * reach for any hospital's patient count.
 */
export function patientPseudonym(wardSecret: string | Buffer, patientId: string): string {
  const id = patientId.trim();
  if (id.length === 0) throw new Error('patient identifier is empty');
  const mac = createHmac('sha256', wardSecret).update(CONTEXT, 'utf8').update(id, 'utf8').digest('hex');
  return `p${mac.slice(0, 32)}`;
}

/** Whether a value has the pseudonym's shape (the cloud refuses anything else, so a clear id is never stored). */
export function isPseudonym(value: string): boolean {
  return PSEUDONYM.test(value);
}
