// Scheduled work on node-cron (sync tick, storage check, retention purge, WAL
// checkpoint, config pull). Each job is guarded against overlapping runs: a
// run that finds the previous one still busy is skipped and counted, never
// queued. The clock is replaceable so that tests fire jobs at chosen times.
import cron from 'node-cron';
import type { Logger } from '../log.js';
import type { Service } from '../service.js';

export interface Job {
  readonly name: string;
  /** Cron expression (node-cron syntax; six fields when seconds are given). */
  readonly schedule: string;
  run(): unknown;
}

export type JobOutcome = 'ok' | 'failed' | 'skipped';

/** Fires a callback on a cron schedule; returns a function that stops it. */
export interface CronDriver {
  schedule(expression: string, fire: () => void): () => void;
}

export const nodeCronDriver: CronDriver = {
  schedule(expression, fire) {
    const task = cron.schedule(expression, fire, { noOverlap: false });
    return () => void task.destroy();
  },
};

/** A clock the test moves: `advanceTo(date)` fires, in order, every job whose expression matches each whole second passed. */
export class ManualCron implements CronDriver {
  readonly #tasks = new Set<{ matches: (d: Date) => boolean; fire: () => void }>();
  #at: number;

  constructor(start: Date) {
    this.#at = Math.floor(start.getTime() / 1000) * 1000;
  }

  schedule(expression: string, fire: () => void): () => void {
    const task = cron.createTask(expression, () => undefined);
    const entry = { matches: (d: Date) => task.match(d), fire };
    this.#tasks.add(entry);
    return () => void this.#tasks.delete(entry);
  }

  advanceTo(date: Date): void {
    const end = date.getTime();
    while (this.#at + 1000 <= end) {
      this.#at += 1000;
      const now = new Date(this.#at);
      for (const task of this.#tasks) if (task.matches(now)) task.fire();
    }
  }
}

export class Scheduler implements Service {
  readonly name = 'jobs';
  readonly #jobs: readonly Job[];
  readonly #driver: CronDriver;
  readonly #log: Logger;
  readonly #onRun: ((job: string, outcome: JobOutcome, ms: number) => void) | undefined;
  readonly #busy = new Map<string, Promise<void>>();
  #stops: Array<() => void> = [];

  constructor(options: {
    jobs: readonly Job[];
    log: Logger;
    driver?: CronDriver;
    onRun?: (job: string, outcome: JobOutcome, ms: number) => void;
  }) {
    this.#jobs = options.jobs;
    this.#driver = options.driver ?? nodeCronDriver;
    this.#log = options.log.child({ module: 'jobs' });
    this.#onRun = options.onRun;
  }

  async start(): Promise<void> {
    this.#stops = this.#jobs.map((job) => this.#driver.schedule(job.schedule, () => void this.runNow(job.name)));
    this.#log.info({ jobs: Object.fromEntries(this.#jobs.map((j) => [j.name, j.schedule])) }, 'jobs scheduled');
  }

  /** Stops the schedule and waits for runs in progress. */
  async stop(): Promise<void> {
    for (const stop of this.#stops) stop();
    this.#stops = [];
    await Promise.allSettled([...this.#busy.values()]);
  }

  /** Runs a job now unless its previous run is still busy; resolves with what happened. */
  async runNow(name: string): Promise<JobOutcome> {
    const job = this.#jobs.find((j) => j.name === name);
    if (!job) throw new Error(`no job named ${name}`);
    if (this.#busy.has(name)) {
      this.#log.warn({ job: name }, 'previous run still busy; this run skipped');
      this.#onRun?.(name, 'skipped', 0);
      return 'skipped';
    }
    const started = performance.now();
    let outcome: JobOutcome = 'ok';
    const run = (async () => {
      try {
        await job.run();
      } catch (err) {
        outcome = 'failed';
        this.#log.error({ err, job: name }, 'job failed');
      }
    })();
    this.#busy.set(name, run);
    await run;
    this.#busy.delete(name);
    this.#onRun?.(name, outcome, performance.now() - started);
    return outcome;
  }
}
