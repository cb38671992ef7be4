// What every function needs, built once per instance and passed in: no
// handler reads the environment or creates clients itself.
import { Firestore } from '@google-cloud/firestore';
import { PubSub } from '@google-cloud/pubsub';
import { createCloudLogger, type Logger } from './log.js';
import { followSecrets, settingsFromEnv, type CloudSettings } from './settings.js';

export interface CloudContext {
  readonly settings: CloudSettings;
  readonly db: Firestore;
  readonly pubsub: PubSub;
  readonly log: Logger;
  /** The clock, epoch ms; tests and the benchmark may pin it. */
  now(): number;
}

export function createContext(
  settings: CloudSettings,
  log: Logger = createCloudLogger(settings.logLevel),
): CloudContext {
  // Both clients find the emulators through FIRESTORE_EMULATOR_HOST and
  // PUBSUB_EMULATOR_HOST, and production through Application Default Credentials.
  const db = new Firestore({ projectId: settings.projectId, ignoreUndefinedProperties: true });
  const pubsub = new PubSub({ projectId: settings.projectId });
  const ctx: CloudContext = { settings, db, pubsub, log, now: Date.now };
  // Secret files are read again in the background, never on a request's path.
  following.set(ctx, followSecrets(settings, log));
  return ctx;
}

const following = new WeakMap<CloudContext, () => void>();

export async function closeContext(ctx: CloudContext): Promise<void> {
  following.get(ctx)?.();
  await Promise.allSettled([ctx.db.terminate(), ctx.pubsub.close()]);
}

let shared: CloudContext | undefined;

/** The deployed functions' context: from the environment, on first use, once per instance. */
export function contextFromEnv(): CloudContext {
  shared ??= createContext(settingsFromEnv(process.env));
  return shared;
}
