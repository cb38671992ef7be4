// Cloud settings, resolved once from flag ?? env ?? default (the pattern of
// functions-framework's options.ts) and frozen. Secrets come from environment
// variables, or from files: files that only their owner may read (mode 0600),
// or Secret Manager volumes on deploy (WARDGATE_SECRETS_MOUNTED). Never from
// the repository. A secret file is read again while the functions run, in the
// background (followSecrets), so a new gateway or a rotated secret takes
// effect without a redeploy, and no request waits for a read.
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
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
 * A secret file is read again this often, in the background. Each read of a
 * Secret Manager volume fetches the secret's latest version, so a rotated
 * secret reaches warm instances within this time.
 */
export const SECRET_FILE_MAX_AGE_MS = 30_000;
/** An unknown gateway id has the gateways file read again soon, in the background, but not more often than this (one read per id flood). */
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
  checkMode(path, statSync(path).mode, what);
  return readFileSync(path, 'utf8');
}

/** readSecretFile, without blocking the event loop: for the background reloads. */
export async function readSecretFileAsync(path: string, what: string): Promise<string> {
  checkMode(path, (await stat(path)).mode, what);
  return readFile(path, 'utf8');
}

function checkMode(path: string, fileMode: number, what: string): void {
  const mode = fileMode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new WardgateError('WG_ERR_CONFIG', `${path} has mode ${mode.toString(8)}; secrets files must be 0600`, what);
  }
}

/**
 * Gateways as JSON: {"gw-3b": {"ward": "3B", "secret": "..."}}. Each gateway has
 * its own secret and may write only its own ward.
 */
export function parseGateways(text: string, what = 'WARDGATE_GATEWAYS'): Map<string, GatewayEntry> {
  const parsed = parseJson(text, what);
  if (!isPlainObject(parsed))
    throw new WardgateError('WG_ERR_CONFIG', 'expected {"<gateway id>": {"ward": "...", "secret": "..."}}', what);
  const out = new Map<string, GatewayEntry>();
  for (const [id, entry] of Object.entries(parsed)) {
    const at = `${what}.${id}`;
    if (!ID.test(id))
      throw new WardgateError('WG_ERR_CONFIG', 'expected a gateway id of letters, digits, dot, dash or underscore', at);
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
  if (!Array.isArray(parsed))
    throw new WardgateError('WG_ERR_CONFIG', 'expected an array of {name, sha256, wards}', what);
  return parsed.map((entry, i) => {
    const at = `${what}[${i}]`;
    if (!isPlainObject(entry) || typeof entry.name !== 'string' || entry.name === '')
      throw new WardgateError('WG_ERR_CONFIG', 'expected a name', `${at}.name`);
    if (typeof entry.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(entry.sha256)) {
      throw new WardgateError('WG_ERR_CONFIG', 'expected the SHA-256 of the token as 64 hex digits', `${at}.sha256`);
    }
    const wards = entry.wards;
    if (
      !Array.isArray(wards) ||
      wards.length === 0 ||
      !wards.every((w) => typeof w === 'string' && (w === '*' || ID.test(w)))
    ) {
      throw new WardgateError('WG_ERR_CONFIG', 'expected a list of ward ids, or ["*"]', `${at}.wards`);
    }
    return { name: entry.name, sha256: entry.sha256, wards: wards as string[] };
  });
}

export const sha256Hex = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    // Not the parser's message: it quotes the text around the fault, which may be a secret.
    throw new WardgateError('WG_ERR_CONFIG', 'not valid JSON', what);
  }
}

function positiveInt(raw: string | undefined, fallback: number, what: string): number {
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 1) throw new WardgateError('WG_ERR_CONFIG', 'expected a whole number >= 1', what);
  return n;
}

/** What a failed background reading reports: which setting, and why (never the file's content). */
export type SecretReloadFailure = { readonly what: string; readonly reason: string };

/**
 * A secret held in a file, parsed. It is read once when the settings are
 * built (a cold start: a bad file fails the context) and then only in the
 * background (reload, from followSecrets): a request never waits for a read.
 * A reading that fails keeps the last good value: a transient Secret Manager
 * error, or a bad new version, must not lock every gateway out.
 */
export class SecretFile<T> {
  readonly what: string;
  readonly #read: () => Promise<T>;
  readonly #now: () => number;
  #value: T;
  #reading: Promise<SecretReloadFailure | null> | undefined;
  #missAt = -Infinity;
  /** Told of a failed background reading; set by followSecrets. */
  onFailure: ((failure: SecretReloadFailure) => void) | undefined;

  constructor(what: string, readNow: () => T, read: () => Promise<T>, now: () => number = Date.now) {
    this.what = what;
    this.#read = read;
    this.#now = now;
    this.#value = readNow();
  }

  current(): T {
    return this.#value;
  }

  /** Reads the file again (one reading at a time); null when it read, else why not. */
  reload(): Promise<SecretReloadFailure | null> {
    this.#reading ??= this.#read()
      .then(
        (value) => {
          this.#value = value;
          return null;
        },
        (err: unknown) => {
          const failure = { what: this.what, reason: reasonOf(err) };
          this.onFailure?.(failure);
          return failure;
        },
      )
      .finally(() => {
        this.#reading = undefined;
      });
    return this.#reading;
  }

