// analyzeReadings (Pub/Sub CloudEvent): applies the segments a batch added to
// the ward's hourly statistics and re-analyses each patient in the batch, in
// one Firestore transaction per message. Pub/Sub delivers at least once: the
// ward's state document records which segments were applied, so a redelivered
// message changes nothing (it only publishes its alerts again, which carry a
// stable id for consumers to de-duplicate). Writes per message: the hour
// documents touched (one per hour per shard), the state document, and one per
// new alert.
import { Timestamp, type DocumentReference } from '@google-cloud/firestore';
import type { CloudEvent } from '@google-cloud/functions-framework';
import type { CloudContext } from '../context.js';
import type { BatchMessage } from '../ingest/publish.js';
import { readingsOf, type SegmentDoc, type StoredReading } from '../ingest/segments.js';
import { alerts, currentState, hourDocId, hourStart, hours, HOUR_MS, segments, shardOf } from '../store/paths.js';
import { addReading, fromStored, newHourDoc, toStored, type HourDoc } from './hourStats.js';
import {
  analyzeSubject,
  judgedSlots,
  WINDOW_MS,
  type BatchSpan,
  type CloudAlert,
  type SubjectState,
} from './patientAnalysis.js';
import { ownValue, setOwn } from '../../shared/record.js';

/** Segment ids remembered as applied; far more than can be redelivered within Pub/Sub's 7-day retention at any sane rate. */
const MAX_APPLIED = 2000;

interface AppliedEntry {
  id: string;
  alerts: string[];
}

interface WardState {
  ward: string;
  applied: AppliedEntry[];
  p: Record<string, SubjectState>;
  updated: number;
}

interface PubsubEventData {
  message?: { data?: string; attributes?: Record<string, string>; messageId?: string };
}

/** Decodes the batch message from a Pub/Sub CloudEvent; throws (no retry helps) on a malformed one. */
export function batchMessageOf(event: CloudEvent<PubsubEventData>): BatchMessage {
  const data = event.data?.message?.data;
  if (typeof data !== 'string') throw new MalformedMessage('no message data');
  let parsed: BatchMessage;
  try {
    parsed = JSON.parse(Buffer.from(data, 'base64').toString('utf8')) as BatchMessage;
  } catch {
    throw new MalformedMessage('message data is not JSON');
  }
  if (parsed?.v !== 1 || typeof parsed.ward !== 'string' || !Array.isArray(parsed.segments))
    throw new MalformedMessage('not a batch message');
  // Ids become Firestore paths: one that is not an id (a slash, an empty string, a number) would fail every delivery the same way.
  if (!ID.test(parsed.ward)) throw new MalformedMessage('the ward is not an id');
  if (
    parsed.segments.length > MAX_SEGMENTS ||
    !parsed.segments.every((id) => typeof id === 'string' && SEGMENT_ID.test(id))
  ) {
    throw new MalformedMessage(`segments must be 0 to ${MAX_SEGMENTS} segment ids`);
  }
  return parsed;
}

const ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** `{batchId}_{n}` (segments.ts). */
const SEGMENT_ID = /^b[0-9a-f]{32}_[0-9]{1,16}$/;
/** A batch of at most MAX_BATCH_ITEMS readings spread over 15-minute windows: far fewer segments than this. */
const MAX_SEGMENTS = 2000;

export class MalformedMessage extends Error {}

export function analyzeReadings(ctx: CloudContext) {
  return async (event: CloudEvent<PubsubEventData>): Promise<void> => {
    let message: BatchMessage;
    try {
      message = batchMessageOf(event);
    } catch (err) {
      // Acknowledge: redelivering a malformed message would fail the same way forever.
      ctx.log.error({ eventId: event.id, err: (err as Error).message }, 'analysis skipped a malformed message');
      return;
    }
    const started = Date.now();
    const result = await applyMessage(ctx, message);
    if (result.alerts.length > 0) await publishAlerts(ctx, message.ward, result.alerts);
    ctx.log.info(
      {
        ward: message.ward,
        batchId: message.batchId,
        readings: result.readings,
        alerts: result.alerts.length,
        redelivered: result.redelivered,
        ms: Date.now() - started,
      },
      'batch analysed',
    );
  };
}

