// verifyRange (HTTP POST): the edge asks what the cloud holds for ranges of
// its outbox (shared/sync/verify.ts). Authenticated like ingestBatch. Per
// range, in one transaction: the items held, read from the data itself
// (segments, alarm events, audit entries), their count and digest; and the
// record of stored numbers (storeRecord.ts) checked against them. Where the
// record claims a number the data lacks (a segment deleted by hand, a bug),
// the record is corrected to the data, so that the edge's re-send of the
// range is stored: a hole found is a hole that can be filled.
import type { Firestore } from '@google-cloud/firestore';
import type { Request, Response } from '@google-cloud/functions-framework';
import {
  MAX_VERIFY_BYTES,
  alarmKey,
  auditKey,
  parseVerifyRequest,
  rangeDigest,
  readingKey,
  type StreamHeads,
  type VerifiedRange,
  type VerifyAnswer,
  type VerifyRange,
} from '../../shared/sync/verify.js';
import type { CloudContext } from '../context.js';
import { sendError, sendJson, sendSignatureRefusal, verifyGatewaySignature } from '../http.js';
import { alarmEvents, auditTrail, segments } from '../store/paths.js';
import { RECORD_SPAN, clip, contains, fromNumbers, replaceRange, size } from './intervals.js';
import type { SegmentDoc } from './segments.js';
import { readRecord, recordKey, serialized, streamHeads, writeShard } from './storeRecord.js';

export function verifyRange(ctx: CloudContext) {
  return async (req: Request, res: Response): Promise<void> => {
    if (req.method !== 'POST') return sendError(res, 'WG_ERR_METHOD', 'use POST');
    // As for a batch (ingestBatch.ts): once the gateway has given up (its request timed out), no range is verified for it.
    let closed = false;
    res.once('close', () => (closed = !res.writableFinished));
    const abandoned = () => closed || req.socket.destroyed;
    const body = Buffer.isBuffer(req.rawBody) ? req.rawBody : Buffer.alloc(0);
    if (body.length > MAX_VERIFY_BYTES)
      return sendError(res, 'WG_ERR_TOO_LARGE', `body is ${body.length} bytes; the limit is ${MAX_VERIFY_BYTES}`);
    const check = verifyGatewaySignature(ctx, req, body);
    if (!check.ok) {
      ctx.log.warn({ gateway: check.id, reason: check.reason }, 'verification refused: signature');
      return sendSignatureRefusal(res, check);
    }
    let json: unknown;
    try {
      json = JSON.parse(body.toString('utf8'));
    } catch {
      return sendError(res, 'WG_ERR_JSON', 'the body is not JSON');
    }
    const request = parseVerifyRequest(json);
    if ('error' in request) return sendError(res, 'WG_ERR_SCHEMA', request.error, request.field);
    if (request.gateway !== check.id)
      return sendError(res, 'WG_ERR_SCHEMA', 'does not match X-Wardgate-Gateway', 'gateway');
    const ranges: VerifiedRange[] = [];
    let heads: StreamHeads | undefined;
    try {
      if (request.heads) heads = await streamHeads(ctx.db, check.id);
      for (const range of request.ranges) {
        const verified = await verifyOne(
          ctx.db,
          check.gateway.ward,
          check.id,
          range,
          ctx.now(),
          ctx.settings.retentionDays,
          abandoned,
        );
        if (!verified) {
          ctx.log.info(
            { gateway: check.id, verified: ranges.length, of: request.ranges.length },
            'verification abandoned by the gateway; the ranges left are not verified (it asks again)',
          );
          return sendError(res, 'WG_ERR_UNAVAILABLE', 'the request was abandoned; ask again');
        }
        ranges.push(verified);
      }
    } catch (err) {
      ctx.log.error({ gateway: check.id, err: (err as Error).message }, 'verification failed');
      return sendError(res, 'WG_ERR_UNAVAILABLE', 'storage failed; retry the verification');
    }
    const corrected = ranges.reduce((sum, r) => sum + r.corrected, 0);
    if (corrected > 0)
      ctx.log.error({ gateway: check.id, corrected }, 'record claimed items the data lacks; corrected');
    const answer: VerifyAnswer = { ok: true, gateway: check.id, ranges, ...(heads && { heads }) };
    sendJson(res, 200, answer);
  };
}

/**
 * One range: what the data holds, and the record corrected to it; undefined,
 * with nothing read or written, when `abandoned` says at the range's turn in
 * the gateway's queue that the gateway has given up on the request.
 */
export async function verifyOne(
  db: Firestore,
  ward: string,
  gateway: string,
  range: VerifyRange,
  now: number,
  retentionDays: number,
  abandoned: () => boolean = () => false,
): Promise<VerifiedRange | undefined> {
  const { stream, lo, hi } = range;
  const shardNo = Math.floor(lo / RECORD_SPAN);
  return serialized(gateway, () => {
    if (abandoned()) return Promise.resolve(undefined);
    return db.runTransaction(async (tx) => {
      const record = await readRecord(tx, db, gateway, [{ stream, shards: [shardNo] }]);
      const keys: string[] = [];
      const numbers: number[] = [];
      if (stream === 'readings') {
        const snap = await tx.get(
          segments(db, ward).where('gateway', '==', gateway).where('nShards', 'array-contains', shardNo),
        );
        for (const doc of snap.docs) {
          for (const cols of Object.values((doc.data() as SegmentDoc).s)) {
            cols.n.forEach((n, i) => {
              if (n < lo || n > hi) return;
              numbers.push(n);
              keys.push(readingKey({ n, device: cols.dev[i], seq: cols.seq[i], code: cols.code[i] }));
            });
          }
        }
      } else {
        const collection = stream === 'alarms' ? alarmEvents(db, ward) : auditTrail(db, ward);
        const snap = await tx.get(collection.where('gateway', '==', gateway).where('n', '>=', lo).where('n', '<=', hi));
        for (const doc of snap.docs) {
          const data = doc.data() as { n: number; alarmId: string; phase: 'raised'; action: string };
          numbers.push(data.n);
          keys.push(stream === 'alarms' ? alarmKey(data) : auditKey(data));
        }
      }
      const shard = record.get(recordKey(stream, shardNo))!;
      const held = fromNumbers(numbers);
      const claimed = clip(shard.set, lo, hi);
      let corrected = 0;
      for (let i = 0; i < claimed.lo.length; i++)
        for (let n = claimed.lo[i]; n <= claimed.hi[i]; n++) if (!contains(held, n)) corrected++;
      // Data the record does not name (stored before the record existed) is added: it is stored, so a re-send must not store it again.
      if (corrected > 0 || size(claimed) !== size(held))
        writeShard(tx, shard, replaceRange(shard.set, lo, hi, numbers), now, retentionDays);
      return {
        stream,
        lo,
        hi,
        count: keys.length,
        digest: rangeDigest(keys),
        corrected,
        held: held.lo.map((l, i) => [l, held.hi[i]] as const),
      };
    });
  });
}
