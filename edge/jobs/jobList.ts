// The daemon's scheduled jobs in one list (config `jobs:`): the storage check,
// the retention purge and the WAL checkpoint always; the sync tick, the
// verification against the cloud and the config pull when a cloud is
// configured. What a job does lives with its feature; this list names each
// job, its schedule, and what it reports.
import type { EventBus } from '../bus.js';
import type { GatewayConfig } from '../config/load.js';
import type { Logger } from '../log.js';
import type { GatewayMetrics } from '../metrics.js';
import { checkpointWal, type Db } from '../store/database.js';
import type { StorageGuard } from '../store/storageGuard.js';
import type { CloudSync } from '../sync/syncWiring.js';
import type { Job } from './scheduler.js';

export interface JobListDeps {
  readonly config: GatewayConfig;
  readonly log: Logger;
  readonly db: Db;
  readonly guard: StorageGuard;
  /** Pulled alarm rules go out on it ('alarm.config'). */
  readonly bus: EventBus;
  /** The sync, when a cloud is configured. */
  readonly cloud?: CloudSync | undefined;
  readonly metrics?: GatewayMetrics;
  /** How the checkpoint job folds the WAL back (the gateway: on the ingest writer thread); by default on `db`. */
  readonly checkpoint?: () => Promise<void>;
}

export function jobList({ config, log, db, guard, bus, cloud, metrics, checkpoint }: JobListDeps): Job[] {
  const jobs: Job[] = [
    { name: 'storage', schedule: config.jobs.storage, run: () => guard.check() },
    {
      name: 'retention',
      schedule: config.jobs.retention,
      run: () => log.info({ purged: guard.purgeSynced() }, 'retention purge'),
    },
    { name: 'checkpoint', schedule: config.jobs.checkpoint, run: checkpoint ?? (() => checkpointWal(db)) },
  ];
  if (!cloud) return jobs;
  const { sync, verifier, pullConfig } = cloud;
  jobs.unshift({
    name: 'sync',
    schedule: config.jobs.sync,
    run: () => {
      sync.tick();
      // A hole found by `wardgate sync --verify` raises the alarm here too.
      verifier.refreshAlarm();
    },
  });
  jobs.push({
    name: 'verify',
    schedule: config.jobs.verify,
    run: async () => {
      try {
        const report = await verifier.run();
        metrics?.syncVerifyRuns.inc({ outcome: report.holes.length > 0 ? 'holes' : 'whole' });
        metrics?.syncVerifyItems.inc(report.items);
        metrics?.syncVerifyMissing.inc(report.missing);
        metrics?.syncVerifyResent.inc(report.resent);
        if (report.resent > 0) sync.kick();
        log.info(
          {
            ranges: report.ranges,
            items: report.items,
            missing: report.missing,
            extra: report.extra,
            resent: report.resent,
            pendingRepairs: report.pendingRepairs,
            complete: report.complete,
          },
          report.complete
            ? 'sync verified up to the cursors'
            : 'sync verified up to the per-run limit; the next run goes on from there',
        );
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
      const result = await pullConfig();
      // In force in the running daemon from the next reading (the alarm service hears it).
      if (result.outcome === 'applied') bus.emit('alarm.config', result.alarms);
      if (result.outcome !== 'unchanged')
        log.info(
          {
            outcome: result.outcome,
            version: result.version,
            ...(result.outcome === 'refused' && { reason: result.reason }),
          },
          'config pulled from the cloud',
        );
    },
  });
  return jobs;
}
