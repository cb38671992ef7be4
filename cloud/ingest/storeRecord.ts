// The cloud's record of what a gateway stored, per stream, in Firestore: one
// document per shard of RECORD_SPAN outbox numbers (gateways/{g}/stored/
// {stream}_{k}), holding the exact intervals as varints (intervals.ts). It is
// read and written inside the transaction that stores the items, so the
// record and the data change together or not at all: the record never names
// an item the same transaction did not store.
//
// Cost: one read and one write per shard a batch touches; a batch of up to
// 512 device messages touches one or two readings shards. A shard document is
// at most RECORD_SPAN + 1 bytes of runs whatever the numbers, and about 1.5 KB
// for a full shard of readings.
import { Timestamp, type DocumentReference, type Firestore, type Transaction } from '@google-cloud/firestore';
import { syncStreams, type SyncStream } from '../../shared/sync/wire.js';
import { Collection, gatewayDoc, storedShard } from '../store/paths.js';
import { RECORD_SPAN, decodeRuns, emptyIntervals, encodeRuns, shardOfNumber, type Intervals } from './intervals.js';

/** The record outlives the data it describes by this long, so a late re-send of expired data is not stored twice before the data goes. */
export const RECORD_GRACE_DAYS = 7;

export interface RecordShard {
  readonly stream: SyncStream;
  readonly shard: number;
  readonly ref: DocumentReference;
  readonly set: Intervals;
}

interface ShardFields {
  stream: string;
  shard: number;
  base: number;
  runs: Uint8Array;
  items: number;
}

/** Shards of a stream that these numbers fall in, ascending. */
export function shardsOf(numbers: readonly number[]): number[] {
  return [...new Set(numbers.map(shardOfNumber))].sort((a, b) => a - b);
}

/** Reads the shards of each stream (in the transaction, so that a concurrent store of the same shard retries this one). */
export async function readRecord(
  tx: Transaction,
  db: Firestore,
  gateway: string,
  wanted: ReadonlyArray<{ stream: SyncStream; shards: readonly number[] }>,
): Promise<Map<string, RecordShard>> {
  const keys = wanted.flatMap(({ stream, shards }) =>
    shards.map((shard) => ({ stream, shard, ref: storedShard(db, gateway, stream, shard) })),
  );
  const out = new Map<string, RecordShard>();
  if (keys.length === 0) return out;
  const snaps = await tx.getAll(...keys.map((k) => k.ref));
  keys.forEach((k, i) => {
    const data = snaps[i].data() as ShardFields | undefined;
    const set = data ? decodeRuns(data.runs, k.shard * RECORD_SPAN) : emptyIntervals;
    out.set(recordKey(k.stream, k.shard), { ...k, set });
  });
  return out;
}

export const recordKey = (stream: SyncStream, shard: number) => `${stream}_${shard}`;

/** Writes a shard's new set (in the transaction). */
export function writeShard(
  tx: Transaction,
  shard: RecordShard,
  set: Intervals,
  now: number,
  retentionDays: number,
): void {
  let items = 0;
  for (let i = 0; i < set.lo.length; i++) items += set.hi[i] - set.lo[i] + 1;
  const fields: ShardFields & { updated: number; expireAt: Timestamp } = {
    stream: shard.stream,
    shard: shard.shard,
    base: shard.shard * RECORD_SPAN,
    runs: encodeRuns(set, shard.shard * RECORD_SPAN),
    items,
    updated: now,
    expireAt: Timestamp.fromMillis(now + (retentionDays + RECORD_GRACE_DAYS) * 86_400_000),
  };
  tx.set(shard.ref, fields);
}

/**
 * Per stream, the highest number the record holds for the gateway (0: none):
 * what a gateway must number its next items above. One query per stream, for
 * the shard with the highest index (an index on stream and shard, firestore.indexes.json).
 */
export async function streamHeads(db: Firestore, gateway: string): Promise<Record<SyncStream, number>> {
  const heads = await Promise.all(
    syncStreams.map(async (stream) => {
      // A shard a verification emptied (its data was gone) holds no number: the next one down does.
      const snap = await gatewayDoc(db, gateway)
        .collection(Collection.stored)
        .where('stream', '==', stream)
        .orderBy('shard', 'desc')
        .limit(4)
        .get();
      for (const doc of snap.docs) {
        const data = doc.data() as ShardFields;
        const top = decodeRuns(data.runs, data.shard * RECORD_SPAN).hi.at(-1);
        if (top !== undefined) return top;
      }
      return 0;
    }),
  );
  return Object.fromEntries(syncStreams.map((stream, i) => [stream, heads[i]])) as Record<SyncStream, number>;
}

const queues = new Map<string, Promise<unknown>>();

/**
 * Runs the gateway's record transactions one at a time in this instance. They
 * all read and write the gateway's documents: run together, each holds a read
 * lock the others need for their writes, and Firestore aborts and retries them
 * with backoff. Under a draining edge's concurrent batches (and the attempts it
 * abandoned on a timeout, which the cloud still runs) that contention grew
 * until no transaction finished within the edge's timeout. In turn, they
 * finish in milliseconds.
 */
export function serialized<T>(gateway: string, work: () => Promise<T>): Promise<T> {
  const previous = queues.get(gateway) ?? Promise.resolve();
  const run = previous.then(work, work);
  const tail = run.catch(() => undefined);
  queues.set(gateway, tail);
  void tail.then(() => {
    if (queues.get(gateway) === tail) queues.delete(gateway);
  });
  return run;
}
