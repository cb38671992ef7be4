// Stores a verified batch exactly once, in one Firestore transaction: the
// record of stored outbox numbers (storeRecord.ts, exact, one document per
// shard of numbers) says which items are already stored, so a retried batch,
// or an overlapping one rebuilt after an edge crash, adds nothing twice; and
// the gateway's state document says which signatures were seen in the window
// (so a captured request cannot be replayed). The record is written in the
// same transaction as the items, so it names exactly what was stored. Per
// batch: one gateway write, one record write per shard touched (usually one
// per stream), one segment per 5,000 readings per 15 minutes, one per alarm
// event, one per device reporting, one per audit entry.
import { Timestamp, type Firestore } from '@google-cloud/firestore';
import type {
  SyncAlarmEvent,
  SyncAuditEntry,
  SyncBatch,
  SyncDeviceStatus,
  SyncReading,
  SyncStream,
} from '../../shared/sync/wire.js';
import { SIGNATURE_WINDOW_SECONDS } from '../../shared/sync/wire.js';
import { alarmEvents, auditTrail, devices, gatewayDoc, segments } from '../store/paths.js';
import { RECORD_SPAN, addAll, contains } from './intervals.js';
import { buildSegments, segmentId } from './segments.js';
import { readRecord, recordKey, serialized, shardsOf, writeShard, type RecordShard } from './storeRecord.js';

interface SeenSignature {
  s: string;
  t: number;
}

interface GatewayState {
  recent: SeenSignature[];
  pending: string[];
}

export interface SkippedItems {
  readonly readings: readonly SyncReading[];
  readonly alarms: readonly SyncAlarmEvent[];
  readonly audit: readonly SyncAuditEntry[];
}

export type StoreOutcome =
  | { readonly replay: true; readonly abandoned?: false }
  /** The gateway gave up on this attempt (its connection closed) before the attempt's turn came: nothing was done. */
  | { readonly replay: false; readonly abandoned: true }
  | {
      readonly replay: false;
      readonly abandoned?: false;
      /** `audit` only when the batch carried the stream, so that older answers keep their shape. */
      readonly stored: { readings: number; alarms: number; statuses: number; audit?: number };
      readonly skipped: number;
      /** The items skipped as already stored (their numbers were in the record), to compare with what is stored (conflicts.ts). */
      readonly skippedItems: SkippedItems;
      readonly segmentIds: string[];
      /** Segments of earlier batches whose publish failed, to publish again now. */
      readonly pending: string[];
    };

export interface StoreRequest {
  readonly batch: SyncBatch;
  /** The hex MAC of the request, the replay key. */
  readonly signatureHex: string;
  readonly timestampMs: number;
  readonly now: number;
  readonly retentionDays: number;
  /**
   * True once the gateway has given up on this attempt (a timeout closed its connection). Checked when the attempt's
   * turn in the gateway's queue comes: after a stall, the attempts the gateway abandoned meanwhile would otherwise
   * each run a transaction ahead of the ones it waits for (it sends the same items again anyway).
   */
  readonly abandoned?: () => boolean;
}

const MAX_RECENT = 2000;

