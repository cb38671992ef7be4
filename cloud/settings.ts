// Cloud settings, resolved once from flag ?? env ?? default (the pattern of
// functions-framework's options.ts) and frozen. Secrets come from environment
// variables, or from files: files that only their owner may read (mode 0600),
// or Secret Manager volumes on deploy (WARDGATE_SECRETS_MOUNTED). Never from
// the repository. A secret file is read again while the functions run, so a
// new gateway or a rotated secret takes effect without a redeploy.
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { WardgateError } from '../shared/errors.js';
import { isPlainObject } from '../shared/observation.js';
import { ownValue } from '../shared/record.js';

export interface GatewayEntry {
  readonly ward: string;
  readonly secret: string;
}

export interface ApiToken {
  readonly name: string;
  /** SHA-256 of the bearer token, hex: the token itself is never stored. */
  readonly sha256: string;
  /** Wards this token may read; ['*'] for all. */
  readonly wards: readonly string[];
}

export interface CloudSettings {
  readonly projectId: string;
  readonly batchesTopic: string;
  readonly alertsTopic: string;
  readonly gateways: ReadonlyMap<string, GatewayEntry>;
  readonly apiTokens: readonly ApiToken[];
  /** Hour documents per ward-hour; raise above 1 for wards with more than about 60 patients. */
  readonly analysisShards: number;
  /** Raw segments and hour documents expire after this many days (Firestore TTL on expireAt). */
  readonly retentionDays: number;
  readonly logLevel: string;
}

/**
 * A secret file is read again once its last reading is this old. Each read of
 * a Secret Manager volume fetches the secret's latest version, so a rotated
 * secret reaches warm instances within this time.
 */
export const SECRET_FILE_MAX_AGE_MS = 30_000;
/** An unknown gateway id reads the gateways file again at once, but not more often than this (one read per id flood). */
export const SECRET_FILE_MISS_INTERVAL_MS = 5_000;

export const defaults = {
  projectId: 'wardgate-local',
  batchesTopic: 'wardgate-batches',
  alertsTopic: 'wardgate-alerts',
  analysisShards: 1,
  retentionDays: 30,
  logLevel: 'info',
} as const;

const ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Reads a secret file, refusing one that group or others may read. */
export function readSecretFile(path: string, what: string): string {
  const mode = statSync(path).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new WardgateError('WG_ERR_CONFIG', `${path} has mode ${mode.toString(8)}; secrets files must be 0600`, what);
  }
  return readFileSync(path, 'utf8');
}

/**
 * Gateways as JSON: {"gw-3b": {"ward": "3B", "secret": "..."}}. Each gateway has
 * its own secret and may write only its own ward.
 */
export function parseGateways(text: string, what = 'WARDGATE_GATEWAYS'): Map<string, GatewayEntry> {
  const parsed = parseJson(text, what);
  if (!isPlainObject(parsed)) throw new WardgateError('WG_ERR_CONFIG', 'expected {"<gateway id>": {"ward": "...", "secret": "..."}}', what);
  const out = new Map<string, GatewayEntry>();
  for (const [id, entry] of Object.entries(parsed)) {
    const at = `${what}.${id}`;
    if (!ID.test(id)) throw new WardgateError('WG_ERR_CONFIG', 'expected a gateway id of letters, digits, dot, dash or underscore', at);
    if (!isPlainObject(entry) || typeof entry.ward !== 'string' || !ID.test(entry.ward)) {
      throw new WardgateError('WG_ERR_CONFIG', 'expected a ward id', `${at}.ward`);
    }
    if (typeof entry.secret !== 'string' || entry.secret.length < 32) {
      throw new WardgateError('WG_ERR_CONFIG', 'expected a secret of at least 32 characters', `${at}.secret`);
    }
    out.set(id, { ward: entry.ward, secret: entry.secret });
  }
  return out;
}

/** API tokens as JSON: [{"name": "station-3b", "sha256": "<hex>", "wards": ["3B"]}]. */
export function parseApiTokens(text: string, what = 'WARDGATE_API_TOKENS'): ApiToken[] {
  const parsed = parseJson(text, what);
  if (!Array.isArray(parsed)) throw new WardgateError('WG_ERR_CONFIG', 'expected an array of {name, sha256, wards}', what);
  return parsed.map((entry, i) => {
    const at = `${what}[${i}]`;
    if (!isPlainObject(entry) || typeof entry.name !== 'string' || entry.name === '') throw new WardgateError('WG_ERR_CONFIG', 'expected a name', `${at}.name`);
    if (typeof entry.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(entry.sha256)) {
      throw new WardgateError('WG_ERR_CONFIG', 'expected the SHA-256 of the token as 64 hex digits', `${at}.sha256`);
    }
    const wards = entry.wards;
    if (!Array.isArray(wards) || wards.length === 0 || !wards.every((w) => typeof w === 'string' && (w === '*' || ID.test(w)))) {
      throw new WardgateError('WG_ERR_CONFIG', 'expected a list of ward ids, or ["*"]', `${at}.wards`);
    }
    return { name: entry.name, sha256: entry.sha256, wards: wards as string[] };
  });
}

export const sha256Hex = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new WardgateError('WG_ERR_CONFIG', `not valid JSON (${(err as Error).message})`, what);
  }
}

function positiveInt(raw: string | undefined, fallback: number, what: string): number {
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 1) throw new WardgateError('WG_ERR_CONFIG', 'expected a whole number >= 1', what);
  return n;
}

