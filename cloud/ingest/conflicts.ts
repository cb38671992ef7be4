// Items a batch carries under numbers the cloud already holds are skipped as
// stored. That is right for a retry (the same items again) and wrong when the
// gateway numbered new items with numbers it had used before (its database
// restored from an older backup, or replaced): those items would be dropped
// in silence. So the skipped items are compared with what is stored under
// their numbers (a reading by the verification's key, shared/sync/verify.ts;
// an alarm event or audit entry by its key and time, since an action such as
// a login repeats), and an item that differs is a conflict: counted in
// the answer and logged. Reads happen only for batches that skipped items,
// after the store, outside its transaction, and are bounded (a retry reads
// its own segments; alarm events and audit entries are sampled), so that
// retries under load do not slow every answer down.
import type { Firestore } from '@google-cloud/firestore';
import { alarmKey, auditKey, readingKey } from '../../shared/sync/verify.js';
import type { SyncAlarmEvent, SyncAuditEntry } from '../../shared/sync/wire.js';
import { alarmEvents, auditTrail, segments } from '../store/paths.js';
import type { SegmentDoc } from './segments.js';
import { shardsOf } from './storeRecord.js';
import type { SkippedItems } from './storeBatch.js';

/** Segments read at most to compare the readings of a batch that is not a retry: the comparison is a check, and must stay cheap. */
const MAX_SEGMENTS_READ = 50;
/** Alarm events and audit entries compared at most per batch (spread over the skipped ones): a restored database's items all differ, so a sample finds them. */
const MAX_DOCS_COMPARED = 32;

/**
 * How many skipped items differ from the item stored under the same number
 * (an item whose data is gone is not counted: verification repairs that).
 * `ownSegments`: the segments already stored under this batch's id. A retry
 * of a batch (the common case: a lost answer, a timeout) finds its readings
 * there, in one or two documents; only a batch that is not a retry reads the
 * gateway's segments of the shards its readings fall in, a bounded number.
 */
export async function countConflicts(
  db: Firestore,
  ward: string,
  gateway: string,
  skipped: SkippedItems,
  ownSegments: readonly string[] = [],
): Promise<number> {
  let conflicts = 0;
  if (skipped.readings.length > 0) {
    const stored = new Map<number, string>();
    const collect = (data: SegmentDoc) => {
      for (const cols of Object.values(data.s)) {
        cols.n.forEach((n, k) =>
          stored.set(n, readingKey({ n, device: cols.dev[k], seq: cols.seq[k], code: cols.code[k] })),
        );
      }
    };
    if (ownSegments.length > 0) {
      for (const snap of await db.getAll(...ownSegments.map((id) => segments(db, ward).doc(id))))
        if (snap.exists) collect(snap.data() as SegmentDoc);
    } else {
      const shards = shardsOf(skipped.readings.map((r) => r.n)).slice(0, 10);
      const snap = await segments(db, ward)
        .where('gateway', '==', gateway)
        .where('nShards', 'array-contains-any', shards)
        .limit(MAX_SEGMENTS_READ)
        .get();
      for (const doc of snap.docs) collect(doc.data() as SegmentDoc);
    }
    for (const r of skipped.readings) {
      const key = stored.get(r.n);
      if (key !== undefined && key !== readingKey(r)) conflicts++;
    }
  }
  const byDoc = async <I extends { n: number }>(
    items: readonly I[],
    collection: ReturnType<typeof alarmEvents>,
    keyOf: (item: I) => string,
  ) => {
    if (items.length === 0) return;
    const step = Math.max(1, Math.ceil(items.length / MAX_DOCS_COMPARED));
    const sample = items.filter((_, i) => i % step === 0);
    const snaps = await db.getAll(...sample.map((item) => collection.doc(`${gateway}_${item.n}`)));
    snaps.forEach((snap, i) => {
      const data = snap.data() as I | undefined;
      // A sample: each differing item stands for `step` of them.
      if (data !== undefined && keyOf(data) !== keyOf(sample[i])) conflicts += Math.min(step, items.length - i * step);
    });
  };
  await byDoc(skipped.alarms, alarmEvents(db, ward), (a: SyncAlarmEvent) => `${alarmKey(a)}/${a.ts}`);
  await byDoc(skipped.audit, auditTrail(db, ward), (e: SyncAuditEntry) => `${auditKey(e)}/${e.ts}/${e.actor}`);
  return conflicts;
}
