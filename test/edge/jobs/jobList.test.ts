// The verify job's log line says whether the run checked everything up to the
// cursors or stopped at its per-run bound (the next run goes on from there).
import t from 'tap';
import type { EventBus } from '../../../edge/bus.js';
import type { GatewayConfig } from '../../../edge/config/load.js';
import { jobList } from '../../../edge/jobs/jobList.js';
import { createLogger } from '../../../edge/log.js';
import type { Db } from '../../../edge/store/database.js';
import type { StorageGuard } from '../../../edge/store/storageGuard.js';
import type { VerifyReport } from '../../../edge/sync/verifier.js';
import type { CloudSync } from '../../../edge/sync/syncWiring.js';

const report = (complete: boolean): VerifyReport => ({
  ranges: 32,
  items: 9000,
  missing: 0,
  extra: 0,
  resent: 0,
  corrected: 0,
  holes: [],
  pendingRepairs: 0,
  complete,
});

for (const complete of [true, false]) {
  t.test(`a verification run that is ${complete ? '' : 'not '}complete says so`, async (t) => {
    let out = '';
    const log = createLogger('info', { write: (line: string) => void (out += line) });
    const cloud = {
      sync: { tick: () => undefined, kick: () => undefined },
      verifier: { run: () => Promise.resolve(report(complete)), refreshAlarm: () => undefined },
      pullConfig: () => Promise.resolve({ outcome: 'unchanged' }),
      services: [],
    } as unknown as CloudSync;
    const jobs = jobList({
      config: {
        jobs: { storage: '', retention: '', checkpoint: '', sync: '', verify: '', configPull: '' },
      } as unknown as GatewayConfig,
      log,
      db: {} as Db,
      guard: {} as StorageGuard,
      bus: {} as EventBus,
      cloud,
    });
    await jobs.find((j) => j.name === 'verify')!.run();
    const line = JSON.parse(out) as { msg: string; complete: boolean; ranges: number };
    t.equal(line.complete, complete);
    t.equal(line.ranges, 32);
    t.match(line.msg, complete ? /up to the cursors/ : /per-run limit; the next run goes on/);
  });
}
