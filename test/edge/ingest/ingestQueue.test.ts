// ingest.groupCommitMs: a reading that finds the writer idle waits that long
// for others to share its commit (fewer commits and fsyncs on a busy floor),
// while readings come often enough that others are likely (commitQueue.test.ts
// has a quiet ward's readings going at once). 3 ms by default; 0 turns it off.
import t from 'tap';
import { EventBus } from '../../../edge/bus.js';
import { configSchema } from '../../../edge/config/schema.js';
import type { GroupCommitter } from '../../../edge/ingest/commitQueue.js';
import { ingestQueue } from '../../../edge/ingest/ingestQueue.js';
import type { CommittedItem, IngestItem } from '../../../edge/ingest/types.js';
import { createLogger } from '../../../edge/log.js';
import { createMetrics } from '../../../edge/metrics.js';

const status = (deviceId: string): IngestItem => ({
  kind: 'status',
  source: 'mqtt',
  receivedTs: Date.now(),
  deviceId,
  status: { ts: Date.now(), battery: 80 },
});

/** Commits at once, recording each group's devices. */
function recorder(): GroupCommitter & { groups: string[][] } {
  const groups: string[][] = [];
  return {
    groups,
    commit(items, done) {
      groups.push(items.map((i) => i.deviceId!));
      done(
        null,
        items.map((item): CommittedItem => ({ item, result: { outcome: 'status' } })),
      );
    },
  };
}

/**
 * Two readings 5 ms apart, each waited for until committed: the groups they
 * went in. `busy`: first a floor's worth of devices, each on its own clock,
 * 1 ms apart (their groups are left out).
 */
async function twoReadings(groupCommitMs: number, busy = false): Promise<string[][]> {
  const writer = recorder();
  const log = createLogger('silent');
  const queue = ingestQueue(
    writer,
    {
      bus: new EventBus(log),
      metrics: createMetrics({ unsyncedReadings: () => 0, oldestUnsyncedAgeSeconds: () => 0, mqttClients: () => 0 }),
      log,
    },
    groupCommitMs,
  );
  if (busy) {
    const floor: Promise<unknown>[] = [];
    for (let i = 0; i < 40; i++) {
      floor.push(queue.submitAsync(status(`bed-${i}`)));
      await new Promise((r) => setTimeout(r, 1));
    }
    await Promise.all(floor);
    writer.groups.length = 0;
  }
  const a = queue.submitAsync(status('mon-1'));
  await new Promise((r) => setTimeout(r, 5));
  const b = queue.submitAsync(status('mon-2'));
  await Promise.all([a, b]);
  await queue.close();
  return writer.groups;
}

t.test('3 ms by default: readings 5 ms apart go in commits of their own', async (t) => {
  const { ingest } = configSchema.parse({});
  t.equal(ingest.groupCommitMs, 3);
  t.same(await twoReadings(ingest.groupCommitMs), [['mon-1'], ['mon-2']]);
});

t.test('off: each reading goes at the next turn, whatever the window would have gathered', async (t) => {
  const { ingest } = configSchema.parse({ ingest: { groupCommitMs: 0 } });
  t.same(await twoReadings(ingest.groupCommitMs), [['mon-1'], ['mon-2']]);
});

t.test('on a busy floor, readings a few milliseconds apart share one commit', async (t) => {
  const { ingest } = configSchema.parse({ ingest: { groupCommitMs: 20 } });
  t.same(await twoReadings(ingest.groupCommitMs, true), [['mon-1', 'mon-2']]);
});

t.test('on a quiet ward they do not: each goes at once', async (t) => {
  const { ingest } = configSchema.parse({ ingest: { groupCommitMs: 20 } });
  t.same(await twoReadings(ingest.groupCommitMs), [['mon-1'], ['mon-2']]);
});

t.test('bounded: a window that would hold PUBACKs for long is refused, naming the field', async (t) => {
  const parsed = configSchema.safeParse({ ingest: { groupCommitMs: 500 } });
  t.notOk(parsed.success);
  t.match(parsed.error?.issues[0], { path: ['ingest', 'groupCommitMs'] });
});
