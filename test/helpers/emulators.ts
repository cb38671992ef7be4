// The Firestore and Pub/Sub emulators for a test file: started once on free
// loopback ports, stopped (with their java children) when the test ends.
import { startEmulatorPair, type Emulators } from '../../cloud/local/emulators.js';

export type { Emulators };

interface T {
  teardown(fn: () => unknown): void;
}

export async function startEmulators(t: T, projectId = 'wardgate-test'): Promise<Emulators> {
  const emulators = await startEmulatorPair(projectId);
  t.teardown(() => emulators.stop());
  return emulators;
}
