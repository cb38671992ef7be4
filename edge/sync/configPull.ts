// The config pull: alarm-rule and limit overrides the cloud team publishes
// (GET {cloud.url}/edgeConfig, docs/DEPLOY.md). A new version is validated
// with the edge's own alarm schema, stored with its version, and written to
// the audit trail. The daemon applies the stored overrides when it starts
// (withPulledConfig) and, through the alarm engine's updateConfig, as soon as
// a new version is pulled: the next reading is judged by the new limits.
import { signedConfigHeaders } from '../../shared/sync/request.js';
import type { EdgeConfigDocument } from '../../shared/sync/wire.js';
import { isPlainObject } from '../../shared/observation.js';
import { alarmConfigSchema, type AlarmConfig } from '../alarms/config.js';
import type { GatewayConfig } from '../config/load.js';
import type { Db } from '../store/database.js';
import { storedPulledConfig, storePulledConfig, type PulledConfig } from '../store/pulledConfigStore.js';
import { directOutbound, type Outbound } from '../net/outbound.js';
import { requestDeadline, untilAborted } from './transport.js';

export type PullResult =
  | { outcome: 'unchanged' }
  | { outcome: 'applied'; version: number; alarms: AlarmConfig }
  | { outcome: 'refused'; version: number; reason: string };

/** The YAML's alarm section behind a config that carries pulled overrides: a new version replaces the old overrides, it does not stack on them. */
const yamlAlarms = new WeakMap<GatewayConfig, AlarmConfig>();
const baseAlarms = (config: GatewayConfig) => yamlAlarms.get(config) ?? config.alarms;

/**
 * Deep merge of plain objects; arrays and scalars replace. Through a Map: a
 * key such as '__proto__' from the pulled JSON stays an own key, never the
 * merged object's prototype.
 */
function merged(base: unknown, over: unknown): unknown {
  if (!isPlainObject(base) || !isPlainObject(over)) return over;
  const out = new Map(Object.entries(base));
  for (const [k, v] of Object.entries(over)) out.set(k, merged(out.get(k), v));
  return Object.fromEntries(out);
}

/** The config with pulled overrides applied over the YAML (alarms only); unchanged when none is stored. */
export function withPulledConfig(config: GatewayConfig, pulled: PulledConfig | undefined): GatewayConfig {
  if (!pulled?.config.alarms) return config;
  const base = baseAlarms(config);
  const alarms = alarmConfigSchema.parse(merged(structuredClone(base), pulled.config.alarms));
  const out = Object.freeze({ ...config, alarms });
  yamlAlarms.set(out, base);
  return out;
}

export interface PullOptions {
  db: Db;
  url: string;
  gateway: string;
  secret: string;
  base: GatewayConfig;
  now: () => number;
  timeoutMs: number;
  /** Extra headers (a Google ID token), fetched within the request's deadline. */
  headers?: () => Promise<Record<string, string>>;
  /** Whether the running daemon applies a new version at once (the audit entry says when it applies). */
  appliesLive?: boolean;
  /** How requests go out (the hospital's web proxy); absent: directly. */
  outbound?: Outbound;
}

export async function pullConfig(options: PullOptions): Promise<PullResult> {
  // One deadline for the token, the request and its body: a stalled token endpoint would otherwise hold the job forever.
  const deadline = requestDeadline(options.timeoutMs);
  try {
    const auth = options.headers ? await untilAborted(options.headers(), deadline.signal) : {};
    return await pull(options, auth, deadline.signal);
  } finally {
    deadline.clear();
  }
}

async function pull(options: PullOptions, auth: Record<string, string>, signal: AbortSignal): Promise<PullResult> {
  const { db, now } = options;
  const current = storedPulledConfig(db);
  const res = await (options.outbound ?? directOutbound).fetch(`${options.url.replace(/\/+$/, '')}/edgeConfig`, {
    headers: { ...signedConfigHeaders(options.gateway, options.secret, now(), current?.etag ?? undefined), ...auth },
    signal,
    redirect: 'error',
  });
  if (res.status === 304) return { outcome: 'unchanged' };
  if (res.status !== 200) throw new Error(`edgeConfig answered ${res.status}: ${(await res.text()).slice(0, 200)}`);
  const doc = (await res.json()) as EdgeConfigDocument;
  if (!Number.isSafeInteger(doc.version) || (current && doc.version <= current.version))
    return { outcome: 'unchanged' };
  const unknown = Object.keys(doc.config ?? {}).filter((k) => k !== 'alarms');
  let reason: string | undefined = unknown.length
    ? `only alarms may be overridden from the cloud, not ${unknown.join(', ')}`
    : undefined;
  // Where pages go, and with which secret, is the ward's decision: a cloud account must not be able to redirect them.
  if (!reason && isPlainObject(doc.config?.alarms) && 'webhook' in doc.config.alarms)
    reason = 'alarms.webhook may not be set from the cloud';
  if (!reason) {
    const check = alarmConfigSchema.safeParse(
      merged(structuredClone(baseAlarms(options.base)), doc.config.alarms ?? {}),
    );
    if (!check.success) reason = check.error.issues.map((i) => `alarms.${i.path.join('.')}: ${i.message}`).join('; ');
  }
  const etag = res.headers.get('etag');
  if (reason) {
    // Remember the version so that the same bad document is not refused again every few minutes.
    const keep: PulledConfig = { version: doc.version, etag, config: current?.config ?? {}, pulledAt: now() };
    storePulledConfig(db, keep, {
      ts: now(),
      actor: 'cloud',
      action: 'config.pull-refused',
      target: 'alarms',
      detail: { version: doc.version, reason },
    });
    return { outcome: 'refused', version: doc.version, reason };
  }
  const stored: PulledConfig = {
    version: doc.version,
    etag,
    config: { ...(doc.config.alarms !== undefined && { alarms: doc.config.alarms as Record<string, unknown> }) },
    pulledAt: now(),
  };
  storePulledConfig(db, stored, {
    ts: now(),
    actor: 'cloud',
    action: 'config.pull',
    target: 'alarms',
    detail: {
      version: doc.version,
      previous: current?.version ?? 0,
      applies: options.appliesLive ? 'now' : 'at next start',
    },
  });
  return {
    outcome: 'applied',
    version: doc.version,
    alarms: withPulledConfig(options.base, storedPulledConfig(db)).alarms,
  };
}
