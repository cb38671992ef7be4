// The event-loop lag gauges of /metrics: how late the loop ran a timer due
// every `sampleMs`, over the time since the last scrape.
//
// prom-client's own gauges report perf_hooks.monitorEventLoopDelay as it is,
// and that histogram records the whole time between two of its ticks, the
// interval included: sampled every 100 ms, an idle loop read 0.1 s of lag. Its
// reset also forgets its last tick, so a stall in the first interval after a
// scrape was never recorded. Here one timer records how late each of its ticks
// came, measured from the previous tick, and each scrape reads and resets.
import { createHistogram } from 'node:perf_hooks';
import { Gauge, type Registry } from 'prom-client';

/** The statistics prom-client exports as `<prefix>nodejs_eventloop_lag_<stat>_seconds`, with their aggregators. */
const STATS = {
  min: ['The minimum event loop lag (how late a timer ran) since the last scrape.', 'min'],
  max: ['The maximum event loop lag (how late a timer ran) since the last scrape.', 'max'],
  mean: ['The mean event loop lag (how late a timer ran) since the last scrape.', 'average'],
  stddev: ['The standard deviation of the event loop lag since the last scrape.', 'average'],
  p50: ['The 50th percentile of the event loop lag (how late a timer ran) since the last scrape.', 'average'],
  p90: ['The 90th percentile of the event loop lag (how late a timer ran) since the last scrape.', 'average'],
  p99: ['The 99th percentile of the event loop lag (how late a timer ran) since the last scrape.', 'average'],
} as const;

type Stat = keyof typeof STATS;

export const eventLoopLagNames = (prefix: string) =>
  Object.keys(STATS).map((stat) => `${prefix}nodejs_eventloop_lag_${stat}_seconds`);

/** Registers the gauges and starts their sampler (unref'd: it never holds the process open). */
export function registerEventLoopLag(registry: Registry, prefix: string, sampleMs: number): void {
  // In ns; the histogram's lowest value is 1, which stands for on time.
  const lateness = createHistogram();
  const intervalNs = BigInt(sampleMs) * 1_000_000n;
  let previous = process.hrtime.bigint();
  setInterval(() => {
    const now = process.hrtime.bigint();
    const late = now - previous - intervalNs;
    previous = now;
    lateness.record(late > 0n ? late : 1n);
  }, sampleMs).unref();

  const seconds = (ns: number) => (ns > 1 ? ns / 1e9 : 0);
  // One snapshot per scrape: the first gauge collected reads and resets, the
  // others in the same scrape (collected in the same turn) share its values.
  let snapshot: Record<Stat, number> | undefined;
  const read = (): Record<Stat, number> => {
    if (!snapshot) {
      // No tick since the last scrape (scrapes closer than sampleMs): nothing was late.
      const h = lateness.count > 0 ? lateness : undefined;
      snapshot = {
        min: seconds(h?.min ?? 0),
        max: seconds(h?.max ?? 0),
        mean: seconds(h?.mean ?? 0),
        stddev: (h?.stddev ?? 0) / 1e9,
        p50: seconds(h?.percentile(50) ?? 0),
        p90: seconds(h?.percentile(90) ?? 0),
        p99: seconds(h?.percentile(99) ?? 0),
      };
      lateness.reset();
      queueMicrotask(() => (snapshot = undefined));
    }
    return snapshot;
  };

  for (const [stat, [help, aggregator]] of Object.entries(STATS) as Array<[Stat, (typeof STATS)[Stat]]>) {
    new Gauge({
      name: `${prefix}nodejs_eventloop_lag_${stat}_seconds`,
      help,
      aggregator,
      registers: [registry],
      collect() {
        this.set(read()[stat]);
      },
    });
  }
}
