// The daemon's ingest queue: group commits to the store, told on the bus.
// Items go out as 'ingest.accepted' as soon as they are queued (the alarm
// engine evaluates them without waiting for the disk) and as 'ingest.committed'
// once durable; each commit is counted in the metrics.
import type { EventBus } from '../bus.js';
import type { Logger } from '../log.js';
import type { GatewayMetrics } from '../metrics.js';
import { ReadingFlag } from '../../shared/reading.js';
import { CommitQueue, type GroupCommitter } from './commitQueue.js';
import type { CommittedItem } from './types.js';

export function ingestQueue(
  committer: GroupCommitter,
  deps: { bus: EventBus; metrics: GatewayMetrics; log: Logger },
  /** ingest.groupCommitMs: how long a lone item waits for company (commitQueue.ts gatherMs). */
  groupCommitMs = 0,
): CommitQueue {
  const { bus, metrics, log } = deps;
  return new CommitQueue(
    committer,
    {
      onSubmitted: (item) => bus.emit('ingest.accepted', [item]),
      onCommitted: (committed, ms) => {
        recordCommit(metrics, committed, ms);
        bus.emit('ingest.committed', committed);
      },
      onError: (err, items) => {
        metrics.commitErrors.inc();
        log.error({ err, items }, 'group commit failed; retrying items one by one');
      },
      onListenerError: (err) => log.error({ err }, 'post-commit hook failed'),
    },
    // Two groups with the writer thread: it starts on the next while this thread tells the submitters of the last.
    { inFlight: 2, gatherMs: groupCommitMs },
  );
}

function recordCommit(metrics: GatewayMetrics, committed: readonly CommittedItem[], ms: number): void {
  const now = Date.now();
  metrics.commitBatch.observe(committed.length);
  metrics.commitSeconds.observe(ms / 1000);
  for (const { item, result } of committed) {
    metrics.messages.inc({ source: item.source, outcome: result.outcome });
    if (result.outcome === 'rejected') metrics.rejects.inc({ reason: result.rejection.code });
    if (item.kind !== 'obs') continue;
    metrics.ingestLatency.observe((now - item.receivedTs) / 1000);
    if (result.outcome !== 'stored') continue;
    metrics.readings.inc({ source: item.source }, item.readings.length);
    for (const r of item.readings) if (r.flags & ReadingFlag.artifact) metrics.artifacts.inc();
  }
}
