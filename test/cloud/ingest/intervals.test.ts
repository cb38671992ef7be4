// The record of stored outbox numbers, as storeBatch uses it, over random
// deliveries: batches of device messages (numbered message x 1024 + index, as
// the edge numbers readings) arrive in any order, repeated, overlapping and
// late; each arrival stores what the record does not hold and adds exactly
// that. After every arrival the record holds exactly what was stored, and at
// the end every number was stored once.
import t from 'tap';
import fc from 'fast-check';
import {
  addAll,
  contains,
  decodeRuns,
  emptyIntervals,
  encodeRuns,
  RECORD_SPAN,
  replaceRange,
  shardOfNumber,
  size,
  type Intervals,
} from '../../../cloud/ingest/intervals.js';

/** The record as Firestore holds it: encoded shards, decoded on every read (as a transaction does). */
class ShardedRecord {
  readonly shards = new Map<number, Buffer>();
  read(shard: number): Intervals {
    const bytes = this.shards.get(shard);
    return bytes ? decodeRuns(bytes, shard * RECORD_SPAN) : emptyIntervals;
  }
  /** What storeBatch does: keep the numbers no shard holds, then add them to their shards. */
  store(numbers: readonly number[]): number[] {
    const seen = new Set<number>();
    const fresh = numbers.filter((n) => !seen.has(n) && (seen.add(n), !contains(this.read(shardOfNumber(n)), n)));
    for (const shard of new Set(fresh.map(shardOfNumber))) {
      const mine = fresh.filter((n) => shardOfNumber(n) === shard);
      this.shards.set(shard, encodeRuns(addAll(this.read(shard), mine), shard * RECORD_SPAN));
    }
    return fresh;
  }
  held(): number {
    let sum = 0;
    for (const shard of this.shards.keys()) sum += size(this.read(shard));
    return sum;
  }
}

const messageNumbers = (from: number, to: number, perMessage: (m: number) => number) => {
  const out: number[] = [];
  for (let m = from; m <= to; m++) for (let i = 0; i < perMessage(m); i++) out.push(m * 1024 + i);
  return out;
};

t.test('the reported loss: 5 messages, then 300 later ones, then the 295 between', async (t) => {
  const record = new ShardedRecord();
  const per = () => 4;
  t.equal(record.store(messageNumbers(1, 5, per)).length, 20);
  t.equal(record.store(messageNumbers(301, 600, per)).length, 1200);
  t.equal(
    record.store(messageNumbers(6, 300, per)).length,
    1180,
    'the late batch is stored, not answered as a duplicate',
  );
  t.equal(record.store(messageNumbers(1, 600, per)).length, 0, 'and everything is then held once');
  t.equal(record.held(), 2400);
});

t.test('property: any delivery order of any batches stores every number exactly once', async (t) => {
  const scenario = fc.record({
    // Messages of 1 to 12 readings, some messages missing (ids the edge never sends: dropped rows, rolled-back ids).
    messages: fc.array(fc.record({ readings: fc.integer({ min: 1, max: 12 }), sent: fc.boolean() }), {
      minLength: 1,
      maxLength: 1500,
    }),
    // Cut points into batches, and deliveries: indices of batches, any order, with repeats.
    cuts: fc.array(fc.integer({ min: 0, max: 1500 }), { maxLength: 40 }),
    order: fc.array(fc.nat(), { maxLength: 120 }),
    overlaps: fc.array(fc.tuple(fc.nat(), fc.nat()), { maxLength: 10 }),
    // Messages far apart, so that batches cross record shards (512 messages each).
    stride: fc.constantFrom(1, 3, 700),
  });
  fc.assert(
    fc.property(scenario, ({ messages, cuts, order, overlaps, stride }) => {
      const ids = messages.map((_, i) => 1 + i * stride);
      const numbersOf = (from: number, to: number) =>
        messages
          .slice(from, to)
          .flatMap((m, i) => (m.sent ? messageNumbers(ids[from + i], ids[from + i], () => m.readings) : []));
      const bounds = [...new Set([0, ...cuts.map((c) => c % (messages.length + 1)), messages.length])].sort(
        (a, b) => a - b,
      );
      const batches = bounds.slice(1).map((to, i) => numbersOf(bounds[i], to));
      // Overlapping batches, as an edge rebuilding after a crash could send: any span of messages.
      for (const [a, b] of overlaps)
        batches.push(numbersOf(Math.min(a, b) % messages.length, (Math.max(a, b) % messages.length) + 1));
      // Every batch arrives at least once (the edge retries until confirmed), some several times, in any order.
      const deliveries = [...order.map((i) => i % batches.length), ...batches.map((_, i) => i)];
      const record = new ShardedRecord();
      const stored = new Map<number, number>();
      for (const b of deliveries) {
        for (const n of record.store(batches[b])) stored.set(n, (stored.get(n) ?? 0) + 1);
        // The record never claims more than was stored.
        if (record.held() !== stored.size) return false;
      }
      const all = new Set(batches.flat());
      return (
        [...stored.values()].every((c) => c === 1) && stored.size === all.size && [...all].every((n) => stored.has(n))
      );
    }),
    { numRuns: 200 },
  );
  t.pass('200 random deliveries');
});

t.test('replaceRange: a verification corrects the record inside its range only', async (t) => {
  const set = addAll(emptyIntervals, [1, 2, 3, 10, 11, 12, 20]);
  t.same(replaceRange(set, 2, 11, [3, 10]), addAll(emptyIntervals, [1, 3, 10, 12, 20]));
  fc.assert(
    fc.property(
      fc.uniqueArray(fc.nat(200)),
      fc.uniqueArray(fc.nat(200)),
      fc.nat(200),
      fc.nat(200),
      (have, data, a, b) => {
        const [lo, hi] = [Math.min(a, b), Math.max(a, b)];
        const out = replaceRange(addAll(emptyIntervals, have), lo, hi, data);
        for (let n = 0; n <= 200; n++) {
          const want = n >= lo && n <= hi ? data.includes(n) : have.includes(n);
          if (contains(out, n) !== want) return false;
        }
        return true;
      },
    ),
  );
});
