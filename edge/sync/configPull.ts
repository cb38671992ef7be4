// The config pull: alarm-rule and limit overrides the cloud team publishes
// (GET {cloud.url}/edgeConfig, docs/DEPLOY.md). A new version is validated
// with the edge's own alarm schema, stored with its version, and written to
// the audit trail; the daemon applies the stored overrides when it starts
// (withPulledConfig), so a running ward never changes rules mid-alarm.
import { signedConfigHeaders } from '../../shared/sync/request.js';
import type { EdgeConfigDocument } from '../../shared/sync/wire.js';
import { isPlainObject } from '../../shared/observation.js';
import { alarmConfigSchema } from '../alarms/config.js';
import type { GatewayConfig } from '../config/load.js';
import type { Db } from '../store/database.js';

export interface PulledConfig {
  readonly version: number;
  readonly etag: string | null;
  readonly config: { alarms?: Record<string, unknown> };
  readonly pulledAt: number;
}

export type PullResult = { outcome: 'unchanged' } | { outcome: 'applied'; version: number } | { outcome: 'refused'; version: number; reason: string };

export function storedPulledConfig(db: Db): PulledConfig | undefined {
  const text = db.prepare("SELECT value FROM sync_state WHERE key = 'edge_config'").pluck().get() as string | undefined;
  return text ? (JSON.parse(text) as PulledConfig) : undefined;
}

/** Deep merge of plain objects; arrays and scalars replace. */
function merged(base: unknown, over: unknown): unknown {
  if (!isPlainObject(base) || !isPlainObject(over)) return over;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = merged(out[k], v);
  return out;
}

/** The config with pulled overrides applied over the YAML (alarms only); unchanged when none is stored. */
export function withPulledConfig(config: GatewayConfig, pulled: PulledConfig | undefined): GatewayConfig {
  if (!pulled?.config.alarms) return config;
  const alarms = alarmConfigSchema.parse(merged(structuredClone(config.alarms), pulled.config.alarms));
  return Object.freeze({ ...config, alarms });
}

export async function pullConfig(options: {
  db: Db; url: string; gateway: string; secret: string; base: GatewayConfig; now: () => number; timeoutMs: number; headers?: Record<string, string>;
}): Promise<PullResult> {
  const { db, now } = options;
  const current = storedPulledConfig(db);
  const res = await fetch(`${options.url.replace(/\/+$/, '')}/edgeConfig`, {
    headers: { ...signedConfigHeaders(options.gateway, options.secret, now(), current?.etag ?? undefined), ...options.headers },
    signal: AbortSignal.timeout(options.timeoutMs),
    redirect: 'error',
  });
  if (res.status === 304) return { outcome: 'unchanged' };
  if (res.status !== 200) throw new Error(`edgeConfig answered ${res.status}: ${(await res.text()).slice(0, 200)}`);
  const doc = (await res.json()) as EdgeConfigDocument;
  if (!Number.isSafeInteger(doc.version) || (current && doc.version <= current.version)) return { outcome: 'unchanged' };
  const audit = db.prepare('INSERT INTO audit (ts, actor, action, target, detail) VALUES (?, ?, ?, ?, ?)');
  const unknown = Object.keys(doc.config ?? {}).filter((k) => k !== 'alarms');
  let reason: string | undefined = unknown.length ? `only alarms may be overridden from the cloud, not ${unknown.join(', ')}` : undefined;
  if (!reason) {
    const check = alarmConfigSchema.safeParse(merged(structuredClone(options.base.alarms), doc.config.alarms ?? {}));
    if (!check.success) reason = check.error.issues.map((i) => `alarms.${i.path.join('.')}: ${i.message}`).join('; ');
  }
  const etag = res.headers.get('etag');
  db.transaction(() => {
    if (reason) {
      audit.run(now(), 'cloud', 'config.pull-refused', 'alarms', JSON.stringify({ version: doc.version, reason }));
      // Remember the version so that the same bad document is not refused again every few minutes.
      const keep: PulledConfig = { version: doc.version, etag, config: current?.config ?? {}, pulledAt: now() };
      db.prepare("INSERT INTO sync_state (key, value) VALUES ('edge_config', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value").run(JSON.stringify(keep));
      return;
    }
    const stored: PulledConfig = { version: doc.version, etag, config: { ...(doc.config.alarms !== undefined && { alarms: doc.config.alarms as Record<string, unknown> }) }, pulledAt: now() };
    db.prepare("INSERT INTO sync_state (key, value) VALUES ('edge_config', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value").run(JSON.stringify(stored));
    audit.run(now(), 'cloud', 'config.pull', 'alarms', JSON.stringify({ version: doc.version, previous: current?.version ?? 0, applies: 'at next start' }));
  })();
  return reason ? { outcome: 'refused', version: doc.version, reason } : { outcome: 'applied', version: doc.version };
}
