// Scheduled jobs on a clock the test moves (ManualCron): each job runs on its
// schedule, a run that finds the previous one busy is skipped and counted, a
// failing job is logged and counted and the others keep running; and the
// daemon's jobs (storage, retention, checkpoint) do their work when due.
import t from 'tap';
import { Writable } from 'node:stream';
import { EventBus } from '../../../edge/bus.js';
import { loadConfig } from '../../../edge/config/load.js';
import { jobList } from '../../../edge/jobs/jobList.js';
import { ManualCron, Scheduler, type JobOutcome } from '../../../edge/jobs/scheduler.js';
import { createLogger } from '../../../edge/log.js';
import { openDatabase } from '../../../edge/store/database.js';
import { StorageGuard } from '../../../edge/store/storageGuard.js';
import type { TechnicalAlarms, TechnicalReport } from '../../../edge/sync/technicalAlarms.js';
import { writeTestConfig } from '../../helpers/gateway.js';
import { waitFor } from '../../helpers/env.js';

const START = new Date(Date.UTC(2026, 10, 27, 9, 0, 0));
const at = (seconds: number) => new Date(START.getTime() + seconds * 1000);
const settle = () => new Promise((r) => setImmediate(r));

function capturedLog() {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l));
      done();
    },
  });
  return { log: createLogger('info', sink), lines };
}

t.test('each job runs on its schedule, in whole seconds of the manual clock', async (t) => {
  const cron = new ManualCron(START);
  const runs: Record<string, number[]> = { fast: [], minute: [], hourly: [] };
  const { log } = capturedLog();
  const clock = { s: 0 };
  const scheduler = new Scheduler({
    log,
    driver: cron,
    jobs: [
      { name: 'fast', schedule: '*/5 * * * * *', run: () => runs.fast.push(clock.s) },
      { name: 'minute', schedule: '30 * * * * *', run: () => runs.minute.push(clock.s) },
      { name: 'hourly', schedule: '17 * * * *', run: () => runs.hourly.push(clock.s) },
    ],
  });
  await scheduler.start();
  t.teardown(() => scheduler.stop());
  // A second at a time, letting each run finish as it would between real cron fires.
  for (clock.s = 1; clock.s <= 3600; clock.s++) {
    cron.advanceTo(at(clock.s));
    await settle();
  }
  t.equal(runs.fast.length, 720, 'every 5 s: 720 runs in an hour');
  t.same(runs.fast.slice(0, 3), [5, 10, 15]);
  t.same(runs.minute.slice(0, 2), [30, 90], 'at second 30 of every minute');
  t.equal(runs.minute.length, 60);
  t.same(runs.hourly, [17 * 60], 'at minute 17 once');
  await scheduler.stop();
  cron.advanceTo(at(3700));
  t.equal(runs.fast.length, 720, 'nothing runs after stop');
});

t.test('an overlapping run is skipped and counted, never queued', async (t) => {
  const cron = new ManualCron(START);
  const outcomes: Array<[string, JobOutcome]> = [];
  let release!: () => void;
  let started = 0;
  const { log, lines } = capturedLog();
  const scheduler = new Scheduler({
    log,
    driver: cron,
    onRun: (job, outcome) => outcomes.push([job, outcome]),
    jobs: [
      {
        name: 'slow',
        schedule: '* * * * * *',
        run: () => {
          started++;
          return new Promise<void>((r) => (release = r));
        },
      },
    ],
  });
  await scheduler.start();
  t.teardown(() => scheduler.stop());
  cron.advanceTo(at(1));
  cron.advanceTo(at(4));
  await settle();
  t.equal(started, 1, 'one run in progress; the three fires during it did not start another');
  t.same(outcomes, [
    ['slow', 'skipped'],
    ['slow', 'skipped'],
    ['slow', 'skipped'],
  ]);
  t.ok(
    lines.some((l) => l.job === 'slow' && /still busy/.test(String(l.msg))),
    'the skip is logged',
  );
  release();
  await waitFor(() => (outcomes.length === 4 ? true : undefined), 2000, 'the run to finish');
  t.same(outcomes.at(-1), ['slow', 'ok']);
  cron.advanceTo(at(5));
  t.equal(started, 2, 'the next fire after it finished runs');
  release();
});

