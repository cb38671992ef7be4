// Builds the sync, the storage guard and the scheduled jobs from the config,
// for edge/gateway.ts: one call, so that the daemon's wiring stays short.
import type { AlarmConfig } from '../alarms/config.js';
import type { EventBus } from '../bus.js';
import type { GatewayConfig } from '../config/load.js';
import { Scheduler, type CronDriver, type Job } from '../jobs/scheduler.js';
import type { Logger } from '../log.js';
import type { GatewayMetrics } from '../metrics.js';
import type { Service } from '../service.js';
import type { Db } from '../store/database.js';
import { pullConfig } from './configPull.js';
import { StorageGuard, storageUse } from './storageGuard.js';
import { SyncService } from './syncService.js';
import type { TechnicalAlarms } from './technicalAlarms.js';
import { googleIdTokens } from './idToken.js';
import { BatchBuilder } from './batchBuilder.js';
import { Outbox } from './outbox.js';
import { Pseudonyms } from './pseudonyms.js';
import { readVerifyTotals, Verifier } from './verifier.js';

export interface SyncWiring {
  readonly services: Service[];
  readonly sync: SyncService | undefined;
  readonly guard: StorageGuard;
  readonly scheduler: Scheduler;
}

export function wireSync(options: {
  config: GatewayConfig; env: NodeJS.ProcessEnv; log: Logger; db: () => Db; bus: EventBus; alarms: TechnicalAlarms;
  metrics?: GatewayMetrics; cron?: CronDriver; now?: () => number;
  /** Puts pulled alarm rules and limits in force in the running daemon. */
  applyAlarms?: (alarms: AlarmConfig) => void;
}): SyncWiring {
  const { config, env, log, db, alarms, metrics } = options;
  const now = options.now ?? Date.now;
  const guard = new StorageGuard(db, config.storage, alarms, now);
  const cloud = config.cloud;
  const tokens = cloud?.idToken ? googleIdTokens(cloud.idToken) : undefined;
  const actors = [...config.users, ...config.devices].map((p) => p.name);
  const sync = cloud
    ? new SyncService({
        db, config: cloud, identity: { gateway: config.gateway.id, ward: config.ward }, actors, log, alarms, now,
        secret: env[cloud.secretEnv] ?? '', wardSecret: env[cloud.wardSecretEnv] ?? '',
        ...(tokens && { tokens }),
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
      })
    : undefined;
  const jobs: Job[] = [
    { name: 'storage', schedule: config.jobs.storage, run: () => guard.check() },
    { name: 'retention', schedule: config.jobs.retention, run: () => log.info({ purged: guard.purgeSynced() }, 'retention purge') },
    { name: 'checkpoint', schedule: config.jobs.checkpoint, run: () => db().pragma('wal_checkpoint(TRUNCATE)') },
  ];
  if (sync && cloud) {
    let verifier: Verifier | undefined;
    // Built at the first run: the database opens when the daemon starts.
    const verify = () => (verifier ??= new Verifier({
      db: db(), outbox: new Outbox(db()), url: cloud.url, gateway: config.gateway.id, secret: env[cloud.secretEnv] ?? '', timeoutMs: cloud.requestTimeoutMs, log, alarms, now,
      builder: new BatchBuilder(db(), new Pseudonyms(db(), env[cloud.wardSecretEnv] ?? ''), { gateway: config.gateway.id, ward: config.ward }, actors),
      ...(tokens && { headers: () => tokens.headers() }),
    }));
    jobs.unshift({
      name: 'sync',
      schedule: config.jobs.sync,
      run: () => {
        sync.tick();
        // A hole found by `wardgate sync --verify` raises the alarm here too.
        verify().refreshAlarm();
      },
    });
    jobs.push({
      name: 'verify',
      schedule: config.jobs.verify,
      run: async () => {
        try {
          const report = await verify().run();
          metrics?.syncVerifyRuns.inc({ outcome: report.holes.length > 0 ? 'holes' : 'whole' });
          metrics?.syncVerifyItems.inc(report.items);
          metrics?.syncVerifyMissing.inc(report.missing);
          metrics?.syncVerifyResent.inc(report.resent);
          if (report.resent > 0) sync.kick();
          log.info({ ranges: report.ranges, items: report.items, missing: report.missing, extra: report.extra, resent: report.resent, pendingRepairs: report.pendingRepairs }, 'sync verified');
        } catch (err) {
          metrics?.syncVerifyRuns.inc({ outcome: 'failed' });
          throw err;
        }
      },
    });
    jobs.push({
      name: 'configPull',
      schedule: config.jobs.configPull,
      run: async () => {
        const result = await pullConfig({
          db: db(), url: cloud.url, gateway: config.gateway.id, secret: env[cloud.secretEnv] ?? '', base: config, now, timeoutMs: cloud.requestTimeoutMs,
          ...(tokens && { headers: () => tokens.headers() }), appliesLive: options.applyAlarms !== undefined,
        });
        if (result.outcome === 'applied') options.applyAlarms?.(result.alarms);
        if (result.outcome !== 'unchanged') log.info({ outcome: result.outcome, version: result.version, ...(result.outcome === 'refused' && { reason: result.reason }) }, 'config pulled from the cloud');
      },
    });
  }
  const scheduler = new Scheduler({
    jobs, log, ...(options.cron && { driver: options.cron }),
    ...(metrics && { onRun: (job: string, outcome: string) => metrics.jobRuns.inc({ job, outcome }) }),
  });
  if (sync) options.bus.on('ingest.committed', () => sync.dataCommitted());
  return { services: sync ? [sync, scheduler] : [scheduler], sync, guard, scheduler };
}

/** Metric sources of the sync and the storage guard. */
export function syncMetricSources(db: () => Db | undefined, sync: () => SyncService | undefined, quotaBytes: number) {
  const state = (key: string) => db()?.prepare('SELECT value FROM sync_state WHERE key = ?').pluck().get(key) as string | undefined;
  return {
    syncDrainRate: () => sync()?.drainRate() ?? 0,
    syncLastSuccessAgeSeconds: () => {
      const last = state('last_success_ts');
      return last === undefined ? -1 : Math.max(0, (Date.now() - Number(last)) / 1000);
    },
    syncQuarantinedBatches: () => (db()?.prepare("SELECT count(*) FROM sync_batches WHERE state = 'quarantined'").pluck().get() as number | undefined) ?? 0,
    syncVerifyPendingRepairs: () => {
      const d = db();
      return d ? readVerifyTotals(d).pendingRepairs : 0;
    },
    storageUsedBytes: () => {
      const d = db();
      return d ? storageUse(d, quotaBytes).usedBytes : 0;
    },
  };
}
