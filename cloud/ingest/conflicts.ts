// Items a batch carries under numbers the cloud already holds are skipped as
// stored. That is right for a retry (the same items again) and wrong when the
// gateway numbered new items with numbers it had used before (its database
// restored from an older backup, or replaced): those items would be dropped
// in silence. So the skipped items are compared with what is stored under
// their numbers (a reading by the verification's key, shared/sync/verify.ts;
// an alarm event or audit entry by its key and time, since an action such as
// a login repeats), and an item that differs is a conflict: counted in
// the answer and logged. Reads happen only for batches that skipped items,
// after the store, outside its transaction.
import type { Firestore } from '@google-cloud/firestore';
import { alarmKey, auditKey, readingKey } from '../../shared/sync/verify.js';
import type { SyncAlarmEvent, SyncAuditEntry } from '../../shared/sync/wire.js';
import { alarmEvents, auditTrail, segments } from '../store/paths.js';
import type { SegmentDoc } from './segments.js';
import { shardsOf } from './storeRecord.js';
import type { SkippedItems } from './storeBatch.js';

/** Firestore's bound on the values of one array-contains-any. */
const ANY_OF = 30;

/** How many skipped items differ from the item stored under the same number (an item whose data is gone is not counted: verification repairs that). */
export async function countConflicts(db: Firestore, ward: string, gateway: string, skipped: SkippedItems): Promise<number> {
  let conflicts = 0;
  if (skipped.readings.length > 0) {
    const stored = new Map<number, string>();
    const shards = shardsOf(skipped.readings.map((r) => r.n));
    for (let i = 0; i < shards.length; i += ANY_OF) {
      const snap = await segments(db, ward).where('gateway', '==', gateway).where('nShards', 'array-contains-any', shards.slice(i, i + ANY_OF)).get();
      for (const doc of snap.docs) {
        for (const cols of Object.values((doc.data() as SegmentDoc).s)) {
          cols.n.forEach((n, k) => stored.set(n, readingKey({ n, device: cols.dev[k], seq: cols.seq[k], code: cols.code[k] })));
        }
      }
    }
    for (const r of skipped.readings) {
      const key = stored.get(r.n);
      if (key !== undefined && key !== readingKey(r)) conflicts++;
    }
  }
  const byDoc = async <I extends { n: number }>(items: readonly I[], collection: ReturnType<typeof alarmEvents>, keyOf: (item: I) => string) => {
    if (items.length === 0) return;
    const snaps = await db.getAll(...items.map((item) => collection.doc(`${gateway}_${item.n}`)));
    snaps.forEach((snap, i) => {
      const data = snap.data() as I | undefined;
      if (data !== undefined && keyOf(data) !== keyOf(items[i])) conflicts++;
    });
  };
  await byDoc(skipped.alarms, alarmEvents(db, ward), (a: SyncAlarmEvent) => `${alarmKey(a)}/${a.ts}`);
  await byDoc(skipped.audit, auditTrail(db, ward), (e: SyncAuditEntry) => `${auditKey(e)}/${e.ts}/${e.actor}`);
  return conflicts;
}