  /** A value was asked for that the file did not hold: read it again soon, in the background, at most every SECRET_FILE_MISS_INTERVAL_MS. */
  missed(): void {
    if (this.#now() - this.#missAt < SECRET_FILE_MISS_INTERVAL_MS) return;
    this.#missAt = this.#now();
    setImmediate(() => void this.reload());
  }
}

/** Why a reading failed, without the content: the error's code and our own messages only. */
function reasonOf(err: unknown): string {
  if (err instanceof WardgateError) return err.message;
  const code = (err as NodeJS.ErrnoException).code;
  return code ?? 'unreadable';
}

const secretFiles = new WeakMap<object, ReadonlyArray<SecretFile<unknown>>>();

/**
 * Reads the settings' secret files again every `intervalMs`, in the
 * background, logging a failed reading (the setting and the reason, never
 * the content) and keeping the last good value. Returns the stop function.
 * Settings without secret files: nothing to follow.
 */
export function followSecrets(
  settings: CloudSettings,
  log: { warn(obj: object, msg: string): void },
  intervalMs = SECRET_FILE_MAX_AGE_MS,
): () => void {
  const files = secretFiles.get(settings) ?? [];
  if (files.length === 0) return () => undefined;
  for (const file of files)
    file.onFailure = (failure) =>
      log.warn(failure, 'a secret file could not be read again; the last good value stays in force');
  const timer = setInterval(() => files.forEach((file) => void file.reload()), intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

/** Reads every secret file of the settings again now; what failed, if anything. For the tests and for an operator's check. */
export async function reloadSecrets(settings: CloudSettings): Promise<SecretReloadFailure[]> {
  const results = await Promise.all((secretFiles.get(settings) ?? []).map((file) => file.reload()));
  return results.filter((r): r is SecretReloadFailure => r !== null);
}

/** The gateways of a secret file as a map that follows the file: an unknown id has it read again soon, in the background. */
class GatewaysFromFile implements ReadonlyMap<string, GatewayEntry> {
  readonly #file: SecretFile<Map<string, GatewayEntry>>;

  constructor(file: SecretFile<Map<string, GatewayEntry>>) {
    this.#file = file;
  }

  get(id: string): GatewayEntry | undefined {
    const entry = this.#file.current().get(id);
    // No read here: the answer to an unknown id must take the time a known one takes.
    if (entry === undefined) this.#file.missed();
    return entry;
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
export function settingsFromEnv(
  env: NodeJS.ProcessEnv,
  overrides: Partial<CloudSettings> = {},
  now: () => number = Date.now,
): CloudSettings {
  const mounted = env.WARDGATE_SECRETS_MOUNTED === 'true' || env.WARDGATE_SECRETS_MOUNTED === '1';
  const files: Array<SecretFile<unknown>> = [];
  const fileOf = <T>(name: string, parse: (text: string, what: string) => T): SecretFile<T> | undefined => {
    const path = ownValue(env, `${name}_FILE`);
    if (!path) return undefined;
    const what = `${name}_FILE`;
    const file = new SecretFile(
      what,
      () => parse(mounted ? readFileSync(path, 'utf8') : readSecretFile(path, what), what),
      async () => parse(mounted ? await readFile(path, 'utf8') : await readSecretFileAsync(path, what), what),
      now,
    );
    files.push(file);
    return file;
  };
  const gatewaysFile =
    overrides.gateways || env.WARDGATE_GATEWAYS ? undefined : fileOf('WARDGATE_GATEWAYS', parseGateways);
  const gateways =
    overrides.gateways ??
    (gatewaysFile ? new GatewaysFromFile(gatewaysFile) : parseGateways(env.WARDGATE_GATEWAYS ?? '{}'));
  const tokensFile =
    overrides.apiTokens || env.WARDGATE_API_TOKENS ? undefined : fileOf('WARDGATE_API_TOKENS', parseApiTokens);
  const tokens = overrides.apiTokens ?? parseApiTokens(env.WARDGATE_API_TOKENS ?? '[]');
  const settings = {
    projectId:
      overrides.projectId ??
      env.WARDGATE_PROJECT ??
      env.GOOGLE_CLOUD_PROJECT ??
      env.GCLOUD_PROJECT ??
      defaults.projectId,
    batchesTopic: overrides.batchesTopic ?? env.WARDGATE_BATCHES_TOPIC ?? defaults.batchesTopic,
    alertsTopic: overrides.alertsTopic ?? env.WARDGATE_ALERTS_TOPIC ?? defaults.alertsTopic,
    gateways,
    analysisShards:
      overrides.analysisShards ??
      positiveInt(env.WARDGATE_ANALYSIS_SHARDS, defaults.analysisShards, 'WARDGATE_ANALYSIS_SHARDS'),
    retentionDays:
      overrides.retentionDays ??
      positiveInt(env.WARDGATE_RETENTION_DAYS, defaults.retentionDays, 'WARDGATE_RETENTION_DAYS'),
    logLevel: overrides.logLevel ?? env.WARDGATE_LOG_LEVEL ?? defaults.logLevel,
  };
  // A getter, so that a token added to the secret reaches wardApi's warm instances.
  Object.defineProperty(settings, 'apiTokens', { get: () => tokensFile?.current() ?? tokens, enumerable: true });
  const frozen = Object.freeze(settings as typeof settings & { readonly apiTokens: readonly ApiToken[] });
  if (files.length > 0) secretFiles.set(frozen, files);
  return frozen;
}
