import t from 'tap';
import { CommitQueue, syncCommitter, type GroupCommitter } from '../../../edge/ingest/commitQueue.js';
import type { CommittedItem, IngestItem } from '../../../edge/ingest/types.js';
import { reject } from '../../../shared/errors.js';

const item = (deviceId: string): IngestItem => ({
  kind: 'dead',
  source: 'mqtt',
  receivedTs: 1,
  deviceId,
  rejection: reject('WG_ERR_JSON', 'x'),
  raw: Buffer.alloc(0),
});

/** A store double that records transactions and refuses items of one device. */
function store(poison = 'none'): GroupCommitter & { groups: number[] } {
  const groups: number[] = [];
  const committer = syncCommitter((items) => {
    if (items.some((i) => i.kind === 'dead' && i.deviceId === poison)) throw new Error('disk I/O error');
    groups.push(items.length);
    return items.map((i): CommittedItem => ({ item: i, result: { outcome: 'status' } }));
  });
  return Object.assign(committer, { groups });
}

/** A writer on another thread: each group is answered only when the test says so. */
function slowStore(): GroupCommitter & { groups: string[][]; answer(): void; waiting(): number } {
  const groups: string[][] = [];
  const waiting: Array<() => void> = [];
  return {
    groups,
    commit(items, done) {
      groups.push(items.map((i) => i.deviceId!));
      waiting.push(() =>
        done(
          null,
          items.map((item): CommittedItem => ({ item, result: { outcome: 'status' } })),
        ),
      );
    },
    answer: () => waiting.shift()!(),
    waiting: () => waiting.length,
  };
}

/**
 * A busy floor as the queue sees it: `devices` devices, each sending on its
 * own clock, `gapMs` apart; the writer answers every group as it comes.
 * Leaves the queue idle; returns the groups it made and empties the record.
 */
async function busyFloor(
  queue: CommitQueue,
  s: ReturnType<typeof slowStore>,
  devices = 40,
  gapMs = 2,
): Promise<string[][]> {
  for (let i = 0; i < devices; i++) {
    queue.submit(item(`floor-${i}`), () => {});
    await new Promise((r) => setTimeout(r, gapMs));
    while (s.waiting() > 0) s.answer();
  }
  while (queue.pending > 0 || s.waiting() > 0) {
    await new Promise((r) => setTimeout(r, 5));
    while (s.waiting() > 0) s.answer();
  }
  return s.groups.splice(0);
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
  t.same(
    results.map((r) => r.status),
    ['fulfilled', 'rejected', 'fulfilled'],
  );
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
  const closing = queue.close();
  t.same(await pending, { outcome: 'status' });
  await closing;
  await t.rejects(queue.submitAsync(item('b')), /shutting down/);
});

t.test(
  'items that arrive while a group is with the writer form the next group, sent as soon as it answers',
  async (t) => {
    const s = slowStore();
    const queue = new CommitQueue(s, {}, { gatherMs: 0 });
    const told: string[] = [];
    const submit = (d: string) => queue.submit(item(d), (err) => (err ? t.fail(err.message) : told.push(d)));
    submit('a');
    await new Promise((r) => setImmediate(r));
    t.same(s.groups, [['a']], 'the first group went at the next turn');
    submit('b');
    submit('c');
    await new Promise((r) => setImmediate(r));
    t.same(s.groups, [['a']], 'nothing more is sent while the writer is busy');
    t.equal(queue.pending, 2);
    t.same(told, []);
    s.answer();
    t.same(told, ['a'], 'the first group is told when its commit is answered');
    t.same(s.groups, [['a'], ['b', 'c']], 'what waited goes at once, as one group');
    const closing = queue.close();
    let closed = false;
    void closing.then(() => (closed = true));
    await new Promise((r) => setImmediate(r));
    t.notOk(closed, 'close waits for the group still with the writer');
    s.answer();
    await closing;
    t.same(told, ['a', 'b', 'c']);
  },
);

t.test(
  'with the writer idle, items a few milliseconds apart wait for each other (gatherMs) and share one group',
  async (t) => {
    const s = slowStore();
    const queue = new CommitQueue(s, {}, { gatherMs: 30 });
    await busyFloor(queue, s);
    const told: string[] = [];
    const submit = (d: string) => queue.submit(item(d), (err) => (err ? t.fail(err.message) : told.push(d)));
    const started = performance.now();
    submit('a');
    await new Promise((r) => setTimeout(r, 5));
    submit('b');
    await new Promise((r) => setImmediate(r));
    t.same(s.groups, [], 'the first item waits for company');
    await new Promise((r) => setTimeout(r, 60));
    t.same(s.groups, [['a', 'b']], 'one group for both');
    t.ok(performance.now() - started >= 29, 'sent once the window closed');
    submit('c');
    await new Promise((r) => setImmediate(r));
    t.same(s.groups, [['a', 'b']], 'while the writer is busy, the next item waits for it');
    s.answer();
    t.same(s.groups, [['a', 'b'], ['c']], 'and goes as soon as it answers, without a new window');
    s.answer();
    t.same(told, ['a', 'b', 'c']);
    await queue.close();
  },
);

