// The alarm service's lifecycle in a gateway running in this process: what it
// opens at start it releases at stop.
import t from 'tap';
import { readdirSync, readlinkSync, realpathSync } from 'node:fs';
import { startTestGateway } from '../../helpers/gateway.js';
import { waitFor } from '../../helpers/env.js';

/** Descriptors of this process open on a WAL file under `dir` (deleted or not). */
function walsOpenUnder(dir: string): number {
  return readdirSync('/proc/self/fd').filter((fd) => {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      return target.startsWith(dir) && target.includes('-wal');
    } catch {
      return false; // closed meanwhile (readdir's own)
    }
  }).length;
}

t.test('stopping the alarms releases the WAL descriptor the alarm store synced with', async (t) => {
  const { gateway, config } = await startTestGateway(t);
  const dataDir = realpathSync(config.gateway.dataDir);
  const before = walsOpenUnder(dataDir);
  // An alarm event: the store records it and syncs the WAL through a descriptor of its own.
  gateway.alarms!.engine.setTechnical('test:lifecycle', {
    bed: null,
    deviceId: null,
    metric: null,
    value: null,
    rule: 'test',
    priority: 'low',
    message: 'lifecycle test',
  });
  await waitFor(
    () => (walsOpenUnder(dataDir) === before + 1 ? true : undefined),
    2000,
    'the alarm store to open the WAL',
  );
  await new Promise((r) => setTimeout(r, 100)); // the sync under way ends
  await gateway.stop();
  t.equal(walsOpenUnder(dataDir), 0, 'no descriptor left on the WAL once stopped');
});