t.test('a failing job is logged and counted; the others keep their schedule', async (t) => {
  const cron = new ManualCron(START);
  const outcomes: Array<[string, JobOutcome]> = [];
  let healthy = 0;
  const { log, lines } = capturedLog();
  const scheduler = new Scheduler({
    log,
    driver: cron,
    onRun: (job, outcome) => outcomes.push([job, outcome]),
    jobs: [
      {
        name: 'broken',
        schedule: '* * * * * *',
        run: () => {
          throw new Error('disk I/O error');
        },
      },
      {
        name: 'brokenAsync',
        schedule: '* * * * * *',
        run: async () => {
          throw new Error('network down');
        },
      },
      { name: 'healthy', schedule: '* * * * * *', run: () => healthy++ },
    ],
  });
  await scheduler.start();
  t.teardown(() => scheduler.stop());
  for (let s = 1; s <= 3; s++) {
    cron.advanceTo(at(s));
    await settle();
  }
  await waitFor(() => (outcomes.length === 9 ? true : undefined), 2000, 'nine runs');
  t.equal(healthy, 3, 'the healthy job ran every second');
  t.equal(outcomes.filter(([j, o]) => j === 'broken' && o === 'failed').length, 3, 'failures counted');
  t.equal(outcomes.filter(([j, o]) => j === 'brokenAsync' && o === 'failed').length, 3, 'async failures counted');
  const errors = lines.filter((l) => l.msg === 'job failed');
  t.equal(errors.length, 6, 'each failure logged');
  t.match((errors[0].err as { message: string }).message, /disk I\/O error/);
});

t.test("the daemon's jobs, wired from the config, do their work when due", async (t) => {
  const { file } = await writeTestConfig(t, {
    extra: {
      storage: { quotaBytes: 1024 * 1024, highWaterPercent: 1, retentionDays: 1 },
      jobs: { storage: '*/30 * * * * *', retention: '0 * * * *', checkpoint: '*/10 * * * *' },
    },
  });
  const config = loadConfig({ file, env: {} });
  const db = openDatabase(config.gateway.dataDir);
  t.teardown(() => db.close());
  const { log } = capturedLog();
  const raised: Array<TechnicalReport | null> = [];
  const alarms: TechnicalAlarms = { set: (_key, report) => void raised.push(report) };
  const cron = new ManualCron(START);
  const now = START.getTime();
  const guard = new StorageGuard(db, config.storage, alarms, () => now);
  const jobs = jobList({ config, log, db, guard, bus: new EventBus(log) });
  t.same(
    jobs.map((j) => j.name),
    ['storage', 'retention', 'checkpoint'],
    'no cloud: no sync, verify or config pull job',
  );
  const scheduler = new Scheduler({ jobs, log, driver: cron });
  await scheduler.start();
  t.teardown(() => scheduler.stop());
  db.prepare("INSERT INTO devices (device_id, bed, source) VALUES ('mon-1', '7', 'mqtt')").run();
  db.prepare(
    "INSERT INTO observations (device, seq, ts, received_ts, bed, digest, readings) VALUES (1, 1, ?, ?, '7', x'00', '[]'), (1, 2, ?, ?, '7', x'00', '[]')",
  ).run(now - 2 * 86_400_000, now - 2 * 86_400_000, now, now);
  db.prepare("UPDATE outbox_cursors SET synced_through = 2 WHERE stream = 'observations'").run();

  cron.advanceTo(at(29));
  await settle();
  t.same(raised, [], 'nothing before the storage job is due');
  cron.advanceTo(at(30));
  await waitFor(() => (raised.length ? true : undefined), 2000, 'the storage job');
  t.equal(raised[0]?.rule, 'buffer-filling', 'storage job at second 30: over the (1 %) high-water mark');
  t.ok(
    (db.pragma('wal_checkpoint(PASSIVE)') as Array<{ log: number }>)[0].log > 0,
    'the WAL holds frames before the checkpoint job',
  );
  cron.advanceTo(at(600));
  await settle();
  t.equal(
    (db.pragma('wal_checkpoint(PASSIVE)') as Array<{ log: number }>)[0].log,
    0,
    'checkpoint job at minute 10 truncated the WAL',
  );
  t.equal(db.prepare('SELECT count(*) FROM observations').pluck().get(), 2, 'retention not yet due');
  cron.advanceTo(at(3600));
  await waitFor(
    () => (db.prepare('SELECT count(*) FROM observations').pluck().get() === 1 ? true : undefined),
    2000,
    'the retention job',
  );
  t.same(
    db.prepare('SELECT seq FROM observations').pluck().all(),
    [2],
    'retention at the hour: the synced row older than a day went, the recent one stayed',
  );
});
