import t from 'tap';
import { CommitQueue, type GroupCommitter } from '../../edge/ingest/commitQueue.js';
import type { CommittedItem, IngestItem } from '../../edge/ingest/types.js';
import { reject } from '../../shared/errors.js';

const item = (deviceId: string): IngestItem => ({ kind: 'dead', source: 'mqtt', receivedTs: 1, deviceId, rejection: reject('WG_ERR_JSON', 'x'), raw: Buffer.alloc(0) });

/** A store double that records transactions and refuses items of one device. */
function store(poison = 'none'): GroupCommitter & { groups: number[] } {
  const groups: number[] = [];
  return {
    groups,
    commit(items) {
      if (items.some((i) => i.kind === 'dead' && i.deviceId === poison)) throw new Error('disk I/O error');
      groups.push(items.length);
      return items.map((i): CommittedItem => ({ item: i, result: { outcome: 'status' } }));
    },
  };
}

t.test('items submitted in one turn share one transaction', async (t) => {
  const s = store();
  const queue = new CommitQueue(s);
  const done = await Promise.all(['a', 'b', 'c'].map((d) => queue.submitAsync(item(d))));
  t.same(s.groups, [3]);
  t.equal(done.length, 3);
  await queue.submitAsync(item('d'));
  t.same(s.groups, [3, 1], 'a later turn is a new transaction');
});

t.test('a failing group is retried item by item: only the item that cannot be stored is refused', async (t) => {
  const s = store('bad');
  const errors: number[] = [];
  const queue = new CommitQueue(s, { onError: (_err, n) => errors.push(n) });
  const results = await Promise.allSettled(['a', 'bad', 'c'].map((d) => queue.submitAsync(item(d))));
  t.same(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled']);
  t.same(s.groups, [1, 1]);
  t.same(errors, [3]);
});

t.test('a throwing post-commit hook never costs a submitter its acknowledgement', async (t) => {
  const seen: string[] = [];
  const queue = new CommitQueue(store(), {
    onCommitted: () => {
      throw new Error('listener bug');
    },
    onListenerError: (err) => seen.push(err.message),
  });
  t.same(await queue.submitAsync(item('a')), { outcome: 'status' });
  t.same(seen, ['listener bug']);
});

t.test('after close, pending items are committed and new ones refused', async (t) => {
  const s = store();
  const queue = new CommitQueue(s);
  const pending = queue.submitAsync(item('a'));
  t.equal(queue.pending, 1);
  queue.close();
  t.same(await pending, { outcome: 'status' });
  await t.rejects(queue.submitAsync(item('b')), /shutting down/);
});
