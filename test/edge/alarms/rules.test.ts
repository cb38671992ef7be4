// The rate-of-change rule against a plain reading of its definition: the
// median of the last minute's values against a percentile of the earlier
// 10-second bucket medians, each recomputed from scratch (the rule keeps each
// bucket's median between checks, and sorts numbers natively).
import t from 'tap';
import { rateVerdict, type Verdict } from '../../../edge/alarms/rules.js';
import { BedVitals, BUCKET_MS } from '../../../edge/alarms/vitals.js';

const RECENT_MS = 60_000;

const quantile = (values: number[], q: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
};

/** From the definition: what the change over the window is, or undefined without two buckets on each side. */
function expectedChange(vitals: BedVitals, metric: string, windowMs: number, rising: boolean, now: number) {
  const buckets = vitals.history(metric, now, windowMs);
  const recent = buckets.filter((b) => b.start + BUCKET_MS > now - RECENT_MS);
  const before = buckets.filter((b) => b.start + BUCKET_MS <= now - RECENT_MS);
  if (recent.length < 2 || before.length < 2) return undefined;
  const to = quantile(
    recent.flatMap((b) => b.values),
    0.5,
  );
  const from = quantile(
    before.map((b) => quantile(b.values, 0.5)),
    rising ? 0.1 : 0.9,
  );
  return { to, change: to - from };
}

const fmt = (v: number) => String(Math.round(v * 10) / 10);

t.test('rate of change: the same verdict as the definition, check after check, as buckets fill', async (t) => {
  let seed = 42;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const at = { bed: '1', deviceId: 'mon-1', scope: '1' };
  let checks = 0;
  let breaches = 0;
  const mismatches: string[] = [];
  for (const change of [10, -10, 3, -3]) {
    const rule = { metric: 'pulse', change, windowMs: 600_000, priority: 'low' as const, delayMs: 0 };
    const vitals = new BedVitals(600_000);
    let now = Date.parse('2026-11-27T09:00:00Z');
    let level = 80;
    for (let i = 0; i < 1500; i++) {
      // Irregular arrivals (several in a second, gaps of seconds), a drifting level, spikes.
      now += Math.floor(random() * 3000);
      level += (random() - 0.45) * 2 * Math.sign(change);
      const value = random() < 0.05 ? level + (random() - 0.5) * 80 : level + (random() - 0.5) * 4;
      vitals.record('pulse', { value, ts: now, deviceId: 'mon-1', flags: 0 });
      if (random() < 0.5) continue;
      const verdict: Verdict | undefined = rateVerdict(at, 'k', rule, vitals, now, false);
      const expected = expectedChange(vitals, 'pulse', rule.windowMs, change > 0, now);
      checks++;
      const reached = expected && (change > 0 ? expected.change >= change : expected.change <= change);
      const want = !expected
        ? undefined
        : reached
          ? `breach ${expected.to} ${fmt(Math.abs(expected.change))}`
          : 'clear';
      const got =
        verdict?.state === 'breach'
          ? `breach ${verdict.report.value} ${/ (\S+) \/min within/.exec(verdict.report.message)?.[1]}`
          : verdict?.state;
      if (got === 'breach' || got?.startsWith('breach')) breaches++;
      if (got !== want) mismatches.push(`${new Date(now).toISOString()} change ${change}: ${got} instead of ${want}`);
    }
  }
  t.same(mismatches, []);
  t.ok(checks > 2000, `${checks} checks`);
  t.ok(breaches > 50, `${breaches} of them breaches`);
});
