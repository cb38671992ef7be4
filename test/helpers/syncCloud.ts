// The project's cloud functions for a sync test file: the Firestore and
// Pub/Sub emulators started on free loopback ports, the functions served
// locally on them (no push subscription: the tests read what the ingest
// stored), silent, and everything stopped when the test ends. The Google
// clients find the emulators through the environment, as under `wardgate cloud`.
import type { Firestore } from '@google-cloud/firestore';
import { startLocalCloud, type LocalCloud } from '../../cloud/local/localCloud.js';
import { defaults, type GatewayEntry } from '../../cloud/settings.js';
import { createCloudLogger } from '../../cloud/log.js';
import { startEmulators } from './emulators.js';

interface T {
  teardown(fn: () => unknown): void;
}

export interface SyncCloud {
  readonly cloud: LocalCloud;
  /** Where the cloud stores what the gateways send. */
  readonly db: Firestore;
}

/** The cloud of project `projectId`, knowing `gateways` (gateway id to its ward and the secret it signs with). */
export async function startSyncCloud(
  t: T,
  projectId: string,
  gateways: Iterable<readonly [string, GatewayEntry]>,
): Promise<SyncCloud> {
  const emulators = await startEmulators(t, projectId);
  process.env.FIRESTORE_EMULATOR_HOST = emulators.firestoreHost;
  process.env.PUBSUB_EMULATOR_HOST = emulators.pubsubHost;
  const cloud = await startLocalCloud({
    settings: { ...defaults, projectId, logLevel: 'silent', apiTokens: [], gateways: new Map(gateways) },
    port: 0,
    env: process.env,
    log: createCloudLogger('silent'),
    push: false,
  });
  t.teardown(() => cloud.stop());
  return { cloud, db: cloud.ctx.db };
}

/**
 * A gateway's cloud section for these tests: its secrets read from WG_CLOUD
 * and WG_WARD, batches of at most 60 items sent at once, two at a time, and
 * quick retries; `more` adds or overrides keys.
 */
export const cloudLink = (url: string, more: Record<string, unknown> = {}) => ({
  url,
  secretEnv: 'WG_CLOUD',
  wardSecretEnv: 'WG_WARD',
  concurrency: 2,
  requestTimeoutMs: 20_000,
  batch: { maxItems: 60, maxAgeMs: 0 },
  backoff: { initialMs: 50, maxMs: 500 },
  ...more,
});
