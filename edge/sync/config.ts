// The config section of the sync (PRODUCT.md "Edge to cloud sync"); the
// storage guard's is in store/config.ts, the scheduled jobs' in jobs/config.ts. Part of the one config schema: the
// defaults and the error messages come from here; secrets are named by the
// environment variable that holds them and checked at load (config/load.ts).
import { z } from 'zod';
import { MAX_BATCH_BYTES, MAX_BATCH_ITEMS } from '../../shared/sync/wire.js';

const envName = z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'expected an environment variable name');
const ms = z.int().min(0);

export const cloudConfigSchema = z.strictObject({
  /** Base URL of the functions: POST {url}/ingestBatch, GET {url}/edgeConfig. */
  url: z.url({ protocol: /^https?$/ }),
  /** Environment variable holding the gateway's HMAC secret (shared with the cloud's WARDGATE_GATEWAYS). */
  secretEnv: envName.default('WARDGATE_CLOUD_SECRET'),
  /** Environment variable holding the ward secret that keys patient pseudonyms; it never leaves the ward. */
  wardSecretEnv: envName.default('WARDGATE_WARD_SECRET'),
  batch: z
    .strictObject({
      /** Most items (readings, alarm events, statuses) in one batch. */
      maxItems: z.int().min(1).max(MAX_BATCH_ITEMS).default(5000),
      /** Most compressed bytes in one batch; a larger one is split before it is sent. */
      maxBytes: z
        .int()
        .min(4096)
        .max(MAX_BATCH_BYTES)
        .default(512 * 1024),
      /** A partial batch of routine data waits at most this long for company (each batch costs the cloud a handful of writes, docs/PERFORMANCE.md); alarm events never wait and go alone. */
      maxAgeMs: ms.default(120_000),
    })
    .prefault({}),
  /** Batches in flight at once while a backlog drains. */
  concurrency: z.int().min(1).max(16).default(4),
  /** An attempt with no answer after this long is abandoned and retried. */
  requestTimeoutMs: z.int().min(100).default(30_000),
  /** Retry delay after 5xx, timeouts and network errors: exponential with full jitter, from initialMs up to maxMs, forever. */
  backoff: z
    .strictObject({ initialMs: z.int().min(1).default(1000), maxMs: z.int().min(1).default(300_000) })
    .prefault({}),
  /** No successful request for this long, with data waiting, raises "cloud unreachable". */
  unreachableAlarmAfterMs: ms.default(900_000),
  /**
   * 401 WG_ERR_SIGNATURE is retried this long (from the first of a run of them) before the sync pauses: the cloud
   * answers a gateway it does not know yet that way until it reloads its secret file (every 30 s, and soon after an
   * unknown id), so a gateway started before it is known waits instead of needing an operator. 0: pause at once.
   */
  signatureGraceMs: ms.default(90_000),
  /** For functions deployed with IAM (no --allow-unauthenticated): a Google ID token for this audience. */
  idToken: z
    .strictObject({
      audience: z.url({ protocol: /^https$/ }),
      /** Service account key file (mode 0600); absent: the machine's default credentials. */
      credentialsFile: z.string().min(1).optional(),
    })
    .optional(),
});

export type CloudConfig = z.output<typeof cloudConfigSchema>;
