// The config section of the storage guard (storage:): the database's quota,
// the high-water alarm, retention of synced data, and what happens at the
// hard limit (docs/SYNC.md). Part of the one config schema (config/schema.ts).
import { z } from 'zod';

export const storageConfigSchema = z
  .strictObject({
    /** Bytes the database may use (pages in use, WAL included). */
    quotaBytes: z
      .int()
      .min(1024 * 1024)
      .default(4 * 1024 ** 3),
    /** Percent of the quota at which "buffer filling" is raised. */
    highWaterPercent: z.int().min(1).max(99).default(80),
    /** Synced readings, statuses and alarm events older than this are purged; unsynced data never is. */
    retentionDays: z.number().min(0).default(7),
    /**
     * At the quota: 'drop-oldest' (default) frees room by purging synced data
     * first, then the oldest unsynced device status, then the oldest unsynced
     * readings, alarm events last, each counted, audited and alarmed;
     * 'refuse-new' stops committing new readings (devices get no PUBACK and keep them; no new local alarms from them).
     */
    onHardLimit: z.enum(['drop-oldest', 'refuse-new']).default('drop-oldest'),
  })
  .prefault({});

export type StorageConfig = z.output<typeof storageConfigSchema>;