export async function storeBatch(db: Firestore, req: StoreRequest): Promise<StoreOutcome> {
  const { batch, now } = req;
  const gwRef = gatewayDoc(db, batch.gateway);
  // 128 bits of the MAC identify a request; the full value would only cost space.
  const sigKey = req.signatureHex.slice(0, 32);
  const numbers: Record<SyncStream, number[]> = {
    readings: batch.readings.map((r) => r.n),
    alarms: batch.alarms.map((a) => a.n),
    statuses: batch.statuses.map((s) => s.n),
    audit: (batch.audit ?? []).map((e) => e.n),
  };
  const wanted = (Object.keys(numbers) as SyncStream[]).map((stream) => ({
    stream,
    shards: shardsOf(numbers[stream]),
  }));
  return serialized(batch.gateway, (): Promise<StoreOutcome> => {
    if (req.abandoned?.()) return Promise.resolve({ replay: false, abandoned: true });
    return db.runTransaction(async (tx) => {
      const [gwSnap, record] = await Promise.all([tx.get(gwRef), readRecord(tx, db, batch.gateway, wanted)]);
      const state = parseState(gwSnap.data());
      if (state.recent.some((r) => r.s === sigKey)) return { replay: true } as const;

      const fresh = (stream: SyncStream) => {
        const seen = new Set<number>();
        return (item: { n: number }) => {
          // A number twice in one batch is stored once, too.
          if (seen.has(item.n)) return false;
          seen.add(item.n);
          return !contains(shardFor(record, stream, item.n).set, item.n);
        };
      };
      const readings = batch.readings.filter(fresh('readings'));
      const alarms = batch.alarms.filter(fresh('alarms'));
      const statuses = batch.statuses.filter(fresh('statuses'));
      const audit = (batch.audit ?? []).filter(fresh('audit'));
      const left = <I>(all: readonly I[], kept: readonly I[]) => {
        const keep = new Set(kept);
        return all.filter((item) => !keep.has(item));
      };
      const skippedItems: SkippedItems = {
        readings: left(batch.readings, readings),
        alarms: left(batch.alarms, alarms),
        audit: left(batch.audit ?? [], audit),
      };
      const skipped =
        batch.readings.length +
        batch.alarms.length +
        batch.statuses.length +
        (batch.audit?.length ?? 0) -
        readings.length -
        alarms.length -
        statuses.length -
        audit.length;

      const expireAt = Timestamp.fromMillis(now + req.retentionDays * 86_400_000);
      const segmentDocs = buildSegments(batch.ward, batch.gateway, batch.batchId, readings);
      for (const doc of segmentDocs) {
        tx.set(segments(db, batch.ward).doc(segmentId(batch.batchId, doc.nLo)), { ...doc, ingested: now, expireAt });
      }
      for (const a of alarms) {
        tx.set(alarmEvents(db, batch.ward).doc(`${batch.gateway}_${a.n}`), {
          ...a,
          gateway: batch.gateway,
          ingested: now,
          expireAt,
        });
      }
      // Kept as long as the ward's audit policy, not the readings' retention: no expireAt.
      for (const e of audit)
        tx.set(auditTrail(db, batch.ward).doc(`${batch.gateway}_${e.n}`), {
          ...e,
          gateway: batch.gateway,
          ingested: now,
        });
      for (const status of latestPerDevice(statuses)) {
        tx.set(
          devices(db, batch.ward).doc(status.device),
          { ...status, gateway: batch.gateway, ingested: now },
          { merge: true },
        );
      }
      // The record gains exactly the numbers stored above, shard by shard.
      const added = { readings, alarms, statuses, audit } as Record<SyncStream, ReadonlyArray<{ n: number }>>;
      for (const shard of record.values()) {
        const mine = added[shard.stream]
          .filter((item) => shardFor(record, shard.stream, item.n) === shard)
          .map((item) => item.n);
        if (mine.length > 0) writeShard(tx, shard, addAll(shard.set, mine), now, req.retentionDays);
      }

      // A signature outside the window is refused as stale anyway: only those inside it need remembering.
      const minT = now - 2 * SIGNATURE_WINDOW_SECONDS * 1000;
      const recent = [...state.recent.filter((r) => r.t >= minT), { s: sigKey, t: req.timestampMs }].slice(-MAX_RECENT);
      tx.set(gwRef, { ward: batch.ward, recent, pending: state.pending, lastBatchId: batch.batchId, updated: now });
      return {
        replay: false,
        stored: {
          readings: readings.length,
          alarms: alarms.length,
          statuses: statuses.length,
          ...(batch.audit && { audit: audit.length }),
        },
        skipped,
        skippedItems,
        segmentIds: segmentDocs.map((d) => segmentId(batch.batchId, d.nLo)),
        pending: state.pending,
      } as const;
    });
  });
}

function shardFor(record: Map<string, RecordShard>, stream: SyncStream, n: number): RecordShard {
  const shard = record.get(recordKey(stream, Math.floor(n / RECORD_SPAN)));
  if (!shard) throw new Error(`record shard of ${stream}/${n} was not read`);
  return shard;
}

/** Segment ids already stored for a batch id (to publish again when a retry finds everything stored). */
export async function storedSegmentIds(db: Firestore, ward: string, batchId: string): Promise<string[]> {
  const snap = await segments(db, ward).where('batchId', '==', batchId).select().get();
  return snap.docs.map((d) => d.id).sort();
}

function latestPerDevice(statuses: readonly SyncDeviceStatus[]): SyncDeviceStatus[] {
  const latest = new Map<string, SyncDeviceStatus>();
  for (const s of statuses) {
    const prev = latest.get(s.device);
    if (!prev || s.ts >= prev.ts) latest.set(s.device, { ...prev, ...s });
  }
  return [...latest.values()];
}

function parseState(data: Record<string, unknown> | undefined): GatewayState {
  // A `streams` field left by an earlier version (a capped, lossy record) is ignored and dropped at the next write.
  return {
    recent: (data?.recent as SeenSignature[] | undefined) ?? [],
    pending: (data?.pending as string[] | undefined) ?? [],
  };
}
