// The `dashboard:` config section: session lifetimes (HIPAA 164.312(a)(2)(iii)
// automatic logoff) and how often the gateway view is refreshed.
import { z } from 'zod';

export const dashboardConfigSchema = z
  .strictObject({
    /** A session with no user action for this long is closed (automatic logoff). */
    idleTimeoutMs: z
      .int()
      .min(1000)
      .default(15 * 60_000),
    /** A session ends this long after login, however active (a shift). */
    absoluteTimeoutMs: z
      .int()
      .min(1000)
      .default(12 * 3_600_000),
    /** Period of the gateway status (buffer, sync, dead letters) pushed to open dashboards. */
    statusIntervalMs: z.int().min(200).default(2000),
  })
  .prefault({});

export type DashboardConfig = z.output<typeof dashboardConfigSchema>;
