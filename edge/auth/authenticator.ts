// Checks credentials of devices and users against the salted hashes in config.
// A successful check is remembered (as an HMAC of the password under a key that
// lives only in this process) so that a ward's reconnect burst does not pay a
// full scrypt per device.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Principal } from '../config/load.js';
import { LoginThrottle } from './loginThrottle.js';
import { hashPassword, verifyPassword } from './password.js';

export class Authenticator {
  readonly #principals: ReadonlyMap<string, Principal>;
  readonly #cacheKey = randomBytes(32);
  readonly #verified = new Map<string, Buffer>();
  #decoy: Promise<string> | undefined;
  readonly #throttle: LoginThrottle;

  constructor(principals: readonly Principal[], throttle: LoginThrottle = new LoginThrottle()) {
    this.#principals = new Map(principals.map((p) => [p.name, p]));
    this.#throttle = throttle;
  }

  principal(name: string): Principal | undefined {
    return this.#principals.get(name);
  }

  /**
   * The principal whose name and password match, or undefined. Takes the same
   * time for unknown names; after repeated failures from one source, refuses
   * at once for a while (see LoginThrottle).
   */
  async check(name: string, password: string, source = ''): Promise<Principal | undefined> {
    // Throttled per name and source address: guesses from elsewhere cannot lock a device out.
    const key = `${name}@${source}`;
    if (this.#throttle.waitMs(key) > 0) return undefined;
    const principal = await this.#check(name, password);
    if (principal) this.#throttle.succeeded(key);
    else this.#throttle.failed(key);
    return principal;
  }

  async #check(name: string, password: string): Promise<Principal | undefined> {
    const principal = this.#principals.get(name);
    if (!principal || !principal.secretHash) {
      // Spend the same effort as a real check, so that timing does not reveal which names exist.
      this.#decoy ??= hashPassword(randomBytes(16).toString('hex'));
      await verifyPassword(password, await this.#decoy);
      return undefined;
    }
    const tag = createHmac('sha256', this.#cacheKey).update(principal.secretHash).update('\0').update(password).digest();
    const known = this.#verified.get(principal.name);
    if (known && timingSafeEqual(known, tag)) return principal;
    if (!(await verifyPassword(password, principal.secretHash))) return undefined;
    this.#verified.set(principal.name, tag);
    return principal;
  }
}
