// Builds the sync from the config when a cloud is configured, for
// edge/gateway.ts: the sync service, what makes it look for work between its
// ticks (syncTriggers.ts), and the verification and config pull that the
// scheduled jobs run (jobs/jobList.ts).
import type { EventBus } from '../bus.js';
import type { GatewayConfig } from '../config/load.js';
import type { Logger } from '../log.js';
import type { Outbound } from '../net/outbound.js';
import type { GatewayMetrics } from '../metrics.js';
import type { Service } from '../service.js';
import type { Db } from '../store/database.js';
import { storageUse } from '../store/storageGuard.js';
import { lastSyncSuccessTs, quarantinedBatchCount, readVerifyTotals } from '../store/syncStatusQuery.js';
import { pullConfig, type PullResult } from './configPull.js';
import { SyncService } from './syncService.js';
import { SyncTriggers } from './syncTriggers.js';
import type { TechnicalAlarms } from './technicalAlarms.js';
import { googleIdTokens } from './idToken.js';
import { BatchBuilder } from './batchBuilder.js';
import { Outbox } from '../store/outbox.js';
import { Pseudonyms } from './pseudonyms.js';
import { Verifier } from './verifier.js';

export interface CloudSync {
  readonly sync: SyncService;
  /** Reconciliation with the cloud (the verify job, and the hole alarm at each sync tick). */
  readonly verifier: Verifier;
  /** Fetches the alarm overrides the cloud publishes; stores and audits a new version (configPull.ts). */
  readonly pullConfig: () => Promise<PullResult>;
  /** The sync, then its triggers: started in this order, stopped in reverse. */
  readonly services: Service[];
}

/** The sync, or undefined when no cloud is configured. */
export function wireSync(options: {
  config: GatewayConfig;
  env: NodeJS.ProcessEnv;
  log: Logger;
  db: Db;
  bus: EventBus;
  alarms: TechnicalAlarms;
  metrics?: GatewayMetrics;
  /** How requests go out (the hospital's web proxy): batches, verification, config pull and ID tokens alike. */
  outbound?: Outbound;
  now?: () => number;
}): CloudSync | undefined {
  const { config, env, log, db, alarms, metrics, outbound } = options;
  const cloud = config.cloud;
  if (!cloud) return undefined;
  const now = options.now ?? Date.now;
  const tokens = cloud.idToken ? googleIdTokens({ ...cloud.idToken, ...(outbound && { outbound }) }) : undefined;
  const actors = [...config.users, ...config.devices].map((p) => p.name);
  const secret = env[cloud.secretEnv] ?? '';
  const sync = new SyncService({
    db,
    config: cloud,
    identity: { gateway: config.gateway.id, ward: config.ward },
    actors,
    log,
    alarms,
    now,
    secret,
    wardSecret: env[cloud.wardSecretEnv] ?? '',
    ...(tokens && { tokens }),
    ...(outbound && { outbound }),
    ...(metrics && {
      metrics: {
        batch: (outcome, bytes) => {
          metrics.syncBatches.inc({ outcome });
          metrics.syncBytes.inc(bytes);
        },
        error: (code) => metrics.syncErrors.inc({ code }),
        numberingRaised: (stream) => metrics.syncNumberingRaised.inc({ stream }),
        conflicts: (items) => metrics.syncConflicts.inc(items),
      },
    }),
  });
  const verifier = new Verifier({
    db,
    outbox: new Outbox(db),
    url: cloud.url,
    gateway: config.gateway.id,
    secret,
    timeoutMs: cloud.requestTimeoutMs,
    log,
    alarms,
    now,
    builder: new BatchBuilder(
      db,
      new Pseudonyms(db, env[cloud.wardSecretEnv] ?? ''),
      { gateway: config.gateway.id, ward: config.ward },
      actors,
    ),
    ...(tokens && { headers: () => tokens.headers() }),
    ...(outbound && { outbound }),
  });
  const pull = () =>
    pullConfig({
      db,
      url: cloud.url,
      gateway: config.gateway.id,
      secret,
      base: config,
      now,
      timeoutMs: cloud.requestTimeoutMs,
      ...(tokens && { headers: () => tokens.headers() }),
      appliesLive: true,
      ...(outbound && { outbound }),
    });
  return { sync, verifier, pullConfig: pull, services: [sync, new SyncTriggers(options.bus, sync)] };
}

/** Metric sources of the sync and the storage guard. */
/** `drainRate`: readings per second the sync confirmed over the last minute (0 without a cloud). */
export function syncMetricSources(db: Db, drainRate: () => number, quotaBytes: number) {
  return {
    syncDrainRate: drainRate,
    syncLastSuccessAgeSeconds: () => {
      const last = lastSyncSuccessTs(db);
      return last === undefined ? -1 : Math.max(0, (Date.now() - last) / 1000);
    },
    syncQuarantinedBatches: () => quarantinedBatchCount(db),
    syncVerifyPendingRepairs: () => readVerifyTotals(db).pendingRepairs,
    storageUsedBytes: () => storageUse(db, quotaBytes).usedBytes,
  };
}
