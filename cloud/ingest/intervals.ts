// The set of outbox numbers stored for one (gateway, stream), as sorted,
// disjoint, non-adjacent closed intervals. Exact by construction: a number is
// in the set only if it was added, and two intervals merge only when no
// integer lies between them. There is no cap and no lossy merge: the set may
// never claim an item that was not stored (an earlier version closed the
// oldest gaps past 256 intervals, and every late batch in them was answered
// "duplicate" without being stored).
//
// The set is kept bounded in another way: it is split into shards of
// RECORD_SPAN consecutive numbers (one Firestore document each, storeRecord.ts)
// and each shard is stored as varints (encodeRuns). However the numbers fall,
// a shard's encoding is at most RECORD_SPAN + 1 bytes (see encodeRuns), well
// inside Firestore's 1 MiB document limit.

export interface Intervals {
  readonly lo: readonly number[];
  readonly hi: readonly number[];
}

export const emptyIntervals: Intervals = { lo: [], hi: [] };

/** Outbox numbers per record shard: 2^19, 512 device messages of readings (n = message id x 1024 + index). */
export const RECORD_SPAN = 2 ** 19;

export const shardOfNumber = (n: number) => Math.floor(n / RECORD_SPAN);

export function contains(set: Intervals, n: number): boolean {
  let a = 0;
  let b = set.lo.length - 1;
  while (a <= b) {
    const mid = (a + b) >> 1;
    if (n < set.lo[mid]) b = mid - 1;
    else if (n > set.hi[mid]) a = mid + 1;
    else return true;
  }
  return false;
}

/** How many numbers the set holds. */
export function size(set: Intervals): number {
  let sum = 0;
  for (let i = 0; i < set.lo.length; i++) sum += set.hi[i] - set.lo[i] + 1;
  return sum;
}

/** The set of exactly these numbers (any order, repeats allowed). */
export function fromNumbers(numbers: readonly number[]): Intervals {
  const sorted = [...numbers].sort((x, y) => x - y);
  const lo: number[] = [];
  const hi: number[] = [];
  for (const n of sorted) {
    const last = hi.length - 1;
    if (last >= 0 && n <= hi[last] + 1) hi[last] = Math.max(hi[last], n);
    else {
      lo.push(n);
      hi.push(n);
    }
  }
  return { lo, hi };
}

/** The union of two sets: merges only touching or overlapping intervals. */
export function union(a: Intervals, b: Intervals): Intervals {
  const pairs: Array<[number, number]> = [];
  for (let i = 0; i < a.lo.length; i++) pairs.push([a.lo[i], a.hi[i]]);
  for (let i = 0; i < b.lo.length; i++) pairs.push([b.lo[i], b.hi[i]]);
  pairs.sort((x, y) => x[0] - y[0]);
  const lo: number[] = [];
  const hi: number[] = [];
  for (const [l, h] of pairs) {
    const last = hi.length - 1;
    if (last >= 0 && l <= hi[last] + 1) hi[last] = Math.max(hi[last], h);
    else {
      lo.push(l);
      hi.push(h);
    }
  }
  return { lo, hi };
}

/** Adds numbers (any order) and returns the merged set. */
export function addAll(set: Intervals, numbers: readonly number[]): Intervals {
  return numbers.length === 0 ? set : union(set, fromNumbers(numbers));
}

/** The part of the set inside [lo, hi]. */
export function clip(set: Intervals, lo: number, hi: number): Intervals {
  const out = { lo: [] as number[], hi: [] as number[] };
  for (let i = 0; i < set.lo.length; i++) {
    const l = Math.max(lo, set.lo[i]);
    const h = Math.min(hi, set.hi[i]);
    if (l <= h) {
      out.lo.push(l);
      out.hi.push(h);
    }
  }
  return out;
}

/** The set with [lo, hi] replaced by exactly `numbers` (those inside [lo, hi]): how a verification corrects the record from the data. */
export function replaceRange(set: Intervals, lo: number, hi: number, numbers: readonly number[]): Intervals {
  const below = clip(set, -Infinity, lo - 1);
  const above = clip(set, hi + 1, Infinity);
  return union(union(below, above), fromNumbers(numbers.filter((n) => n >= lo && n <= hi)));
}

/**
 * One shard as bytes: per interval, the gap from the end of the previous one
 * (from the shard's base for the first) and its length minus one, each an
 * unsigned LEB128 varint. Intervals are non-adjacent, so k intervals span at
 * least 2k - 1 numbers; values below 128 take one byte, and a value of v
 * bytes (v > 1) needs a gap or length of at least 128^(v-1): the encoding of a
 * shard is never longer than RECORD_SPAN + 1 bytes, and about 3 bytes per
 * device message in practice.
 */
export function encodeRuns(set: Intervals, base: number): Buffer {
  const bytes: number[] = [];
  let at = base;
  for (let i = 0; i < set.lo.length; i++) {
    if (set.lo[i] < at || set.hi[i] >= base + RECORD_SPAN)
      throw new RangeError(`interval [${set.lo[i]}, ${set.hi[i]}] outside the shard at ${base}`);
    varint(bytes, set.lo[i] - at);
    varint(bytes, set.hi[i] - set.lo[i]);
    at = set.hi[i] + 1;
  }
  return Buffer.from(bytes);
}

export function decodeRuns(bytes: Uint8Array, base: number): Intervals {
  const lo: number[] = [];
  const hi: number[] = [];
  let at = base;
  let i = 0;
  const next = () => {
    let value = 0;
    let scale = 1;
    for (;;) {
      if (i >= bytes.length) throw new RangeError('truncated interval record');
      const b = bytes[i++];
      value += (b & 0x7f) * scale;
      if (b < 0x80) return value;
      scale *= 128;
    }
  };
  while (i < bytes.length) {
    const l = at + next();
    const h = l + next();
    lo.push(l);
    hi.push(h);
    at = h + 1;
  }
  return { lo, hi };
}

function varint(out: number[], value: number): void {
  let v = value;
  while (v >= 0x80) {
    out.push((v % 128) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
}