/**
 * A secret held in a file, parsed, and read again when the last reading is
 * older than SECRET_FILE_MAX_AGE_MS (or on demand, at most every
 * SECRET_FILE_MISS_INTERVAL_MS). A reading that fails keeps the last good
 * value: a transient Secret Manager error must not lock every gateway out.
 */
export class SecretFile<T> {
  readonly #read: () => T;
  readonly #now: () => number;
  #value: T;
  #readAt: number;
  #forcedAt = -Infinity;

  constructor(read: () => T, now: () => number = Date.now) {
    this.#read = read;
    this.#now = now;
    this.#value = read();
    this.#readAt = now();
  }

  current(): T {
    if (this.#now() - this.#readAt >= SECRET_FILE_MAX_AGE_MS) this.#reload();
    return this.#value;
  }

  /** Reads the file again now, unless that was done within SECRET_FILE_MISS_INTERVAL_MS. */
  refresh(): T {
    if (this.#now() - this.#forcedAt >= SECRET_FILE_MISS_INTERVAL_MS) {
      this.#forcedAt = this.#now();
      this.#reload();
    }
    return this.#value;
  }

  #reload(): void {
    this.#readAt = this.#now();
    try {
      this.#value = this.#read();
    } catch {
      // Keep the last good value; the next reading tries again.
    }
  }
}

/** The gateways of a secret file as a map that follows the file: an unknown id reads it again first. */
class GatewaysFromFile implements ReadonlyMap<string, GatewayEntry> {
  readonly #file: SecretFile<Map<string, GatewayEntry>>;

  constructor(file: SecretFile<Map<string, GatewayEntry>>) {
    this.#file = file;
  }

  get(id: string): GatewayEntry | undefined {
    return this.#file.current().get(id) ?? this.#file.refresh().get(id);
  }

  has(id: string): boolean {
    return this.get(id) !== undefined;
  }

  get size(): number {
    return this.#file.current().size;
  }

  forEach(fn: (value: GatewayEntry, key: string, map: ReadonlyMap<string, GatewayEntry>) => void): void {
    this.#file.current().forEach((v, k) => fn(v, k, this));
  }

  entries() {
    return this.#file.current().entries();
  }

  keys() {
    return this.#file.current().keys();
  }

  values() {
    return this.#file.current().values();
  }

  [Symbol.iterator]() {
    return this.entries();
  }
}

/**
 * Settings from the environment (WARDGATE_GATEWAYS or WARDGATE_GATEWAYS_FILE, and so on).
 * Secrets given as files are followed: see SecretFile. With WARDGATE_SECRETS_MOUNTED=true the
 * files are Secret Manager volumes, whose permissions the platform sets, so the 0600 check is skipped.
 */
export function settingsFromEnv(env: NodeJS.ProcessEnv, overrides: Partial<CloudSettings> = {}, now: () => number = Date.now): CloudSettings {
  const mounted = env.WARDGATE_SECRETS_MOUNTED === 'true' || env.WARDGATE_SECRETS_MOUNTED === '1';
  const fileOf = <T>(name: string, parse: (text: string, what: string) => T): SecretFile<T> | undefined => {
    const path = ownValue(env, `${name}_FILE`);
    if (!path) return undefined;
    const what = `${name}_FILE`;
    return new SecretFile(() => parse(mounted ? readFileSync(path, 'utf8') : readSecretFile(path, what), what), now);
  };
  const gatewaysFile = overrides.gateways || env.WARDGATE_GATEWAYS ? undefined : fileOf('WARDGATE_GATEWAYS', parseGateways);
  const gateways = overrides.gateways
    ?? (gatewaysFile ? new GatewaysFromFile(gatewaysFile) : parseGateways(env.WARDGATE_GATEWAYS ?? '{}'));
  const tokensFile = overrides.apiTokens || env.WARDGATE_API_TOKENS ? undefined : fileOf('WARDGATE_API_TOKENS', parseApiTokens);
  const tokens = overrides.apiTokens ?? parseApiTokens(env.WARDGATE_API_TOKENS ?? '[]');
  const settings = {
    projectId: overrides.projectId ?? env.WARDGATE_PROJECT ?? env.GOOGLE_CLOUD_PROJECT ?? env.GCLOUD_PROJECT ?? defaults.projectId,
    batchesTopic: overrides.batchesTopic ?? env.WARDGATE_BATCHES_TOPIC ?? defaults.batchesTopic,
    alertsTopic: overrides.alertsTopic ?? env.WARDGATE_ALERTS_TOPIC ?? defaults.alertsTopic,
    gateways,
    analysisShards: overrides.analysisShards ?? positiveInt(env.WARDGATE_ANALYSIS_SHARDS, defaults.analysisShards, 'WARDGATE_ANALYSIS_SHARDS'),
    retentionDays: overrides.retentionDays ?? positiveInt(env.WARDGATE_RETENTION_DAYS, defaults.retentionDays, 'WARDGATE_RETENTION_DAYS'),
    logLevel: overrides.logLevel ?? env.WARDGATE_LOG_LEVEL ?? defaults.logLevel,
  };
  // A getter, so that a token added to the secret reaches wardApi's warm instances.
  Object.defineProperty(settings, 'apiTokens', { get: () => tokensFile?.current() ?? tokens, enumerable: true });
  return Object.freeze(settings as typeof settings & { readonly apiTokens: readonly ApiToken[] });
}