/** A writer that answers at once, noting when each group reached it. */
function timedStore(): GroupCommitter & { committedAt: number } {
  const store = {
    committedAt: 0,
    commit(items: readonly IngestItem[], done: (err: Error | null, committed?: CommittedItem[]) => void) {
      store.committedAt = performance.now();
      done(
        null,
        items.map((i): CommittedItem => ({ item: i, result: { outcome: 'status' } })),
      );
    },
  };
  return store;
}

/** 200 items, each submitted once the one before was committed (a client that sends when answered): ms an item. */
async function msPerItemSentWhenAnswered(queue: CommitQueue, itemOf: (i: number) => IngestItem): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < 200; i++) await queue.submitAsync(itemOf(i));
  return (performance.now() - started) / 200;
}

t.test('items far apart do not wait for company that will not come: each goes at the next turn', async (t) => {
  const s = timedStore();
  const queue = new CommitQueue(s, {}, { gatherMs: 10 });
  const waited: number[] = [];
  // A quiet ward: one item every 40 ms, far more than twice the window apart.
  for (let i = 0; i < 12; i++) {
    const submitted = performance.now();
    await queue.submitAsync(item(`d${i}`));
    waited.push(s.committedAt - submitted);
    await new Promise((r) => setTimeout(r, 40));
  }
  t.ok(Math.max(...waited) < 9, `none waited for the window: ${waited.map((w) => w.toFixed(1)).join(' ')} ms`);
  await queue.close();
});

t.test(
  'a device that sends as soon as it is answered never waits: its company would come only once answered',
  async (t) => {
    const s = timedStore();
    const queue = new CommitQueue(s, {}, { gatherMs: 10 });
    // A busy floor first (devices on their own clocks, 1 ms apart): the queue has learnt to wait.
    const floor: Promise<unknown>[] = [];
    for (let i = 0; i < 40; i++) {
      floor.push(queue.submitAsync(item(`bed-${i}`)));
      await new Promise((r) => setTimeout(r, 1));
    }
    await Promise.all(floor);
    // Then one device uploading its backlog, one item in flight: gaps far shorter than the window.
    const perItem = await msPerItemSentWhenAnswered(queue, () => item('uploader'));
    t.ok(perItem < 5, `${perItem.toFixed(2)} ms an item (a window each would take 10)`);
    await queue.close();
  },
);

t.test(
  'an HL7 link, each message sent once the last was acknowledged, never waits whatever device it names',
  async (t) => {
    const s = timedStore();
    const queue = new CommitQueue(s, {}, { gatherMs: 10 });
    // A central station replaying its backlog over one link: a new device in every message.
    const perItem = await msPerItemSentWhenAnswered(queue, (i) => ({ ...item(`central-${i}`), source: 'hl7' }));
    t.ok(perItem < 5, `${perItem.toFixed(2)} ms a message (a window each would take 10)`);
    await queue.close();
  },
);

t.test('devices on their own clocks a millisecond apart do wait, and share groups', async (t) => {
  const s = slowStore();
  const queue = new CommitQueue(s, {}, { gatherMs: 10 });
  const groups = await busyFloor(queue, s, 60, 1);
  const late = groups.slice(-4, -1).map((g) => g.length);
  t.ok(
    late.every((n) => n >= 3),
    `the last groups hold several items each: ${late.join(', ')}`,
  );
  await queue.close();
});

t.test('a writer that refuses thousands of items at once, one by one, does not exhaust the stack', async (t) => {
  let groups = 0;
  const queue = new CommitQueue({
    commit(_items, done) {
      groups++;
      done(new Error('storage quota reached; new readings refused'));
    },
  });
  const results = await Promise.allSettled(Array.from({ length: 20_000 }, (_, i) => queue.submitAsync(item(`d${i}`))));
  t.equal(results.filter((r) => r.status === 'rejected').length, 20_000, 'every submitter is told');
  t.equal(groups, 20_001, 'the group, then each item alone');
});

t.test('a writer that throws instead of calling back fails the group, and the queue goes on', async (t) => {
  let calls = 0;
  const queue = new CommitQueue({
    commit(items, done) {
      if (calls++ === 0) throw new Error('cannot start the writer thread');
      done(
        null,
        items.map((i): CommittedItem => ({ item: i, result: { outcome: 'status' } })),
      );
    },
  });
  t.same(await queue.submitAsync(item('a')), { outcome: 'status' }, 'the one-by-one retry went through');
  t.same(await queue.submitAsync(item('b')), { outcome: 'status' });
});

t.test(
  'a submitter whose callback throws costs the others nothing, and the error goes to onListenerError',
  async (t) => {
    const errors: string[] = [];
    const queue = new CommitQueue(store(), { onListenerError: (err) => errors.push(err.message) });
    const told: string[] = [];
    queue.submit(item('a'), () => told.push('a'));
    queue.submit(item('b'), () => {
      throw new Error('listener of b failed');
    });
    const c = queue.submitAsync(item('c')).then(() => told.push('c'));
    await c;
    t.same(told, ['a', 'c']);
    t.same(errors, ['listener of b failed']);
    await queue.submitAsync(item('d'));
    t.pass('the queue goes on');
  },
);
