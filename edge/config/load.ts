// Loads the gateway config: YAML file (optional), environment overrides, schema
// validation, then secrets. Every problem is reported with the path of the
// field it concerns; the result is frozen and passed to whoever needs it.
import { readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { WardgateError } from '../../shared/errors.js';
import { isDeviceVerifier } from '../auth/deviceSecret.js';
import { isPasswordHash } from '../auth/password.js';
import { outboundSettings } from '../net/outbound.js';
import { configSchema, envOverrides, type ParsedConfig, type Role } from './schema.js';

export interface Principal {
  readonly name: string;
  readonly kind: 'device' | 'user';
  readonly role?: Role;
  readonly bed?: string;
  readonly silentAfterMs?: number;
  readonly secretHash: string;
}

export interface GatewayConfig extends Omit<ParsedConfig, 'devices' | 'users'> {
  readonly devices: ReadonlyArray<Principal & { kind: 'device' }>;
  readonly users: ReadonlyArray<Principal & { kind: 'user'; role: Role }>;
  /** Where the config came from, for messages. */
  readonly source: string;
}

export interface LoadOptions {
  readonly file?: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
}

export function loadConfig({ file, env = process.env, cwd = process.cwd() }: LoadOptions = {}): GatewayConfig {
  const raw = file ? readYaml(resolve(cwd, file)) : {};
  const baseDir = file ? dirname(resolve(cwd, file)) : cwd;
  applyEnvOverrides(raw, env);

  const parsed = configSchema.safeParse(raw, { reportInput: true });
  if (!parsed.success) throw configError(parsed.error.issues.map(formatIssue));
  const config = parsed.data;

  const problems: string[] = [];
  const atPath = (p: string) => (isAbsolute(p) ? p : resolve(baseDir, p));
  const secretOf = (
    entry: ParsedConfig['devices'][number] | ParsedConfig['users'][number],
    at: string,
    required: boolean,
  ) => resolveSecret(entry, at, required, env, atPath, problems);

  const names = new Set<string>();
  const unique = (name: string, at: string) => {
    if (names.has(name))
      problems.push(`${at}: '${name}' is declared twice (device ids and user names share one namespace)`);
    names.add(name);
  };
  const devices = config.devices.map((d, i) => {
    unique(d.id, `devices[${i}].id`);
    const secretHash = secretOf(d, `devices[${i}]`, !config.mqtt.allowAnonymous);
    return {
      name: d.id,
      kind: 'device' as const,
      ...(d.bed !== undefined && { bed: d.bed }),
      ...(d.silentAfterMs !== undefined && { silentAfterMs: d.silentAfterMs }),
      secretHash,
    };
  });
  const users = config.users.map((u, i) => {
    unique(u.name, `users[${i}].name`);
    return { name: u.name, kind: 'user' as const, role: u.role, secretHash: secretOf(u, `users[${i}]`, true) };
  });

  const tls = config.mqtt.tls && {
    ...config.mqtt.tls,
    cert: checkFile(atPath(config.mqtt.tls.cert), 'mqtt.tls.cert', false, problems),
    key: checkFile(atPath(config.mqtt.tls.key), 'mqtt.tls.key', true, problems),
    ...(config.mqtt.tls.ca !== undefined && {
      ca: checkFile(atPath(config.mqtt.tls.ca), 'mqtt.tls.ca', false, problems),
    }),
  };
  const httpTls = config.http.tls && {
    cert: checkFile(atPath(config.http.tls.cert), 'http.tls.cert', false, problems),
    key: checkFile(atPath(config.http.tls.key), 'http.tls.key', true, problems),
  };
  // The hospital links' TLS files, as the MQTT and HTTP ones: relative to the config, the key 0600.
  const tlsFiles = <T extends TlsFiles>(files: T | undefined, at: string): T | undefined =>
    files && {
      ...files,
      ...(files.cert !== undefined && { cert: checkFile(atPath(files.cert), `${at}.cert`, false, problems) }),
      ...(files.key !== undefined && { key: checkFile(atPath(files.key), `${at}.key`, true, problems) }),
      ...(files.ca !== undefined && { ca: checkFile(atPath(files.ca), `${at}.ca`, false, problems) }),
    };
  const adt = config.hl7?.adt && { ...config.hl7.adt, tls: tlsFiles(config.hl7.adt.tls, 'hl7.adt.tls') };
  const ehr = config.ehr && { ...config.ehr, tls: tlsFiles(config.ehr.tls, 'ehr.tls') };
  const alarmManager = config.alarmManager && {
    ...config.alarmManager,
    tls: tlsFiles(config.alarmManager.tls, 'alarmManager.tls'),
    listen: config.alarmManager.listen && {
      ...config.alarmManager.listen,
      tls: tlsFiles(config.alarmManager.listen.tls, 'alarmManager.listen.tls'),
    },
  };
  const webhook = config.alarms.webhook;
  if (webhook && !env[webhook.secretEnv])
    problems.push(`alarms.webhook.secretEnv: environment variable ${webhook.secretEnv} is not set`);
  if (config.cloud) {
    // The sync cannot sign a batch or pseudonymize a patient without these: refuse to start rather than buffer forever.
    if (!env[config.cloud.secretEnv])
      problems.push(`cloud.secretEnv: environment variable ${config.cloud.secretEnv} is not set`);
    if (!env[config.cloud.wardSecretEnv])
      problems.push(`cloud.wardSecretEnv: environment variable ${config.cloud.wardSecretEnv} is not set`);
    const credentials = config.cloud.idToken?.credentialsFile;
    if (credentials !== undefined) checkFile(atPath(credentials), 'cloud.idToken.credentialsFile', true, problems);
  }
  // The web proxy's password is named, like every secret: a variable that must be set, or a 0600 file.
  const proxy = config.proxy && {
    ...config.proxy,
    ...(config.proxy.passwordFile !== undefined && {
      passwordFile: checkFile(atPath(config.proxy.passwordFile), 'proxy.passwordFile', true, problems),
    }),
  };
  if (proxy?.passwordEnv !== undefined && !env[proxy.passwordEnv])
    problems.push(`proxy.passwordEnv: environment variable ${proxy.passwordEnv} is not set`);
  if (!proxy && (config.cloud || webhook)) {
    try {
      outboundSettings(undefined, env);
    } catch (err) {
      problems.push((err as Error).message);
    }
  }
  if (problems.length) throw configError(problems);

  return deepFreeze({
    ...config,
    gateway: { ...config.gateway, dataDir: atPath(config.gateway.dataDir) },
    mqtt: { ...config.mqtt, tls },
    http: { ...config.http, tls: httpTls },
    ...(config.hl7 && { hl7: { ...config.hl7, adt } }),
    ...(ehr && { ehr }),
    ...(alarmManager && { alarmManager }),
    ...(proxy && { proxy }),
    ...(config.cloud?.idToken?.credentialsFile !== undefined && {
      cloud: {
        ...config.cloud,
        idToken: { ...config.cloud.idToken, credentialsFile: atPath(config.cloud.idToken.credentialsFile) },
      },
    }),
    devices,
    users,
    source: file ? resolve(cwd, file) : 'built-in defaults',
  });
}

function readYaml(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw configError([`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`]);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text, { prettyErrors: true });
  } catch (err) {
    // yaml's pretty message names line and column; keep its first line.
    const reason = (err as Error).message.split('\n')[0].replace(/:$/, '');
    throw configError([`${path} is not valid YAML: ${reason}`]);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc))
    throw configError([`${path}: expected a mapping of keys to values at the top`]);
  return doc as Record<string, unknown>;
}

