// Checks credentials of devices and users against the verifiers in config.
// A device's minted secret (deviceSecret.ts) is checked at once, on this
// thread, in microseconds: no queue, so a floor's reconnect storm is answered
// as fast as the broker reads CONNECTs; and before the throttles, so a right
// secret is accepted even from an address that another client got locked.
// People's passwords (and devices still configured with an scrypt hash) take
// the slow path. A successful slow check is remembered (as an HMAC of the
// password under a key that lives only in this process) so that a ward's
// reconnect burst does not pay a full scrypt per device. Failures are
// throttled per name and source address, and per source address alone
// (random names must not be free guesses); the scrypt itself waits in a
// bounded VerificationQueue.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Principal } from '../config/load.js';
import { isDeviceVerifier, verifyDeviceSecret } from './deviceSecret.js';
import { LoginThrottle } from './loginThrottle.js';
import { isPasswordHash, verifyPassword } from './password.js';
import { VerificationQueue } from './verificationQueue.js';

export type LoginOutcome =
  | { readonly kind: 'accepted'; readonly principal: Principal }
  /** Wrong name or password, throttled, or the requester went away: the same answer for all. */
  | { readonly kind: 'refused' }
  /** Too many verifications waiting: nothing was checked; try again shortly. */
  | { readonly kind: 'busy' };

const REFUSED: LoginOutcome = Object.freeze({ kind: 'refused' });
const BUSY: LoginOutcome = Object.freeze({ kind: 'busy' });

export interface AuthenticatorOptions {
  /** Failures from one source address, whatever the names (default: 20 free, then 30 s locks, forgotten after 10 quiet minutes). */
  readonly addressThrottle?: LoginThrottle;
  readonly queue?: VerificationQueue;
}

export class Authenticator {
  readonly #principals: ReadonlyMap<string, Principal>;
  readonly #cacheKey = randomBytes(32);
  readonly #verified = new Map<string, Buffer>();
  readonly #throttle: LoginThrottle;
  readonly #addressThrottle: LoginThrottle;
  readonly #queue: VerificationQueue;
  /** How long one scrypt verification takes here (moving average), for the answer to unknown names. */
  #typicalMs: number | undefined;

  constructor(
    principals: readonly Principal[],
    throttle: LoginThrottle = new LoginThrottle(),
    options: AuthenticatorOptions = {},
  ) {
    this.#principals = new Map(principals.map((p) => [p.name, p]));
    this.#throttle = throttle;
    this.#addressThrottle =
      options.addressThrottle ?? new LoginThrottle({ freeFailures: 20, lockMs: 30_000, forgetAfterMs: 600_000 });
    this.#queue = options.queue ?? new VerificationQueue();
  }

  principal(name: string): Principal | undefined {
    return this.#principals.get(name);
  }

  /** The principal whose name and password match, or undefined (see attempt). */
  async check(name: string, password: string, source = ''): Promise<Principal | undefined> {
    const outcome = await this.attempt(name, password, source);
    return outcome.kind === 'accepted' ? outcome.principal : undefined;
  }

  /**
   * Checks a login. Unknown names and wrong device secrets cost no scrypt,
   * only a wait as long as a real check would take, so that timing does not
   * tell which names exist.
   * `isWanted` is asked when a queued verification's turn comes: a requester
   * that has gone (a closed connection) costs nothing more.
   */
  async attempt(
    name: string,
    password: string,
    source = '',
    isWanted: () => boolean = () => true,
  ): Promise<LoginOutcome> {
    // Per name and address: guesses from elsewhere cannot lock a device out.
    const key = `${name}@${source}`;
    const principal = this.#principals.get(name);
    const minted = principal !== undefined && isDeviceVerifier(principal.secretHash);
    // A minted secret (256 bits) cannot be guessed, so the throttles, which
    // ration guesses, do not stand before it: a device that shares its address
    // with a failing client (NAT, a bridge box) keeps sending readings and alarms.
    if (minted && verifyDeviceSecret(password, principal.secretHash)) return this.#accepted(key, principal);
    if (this.#throttle.waitMs(key) > 0 || this.#addressThrottle.waitMs(source) > 0) return REFUSED;
    // A wrong device secret is answered like an unknown name, after as long.
    const verdict =
      principal?.secretHash && !minted
        ? await this.#verify(principal, password, isWanted)
        : await this.#unknown(isWanted);
    if (verdict === 'busy') return BUSY;
    if (verdict === 'abandoned') return REFUSED;
    if (verdict && principal) return this.#accepted(key, principal);
    this.#throttle.failed(key);
    this.#addressThrottle.failed(source);
    return REFUSED;
  }

  #accepted(key: string, principal: Principal): LoginOutcome {
    this.#throttle.succeeded(key);
    return { kind: 'accepted', principal };
  }

  /** Principals whose verifier is a slow (scrypt) hash although they are devices: each costs a reconnect storm a scrypt. */
  slowDevices(): string[] {
    return [...this.#principals.values()]
      .filter((p) => p.kind === 'device' && isPasswordHash(p.secretHash))
      .map((p) => p.name);
  }

  /** The slow path: an scrypt hash, or the remembered success of one. */
  async #verify(
    principal: Principal,
    password: string,
    isWanted: () => boolean,
  ): Promise<boolean | 'busy' | 'abandoned'> {
    const tag = createHmac('sha256', this.#cacheKey)
      .update(principal.secretHash)
      .update('\0')
      .update(password)
      .digest();
    const known = this.#verified.get(principal.name);
    if (known && timingSafeEqual(known, tag)) return true;
    const verdict = await this.#timedScrypt(password, principal.secretHash, isWanted);
    if (verdict === true) this.#verified.set(principal.name, tag);
    return verdict;
  }

  /** What an unknown name gets: the answer a wrong password would get, after about as long, without the work. */
  async #unknown(isWanted: () => boolean): Promise<false | 'busy' | 'abandoned'> {
    if (this.#queue.full) return 'busy';
    if (this.#typicalMs === undefined) {
      // Once per process: measure a real verification against a configured hash.
      const sample = [...this.#principals.values()].find((p) => isPasswordHash(p.secretHash));
      if (!sample) return false;
      const verdict = await this.#timedScrypt(randomBytes(16).toString('hex'), sample.secretHash, isWanted);
      return verdict === true ? false : verdict;
    }
    // As long as a known name would wait: the line ahead of it, then its own turn.
    await sleep(this.#typicalMs * (1 + this.#queue.waiting / this.#queue.concurrency));
    return isWanted() ? false : 'abandoned';
  }

  async #timedScrypt(password: string, hash: string, isWanted: () => boolean): Promise<boolean | 'busy' | 'abandoned'> {
    return this.#queue.run(async () => {
      const started = performance.now();
      const ok = await verifyPassword(password, hash);
      const ms = performance.now() - started;
      this.#typicalMs = this.#typicalMs === undefined ? ms : this.#typicalMs * 0.8 + ms * 0.2;
      return ok;
    }, isWanted);
  }
}
