// The demo's cloud half: the Firestore and Pub/Sub emulators (each in its own
// process group, stopped as a group) and `wardgate cloud` as a child process
// against them, accepting this run's gateway with this run's secret.
import { startEmulatorPair, type Emulators } from '../../cloud/local/emulators.js';
import { startChild, waitForChild, type Child } from './children.js';
import { DEMO_GATEWAY, DEMO_WARD } from './wardConfig.js';

export const DEMO_PROJECT = 'wardgate-demo';
const CLOUD_READY_MS = 60_000;

export interface DemoCloud {
  readonly url: string;
  readonly emulators: Emulators;
  readonly child: Child;
  stop(): Promise<void>;
}

export async function startDemoCloud(
  bin: string,
  secret: string,
  apiToken: string,
  env: NodeJS.ProcessEnv,
): Promise<DemoCloud> {
  const emulators = await startEmulatorPair(DEMO_PROJECT);
  let child: Child | undefined;
  try {
    child = startChild(
      'wardgate cloud',
      process.execPath,
      [bin, 'cloud', '--port', '0', '--project', DEMO_PROJECT, '--gateway', `${DEMO_GATEWAY}:${DEMO_WARD}`],
      {
        ...env,
        FIRESTORE_EMULATOR_HOST: emulators.firestoreHost,
        PUBSUB_EMULATOR_HOST: emulators.pubsubHost,
        WARDGATE_CLOUD_SECRET: secret,
        WARDGATE_API_TOKEN: apiToken,
        WARDGATE_LOG_LEVEL: 'warn',
      },
    );
    const started = child;
    const url = await waitForChild(
      started,
      () => /functions at (http:\/\/127\.0\.0\.1:\d+)\//.exec(started.output())?.[1],
      CLOUD_READY_MS,
      'the local cloud functions',
    );
    return {
      url,
      emulators,
      child: started,
      async stop() {
        await started.stop();
        await emulators.stop();
      },
    };
  } catch (err) {
    await child?.stop();
    await emulators.stop();
    throw err;
  }
}
