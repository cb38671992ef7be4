// The alarm service's lifecycle in a gateway running in this process: what it
// opens at start it releases at stop, and what it keeps for the next start
// is written by the time it has stopped.
import t from 'tap';
import { readdirSync, readlinkSync, realpathSync } from 'node:fs';
import { AlarmService } from '../../../edge/alarms/alarmService.js';
import { NEW_EPISODE_GAP_MS } from '../../../edge/alarms/engine.js';
import { EventBus } from '../../../edge/bus.js';
import { loadConfig } from '../../../edge/config/load.js';
import { createLogger } from '../../../edge/log.js';
import { Admissions } from '../../../edge/patients/admissions.js';
import { EpisodeStore } from '../../../edge/store/episodeStore.js';
import { Store } from '../../../edge/store/store.js';
import { metric } from '../../../shared/codes.js';
import { ManualClock } from '../../helpers/alarms.js';
import { startTestGateway, writeTestConfig } from '../../helpers/gateway.js';
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

t.test('the start of a new episode is kept by the time the alarms have stopped, for the next start', async (t) => {
  const { file } = await writeTestConfig(t);
  const config = loadConfig({ file, env: {} });
  const store = await Store.open({ dataDir: config.gateway.dataDir, devices: [] });
  t.teardown(() => store.close());
  const clock = new ManualClock();
  const admissions = new Admissions(store.db, store.audit, () => clock.t);
  const bus = new EventBus(createLogger('silent'));
  const alarms = new AlarmService({
    config,
    store,
    admissions,
    bus,
    log: createLogger('silent'),
    publisher: { publish: () => {} },
    env: {},
    clock,
  });
  await alarms.start();
  admissions.admit({ bed: '1', identifier: 'MRN-A' }, 'nurse');
  bus.emit('patient.changed', { bed: '1' });
  admissions.discharge('1', 'nurse');
  bus.emit('patient.changed', { bed: '1' });
  // The devices taken off, then the next patient's monitor: a new episode.
  clock.t += NEW_EPISODE_GAP_MS;
  const readings = [{ code: 'spo2', value: 97, unit: metric('spo2').unit, ts: clock.t, flags: 0 }];
  alarms.engine.onCommitted([
    {
      item: {
        kind: 'obs',
        source: 'mqtt',
        receivedTs: clock.t,
        deviceId: 'pox-1',
        seq: 1,
        ts: clock.t,
        digest: Buffer.alloc(8),
        readings,
      },
      result: { outcome: 'stored', readings: 1, bed: '1' },
    },
  ]);
  await alarms.stop();
  t.same([...new EpisodeStore(store.db).last()], [['1', clock.t]]);
});
