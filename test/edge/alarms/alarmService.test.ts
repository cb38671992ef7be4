// The alarm service's lifecycle in a gateway running in this process: what it
// opens at start it releases at stop, and what it keeps for the next start
// is written by the time it has stopped.
import Database from 'better-sqlite3';
import fs, { readdirSync, readlinkSync, realpathSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import t, { type Test } from 'tap';
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

/** The alarm service of a gateway on its own store, and a new episode in bed 1 (its patient left, its devices taken off). */
async function alarmsWithEpisode(t: Test) {
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
  /** The devices taken off, then the next patient's monitor: a new episode. */
  const newEpisode = () => {
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
    return clock.t;
  };
  return { store, bus, alarms, newEpisode };
}

t.test('the start of a new episode is kept by the time the alarms have stopped, for the next start', async (t) => {
  const { store, alarms, newEpisode } = await alarmsWithEpisode(t);
  const began = newEpisode();
  await alarms.stop();
  t.same([...new EpisodeStore(store.db).last()], [['1', began]]);
});

t.test('an episode written at the stop is in the WAL before the alarm store syncs it for the last time', async (t) => {
  const { store, bus, alarms, newEpisode } = await alarmsWithEpisode(t);
  // In order: each write of an episode, and each WAL sync the alarm store starts.
  const order: string[] = [];
  store.db.function('episode_written', () => {
    order.push('episode');
    return null;
  });
  store.db.exec('CREATE TEMP TRIGGER episode_written AFTER INSERT ON bed_episodes BEGIN SELECT episode_written(); END');
  const { fdatasync } = fs;
  fs.fdatasync = ((fd: number, callback: (err: NodeJS.ErrnoException | null) => void) => {
    order.push('sync');
    fdatasync(fd, callback);
  }) as typeof fs.fdatasync;
  syncBuiltinESMExports();
  t.teardown(() => {
    fs.fdatasync = fdatasync;
    syncBuiltinESMExports();
  });
  // The ingest writer holds the lock through the last moments: an alarm event and the episode wait for it.
  const writer = new Database(store.db.name);
  t.teardown(() => writer.close());
  writer.prepare('BEGIN IMMEDIATE').run();
  bus.emit('alarm.technical', { key: 'test:stop', report: { rule: 'test', priority: 'low', message: 'stop test' } });
  newEpisode();
  await new Promise((resolve) => setImmediate(resolve));
  t.same(order, [], 'both wait');
  // The lock is free and the daemon stops before either is tried again: the stop writes both.
  writer.prepare('COMMIT').run();
  await alarms.stop();
  t.same(order, ['episode', 'sync'], "the episode is covered by the alarm store's last sync");
});