export async function applyMessage(
  ctx: CloudContext,
  message: BatchMessage,
): Promise<{ readings: number; alerts: CloudAlert[]; redelivered: boolean }> {
  const { db, settings } = ctx;
  const stateRef = currentState(db, message.ward);
  return db.runTransaction(async (tx) => {
    const stateSnap = await tx.get(stateRef);
    const state: WardState = (stateSnap.data() as WardState | undefined) ?? {
      ward: message.ward,
      applied: [],
      p: {},
      updated: 0,
    };
    const applied = new Map(state.applied.map((a) => [a.id, a.alerts]));
    const todo = message.segments.filter((id) => !applied.has(id));
    if (todo.length === 0) {
      const ids = message.segments.flatMap((id) => applied.get(id) ?? []);
      const again = ids.length
        ? (await tx.getAll(...ids.map((id) => alerts(db, message.ward).doc(id)))).flatMap((s) =>
            s.exists ? [s.data() as CloudAlert] : [],
          )
        : [];
      return { readings: 0, alerts: again, redelivered: true };
    }

    const segSnaps = await tx.getAll(...todo.map((id) => segments(db, message.ward).doc(id)));
    const readings: StoredReading[] = segSnaps.flatMap((s) => (s.exists ? readingsOf(s.data() as SegmentDoc) : []));
    const asOf = new Map<string, number>();
    const spans = new Map<string, BatchSpan>();
    const info = new Map<string, { bed: string; patient: string | null }>();
    for (const r of readings) {
      asOf.set(r.subject, Math.max(asOf.get(r.subject) ?? 0, r.ts));
      const span = spans.get(r.subject);
      spans.set(r.subject, { from: Math.min(span?.from ?? r.ts, r.ts), to: Math.max(span?.to ?? r.ts, r.ts) });
      info.set(r.subject, { bed: r.bed, patient: r.patient });
    }
    // A late, older batch does not rewind a patient to the past: the analysis
    // stays at the newest data seen, and reads the window that ends there.
    for (const [subject, t] of asOf) asOf.set(subject, Math.max(t, ownValue(state.p, subject)?.asOf ?? 0));

    // Every hour document a patient's analysis needs: the 6 hours before the newest reading, and the
    // slots judged for anomalies (every hour the batch covers) with the 6 hours before each.
    const refs = new Map<string, DocumentReference>();
    const want = (ms: number, subject: string) => {
      const id = hourDocId(ms, shardOf(subject, settings.analysisShards));
      if (!refs.has(id)) refs.set(id, hours(db, message.ward).doc(id));
    };
    for (const r of readings) want(r.ts, r.subject);
    for (const [subject, t] of asOf) {
      for (let h = hourStart(t - WINDOW_MS); h <= t; h += HOUR_MS) want(h, subject);
      const judged = judgedSlots(t, spans.get(subject)!, ownValue(state.p, subject)?.asOf);
      for (let h = hourStart(judged.from - WINDOW_MS); h <= judged.to; h += HOUR_MS) want(h, subject);
    }
    const ids = [...refs.keys()];
    const snaps = ids.length ? await tx.getAll(...ids.map((id) => refs.get(id)!)) : [];
    const docs = new Map<string, HourDoc>();
    snaps.forEach((snap, i) => {
      const [key, shard] = ids[i].split('_');
      docs.set(
        ids[i],
        snap.exists
          ? fromStored(snap.data() as HourDoc)
          : newHourDoc(
              message.ward,
              Date.UTC(+key.slice(0, 4), +key.slice(4, 6) - 1, +key.slice(6, 8), +key.slice(8, 10)),
              Number(shard),
            ),
      );
    });

    const touched = new Set<string>();
    for (const r of readings) {
      const id = hourDocId(r.ts, shardOf(r.subject, settings.analysisShards));
      addReading(docs.get(id)!, r);
      touched.add(id);
    }

    const newAlerts: CloudAlert[] = [];
    const now = ctx.now();
    const expireAt = Timestamp.fromMillis(now + settings.retentionDays * 86_400_000);
    for (const [subject, t] of asOf) {
      const shard = shardOf(subject, settings.analysisShards);
      const subjectDocs = [...docs.values()].filter((d) => d.shard === shard);
      const { state: next, alerts: raised } = analyzeSubject(
        message.ward,
        subject,
        subjectDocs,
        t,
        ownValue(state.p, subject),
        info.get(subject)!,
        spans.get(subject),
      );
      setOwn(state.p, subject, next);
      newAlerts.push(...raised);
    }

    for (const id of touched) tx.set(refs.get(id)!, { ...toStored(docs.get(id)!), expireAt });
    for (const alert of newAlerts)
      tx.set(alerts(db, message.ward).doc(alert.id), { ...alert, ward: message.ward, created: now, expireAt });
    const entries = [
      ...state.applied,
      ...todo.map((id, i) => ({ id, alerts: i === 0 ? newAlerts.map((a) => a.id) : [] })),
    ].slice(-MAX_APPLIED);
    tx.set(stateRef, { ward: message.ward, applied: entries, p: state.p, updated: now });
    return { readings: readings.length, alerts: newAlerts, redelivered: false };
  });
}

async function publishAlerts(ctx: CloudContext, ward: string, list: readonly CloudAlert[]): Promise<void> {
  const topic = ctx.pubsub.topic(ctx.settings.alertsTopic);
  await Promise.all(
    list.map((a) =>
      topic.publishMessage({
        data: Buffer.from(JSON.stringify({ ...a, ward }), 'utf8'),
        attributes: { ward, alertId: a.id, kind: a.kind, level: a.level },
      }),
    ),
  );
}