function applyEnvOverrides(raw: Record<string, unknown>, env: NodeJS.ProcessEnv): void {
  for (const { env: name, path, type } of envOverrides) {
    const value = env[name];
    if (value === undefined || value === '') continue;
    let node = raw;
    for (const key of path.slice(0, -1)) {
      const next = node[key];
      if (typeof next !== 'object' || next === null) node[key] = {};
      node = node[key] as Record<string, unknown>;
    }
    node[path[path.length - 1]] = type === 'number' && /^\d+$/.test(value) ? Number(value) : value;
  }
}

function resolveSecret(
  entry: { secretHash?: string; secretHashEnv?: string; secretHashFile?: string },
  at: string,
  required: boolean,
  env: NodeJS.ProcessEnv,
  atPath: (p: string) => string,
  problems: string[],
): string {
  const given = [entry.secretHash, entry.secretHashEnv, entry.secretHashFile].filter((v) => v !== undefined).length;
  if (given > 1) {
    problems.push(`${at}: give only one of secretHash, secretHashEnv, secretHashFile`);
    return '';
  }
  let hash: string | undefined;
  let field = `${at}.secretHash`;
  if (entry.secretHash !== undefined) {
    hash = entry.secretHash;
  } else if (entry.secretHashEnv !== undefined) {
    field = `${at}.secretHashEnv`;
    hash = env[entry.secretHashEnv];
    if (!hash) {
      problems.push(`${field}: environment variable ${entry.secretHashEnv} is not set`);
      return '';
    }
  } else if (entry.secretHashFile !== undefined) {
    field = `${at}.secretHashFile`;
    const path = checkFile(atPath(entry.secretHashFile), field, true, problems);
    if (!path) return '';
    hash = readFileSync(path, 'utf8').trim();
  }
  if (hash === undefined) {
    if (required)
      problems.push(
        `${at}: missing secret (set secretHash, secretHashEnv or secretHashFile to the output of wardgate passwd)`,
      );
    return '';
  }
  // A device may hold a minted secret (fast verifier); a person's password always gets scrypt.
  const isDevice = at.startsWith('devices[');
  if (isDeviceVerifier(hash) && !isDevice) {
    problems.push(
      `${field}: a device secret verifier (sha256$...) is for devices only; a person's password needs the output of wardgate passwd (scrypt$...)`,
    );
    return '';
  }
  if (!isPasswordHash(hash) && !isDeviceVerifier(hash)) {
    problems.push(
      `${field}: expected the output of wardgate passwd (${isDevice ? 'sha256$... from wardgate passwd --device, or scrypt$...' : 'scrypt$...'}), never a plain password`,
    );
    return '';
  }
  return hash;
}

