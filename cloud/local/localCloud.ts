// `wardgate cloud`: every function on one loopback port, as the Functions
// Framework would serve each, against the Firestore and Pub/Sub emulators.
// Paths mirror https://REGION-PROJECT.cloudfunctions.net/{function}, so an
// edge's cloud.url can point here unchanged. Creates the topics and a push
// subscription from the Pub/Sub emulator to the local analyzeReadings.
import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { PubSub } from '@google-cloud/pubsub';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import { WardgateError } from '../../shared/errors.js';
import { closeContext, createContext, type CloudContext } from '../context.js';
import { putEdgeConfig } from '../edgeConfig/edgeConfig.js';
import { functionNames, registerFunctions } from '../functions.js';
import { answerClientError, bodyPolicyOf, guardedListener, writeError } from '../requestGuard.js';
import type { Logger } from '../log.js';
import type { CloudSettings } from '../settings.js';

export const ANALYZE_SUBSCRIPTION = 'wardgate-analyze';
const LOOPBACK = /^(127\.0\.0\.1|localhost|\[::1\]):\d+$/;

export interface LocalCloudOptions {
  readonly settings: CloudSettings;
  /** 0 picks a free port. */
  readonly port: number;
  readonly env: NodeJS.ProcessEnv;
  readonly log?: Logger;
  readonly edgeConfigs?: Readonly<Record<string, Record<string, unknown>>>;
  /** false: no push subscription (the benchmark drives the analysis itself, to time it). */
  readonly push?: boolean;
}

export interface LocalCloud {
  readonly url: string;
  readonly ctx: CloudContext;
  stop(): Promise<void>;
}

/** Refuses to run unless both emulators are configured, on loopback: `wardgate cloud` never touches a real project. */
export function requireEmulators(env: NodeJS.ProcessEnv): { firestore: string; pubsub: string } {
  for (const name of ['FIRESTORE_EMULATOR_HOST', 'PUBSUB_EMULATOR_HOST'] as const) {
    const value = env[name];
    if (!value) throw new WardgateError('WG_ERR_CONFIG', 'not set: start the emulator and export its host:port', name);
    if (!LOOPBACK.test(value))
      throw new WardgateError(
        'WG_ERR_CONFIG',
        `expected a loopback host:port such as 127.0.0.1:8681, got ${value}`,
        name,
      );
  }
  return { firestore: env.FIRESTORE_EMULATOR_HOST!, pubsub: env.PUBSUB_EMULATOR_HOST! };
}

export async function startLocalCloud(options: LocalCloudOptions): Promise<LocalCloud> {
  requireEmulators(options.env);
  // The emulators need no credentials. Without this, google-auth-library probes
  // the GCE metadata server (169.254.169.254) before every client's first call:
  // a lookup off this machine that a local run must never make.
  process.env.METADATA_SERVER_DETECTION ??= 'none';
  const ctx = createContext(options.settings, options.log);
  registerFunctions(() => ctx);
  const apps = new Map<string, RequestListener>();
  const onError = (err: Error) => ctx.log.error({ err: err.message }, 'request failed in the framework');
  for (const name of functionNames) {
    // The same guard as deployed (cloud/index.ts): nothing reaches the framework's body parsers unchecked.
    apps.set(
      name,
      guardedListener(getTestServer(name).listeners('request')[0] as RequestListener, bodyPolicyOf(name), onError),
    );
  }

  const server = createServer((req, res) => dispatch(apps, req, res));
  server.on('clientError', answerClientError);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, '127.0.0.1', () => resolve());
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    await ensureTopics(ctx.pubsub, [options.settings.batchesTopic, options.settings.alertsTopic]);
    const endpoint = `${url}/analyzeReadings/projects/${options.settings.projectId}/topics/${options.settings.batchesTopic}`;
    if (options.push !== false)
      await ensurePushSubscription(ctx.pubsub, options.settings.batchesTopic, ANALYZE_SUBSCRIPTION, endpoint);
    for (const [gateway, config] of Object.entries(options.edgeConfigs ?? {}))
      await putEdgeConfig(ctx.db, gateway, config, Date.now());
  } catch (err) {
    await closeServer(server);
    await closeContext(ctx);
    throw err;
  }
  ctx.log.info({ url, functions: functionNames }, 'local cloud functions listening');
  return {
    url,
    ctx,
    async stop() {
      await closeServer(server);
      await closeContext(ctx);
    },
  };
}

/** Routes /{function}/rest to that function's app with the path it would see when deployed: /rest. */
function dispatch(apps: ReadonlyMap<string, RequestListener>, req: IncomingMessage, res: ServerResponse): void {
  const url = req.url ?? '/';
  const slash = url.indexOf('/', 1);
  const query = url.indexOf('?');
  const end = [slash, query].filter((i) => i > 0).reduce((a, b) => Math.min(a, b), url.length);
  const app = apps.get(url.slice(1, end));
  if (!app) {
    writeError(
      res,
      'WG_ERR_NOT_FOUND',
      `no function at ${url.slice(0, end)}; functions: ${[...apps.keys()].join(', ')}`,
    );
    return;
  }
  const rest = url.slice(end);
  req.url = rest.startsWith('/') ? rest : `/${rest}`;
  app(req, res);
}

async function ensureTopics(pubsub: PubSub, names: readonly string[]): Promise<void> {
  for (const name of names) {
    const [exists] = await pubsub.topic(name).exists();
    if (!exists) await pubsub.createTopic(name).catch(ignoreAlreadyExists);
  }
}

async function ensurePushSubscription(pubsub: PubSub, topic: string, name: string, endpoint: string): Promise<void> {
  const subscription = pubsub.subscription(name);
  const [exists] = await subscription.exists();
  if (exists) {
    await subscription.modifyPushConfig({ pushEndpoint: endpoint });
    return;
  }
  await pubsub
    .topic(topic)
    .createSubscription(name, { pushConfig: { pushEndpoint: endpoint }, ackDeadlineSeconds: 60 })
    .catch(ignoreAlreadyExists);
}

function ignoreAlreadyExists(err: Error & { code?: number }): void {
  if (err.code !== 6) throw err; // 6 = ALREADY_EXISTS (gRPC): a parallel start won the race
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
