// The config section of the scheduled jobs (jobs:): a cron expression per
// job (jobList.ts). Part of the one config schema (config/schema.ts).
import cron from 'node-cron';
import { z } from 'zod';

const cronExpression = z
  .string()
  .refine((s) => cron.validate(s), 'expected a cron expression (5 or 6 fields, seconds first when 6)');

export const jobsConfigSchema = z
  .strictObject({
    /** Kicks the sync (it also runs whenever a batch fills up or a backlog drains). */
    sync: cronExpression.default('*/5 * * * * *'),
    /** Checks the quota and the high-water mark. */
    storage: cronExpression.default('*/30 * * * * *'),
    /** Purges synced data older than storage.retentionDays. */
    retention: cronExpression.default('17 * * * *'),
    /** Folds the WAL back into the database file. */
    checkpoint: cronExpression.default('*/10 * * * *'),
    /** Pulls alarm-rule and limit overrides from {cloud.url}/edgeConfig. */
    configPull: cronExpression.default('*/5 * * * *'),
    /** Asks the cloud what it holds of what it confirmed since the last run, and re-sends holes ({cloud.url}/verifyRange). */
    verify: cronExpression.default('*/10 * * * *'),
  })
  .prefault({});

export type JobsConfig = z.output<typeof jobsConfigSchema>;