/** The file paths of a TLS section: certificate, private key, trusted CA; each may be absent. */
interface TlsFiles {
  cert?: string;
  key?: string;
  ca?: string;
}

/** Checks that a file exists; a secret file must not be readable by group or others (mode 0600 or stricter). */
function checkFile(path: string, at: string, secret: boolean, problems: string[]): string {
  let mode: number;
  try {
    const stat = statSync(path);
    if (!stat.isFile()) throw Object.assign(new Error(), { code: 'not a regular file' });
    mode = stat.mode & 0o777;
  } catch (err) {
    problems.push(`${at}: cannot read ${path} (${(err as NodeJS.ErrnoException).code})`);
    return '';
  }
  if (secret && (mode & 0o077) !== 0) {
    problems.push(
      `${at}: ${path} has mode ${mode.toString(8).padStart(4, '0')}; a secret file must be 0600 or stricter`,
    );
    return '';
  }
  return path;
}

function formatIssue(issue: z.core.$ZodIssue): string {
  const path = formatPath(issue.path);
  switch (issue.code) {
    case 'unrecognized_keys':
      return issue.keys.map((k) => `${path ? `${path}.` : ''}${k}: unknown key`).join('\n');
    case 'invalid_type':
      return `${path}: expected ${article(issue.expected)}${issue.input === undefined ? ' (missing)' : ''}`;
    case 'invalid_value':
      return `${path}: expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'too_small':
      return `${path}: expected at least ${String(issue.minimum)}${issue.origin === 'string' ? ' characters' : ''}`;
    case 'too_big':
      return `${path}: expected at most ${String(issue.maximum)}${issue.origin === 'string' ? ' characters' : ''}`;
    default:
      return `${path}: ${issue.message}`;
  }
}

function article(type: string): string {
  if (type === 'int') return 'a whole number';
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  return path.reduce<string>(
    (out, key) => (typeof key === 'number' ? `${out}[${key}]` : out ? `${out}.${String(key)}` : String(key)),
    '',
  );
}

function configError(lines: string[]): WardgateError {
  return new WardgateError('WG_ERR_CONFIG', `invalid configuration:\n  ${lines.join('\n  ')}`);
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
