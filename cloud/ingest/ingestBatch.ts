// ingestBatch (HTTP): the edge's signed, gzipped batch in; stored once;
// announced on Pub/Sub. Every refusal is a 4xx with a JSON reason that the edge
// quarantines; every failure of ours is a 5xx that the edge retries.
// Checks run cheapest first, and nothing is decompressed before the signature
// has been verified.
import type { Request, Response } from '@google-cloud/functions-framework';
import { isRejection } from '../../shared/timestamp.js';
import { decodeBatchBody } from '../../shared/sync/codec.js';
import { validateBatch } from '../../shared/sync/validate.js';
import { MAX_BATCH_BYTES, SyncHeader, type IngestAccepted } from '../../shared/sync/wire.js';
import type { CloudContext } from '../context.js';
import { header, sendError, sendJson, sendRejection, sendSignatureRefusal, verifyGatewaySignature } from '../http.js';
import { countConflicts } from './conflicts.js';
import { clearPending, markPending, publishBatch } from './publish.js';
import { storeBatch, storedSegmentIds } from './storeBatch.js';

/** Items may carry times up to this far ahead of the cloud clock (edge clocks drift). */
const MAX_FUTURE_MS = 5 * 60_000;

export function ingestBatch(ctx: CloudContext) {
  return async (req: Request, res: Response): Promise<void> => {
    if (req.method !== 'POST') return sendError(res, 'WG_ERR_METHOD', 'use POST');
    // The gateway's connection closed before the answer was written: it abandoned the attempt (a timeout) and sends
    // again. Also a close that came before this handler ran (a stalled instance reads the request and the close together).
    let closed = false;
    res.once('close', () => (closed = !res.writableFinished));
    const abandoned = () => closed || req.socket.destroyed;
    const body = Buffer.isBuffer(req.rawBody) ? req.rawBody : Buffer.alloc(0);
    // The server's guard (requestGuard.ts) refuses these before the body is read; kept for any other server.
    if (body.length > MAX_BATCH_BYTES)
      return sendError(res, 'WG_ERR_TOO_LARGE', `body is ${body.length} bytes; the limit is ${MAX_BATCH_BYTES}`);
    if (header(req.headers['content-encoding'])) {
      return sendError(
        res,
        'WG_ERR_ENCODING',
        'send the gzip bytes as Content-Type application/gzip without Content-Encoding',
        'Content-Encoding',
      );
    }

    const signature = header(req.headers[SyncHeader.signature]);
    const check = verifyGatewaySignature(ctx, req, body);
    if (!check.ok) {
      ctx.log.warn({ gateway: check.id, reason: check.reason }, 'batch refused: signature');
      return sendSignatureRefusal(res, check);
    }
    const { gateway, id: gatewayId } = check;
    const decoded = decodeBatchBody(body);
    if (!decoded.ok) return sendRejection(res, decoded.error);
    const batch = validateBatch(decoded.json, { now: ctx.now(), maxFutureMs: MAX_FUTURE_MS });
    if (isRejection(batch)) return sendRejection(res, batch);
    if (batch.gateway !== gatewayId)
      return sendError(res, 'WG_ERR_SCHEMA', 'does not match X-Wardgate-Gateway', 'gateway');
    if (header(req.headers[SyncHeader.batch]) !== batch.batchId) {
      return sendError(res, 'WG_ERR_SCHEMA', `does not match the body's batch id ${batch.batchId}`, 'X-Wardgate-Batch');
    }
    if (batch.ward !== gateway.ward)
      return sendError(res, 'WG_ERR_FORBIDDEN', `gateway ${gatewayId} may write ward ${gateway.ward} only`, 'ward');

    let outcome;
    try {
      outcome = await storeBatch(ctx.db, {
        batch,
        signatureHex: signature!.slice(3),
        timestampMs: check.timestampMs,
        now: ctx.now(),
        retentionDays: ctx.settings.retentionDays,
        abandoned,
      });
    } catch (err) {
      ctx.log.error({ gateway: gatewayId, batchId: batch.batchId, err: (err as Error).message }, 'batch store failed');
      return sendError(res, 'WG_ERR_UNAVAILABLE', 'storage failed; retry the batch');
    }
    if (outcome.abandoned) {
      ctx.log.info(
        { gateway: gatewayId, batchId: batch.batchId },
        'batch attempt abandoned by the gateway before its turn; not stored (it is sent again)',
      );
      // Nobody reads this answer; were anyone still there, a 503 is one the edge retries.
      return sendError(res, 'WG_ERR_UNAVAILABLE', 'the attempt was abandoned before its turn; retry the batch');
    }
    if (outcome.replay) {
      ctx.log.warn({ gateway: gatewayId, batchId: batch.batchId }, 'batch refused: replayed signature');
      return sendError(
        res,
        'WG_ERR_REPLAY',
        'this signature was already used; sign every attempt anew',
        'X-Wardgate-Signature',
      );
    }

    const total =
      outcome.stored.readings + outcome.stored.alarms + outcome.stored.statuses + (outcome.stored.audit ?? 0);
    // A retry that stores nothing announces the batch's segments again: the
    // first attempt may have stored them and died before publishing.
    const fresh =
      total === 0 ? await storedSegmentIds(ctx.db, batch.ward, batch.batchId).catch(() => []) : outcome.segmentIds;
    const toPublish = [...new Set([...outcome.pending, ...fresh])];
    if (toPublish.length > 0) {
      try {
        await publishBatch(ctx.pubsub, ctx.settings.batchesTopic, {
          v: 1,
          ward: batch.ward,
          gateway: gatewayId,
          batchId: batch.batchId,
          segments: toPublish,
        });
        await clearPending(ctx.db, gatewayId, outcome.pending);
      } catch (err) {
        ctx.log.error(
          { gateway: gatewayId, batchId: batch.batchId, err: (err as Error).message },
          'batch publish failed',
        );
        await markPending(ctx.db, gatewayId, outcome.segmentIds).catch(() => undefined);
        return sendError(res, 'WG_ERR_UNAVAILABLE', 'stored, but the analysis could not be notified; retry the batch');
      }
    }
    // A failed comparison is not a failed store: the items are stored, the answer says so, the log says what was not checked.
    const conflicts =
      outcome.skipped === 0
        ? 0
        : await countConflicts(ctx.db, batch.ward, gatewayId, outcome.skippedItems, total === 0 ? fresh : []).catch(
            (err: Error) => {
              ctx.log.warn(
                { gateway: gatewayId, batchId: batch.batchId, err: err.message },
                'skipped items could not be compared with the stored ones',
              );
              return 0;
            },
          );
    if (conflicts > 0) {
      ctx.log.error(
        { gateway: gatewayId, batchId: batch.batchId, conflicts },
        'batch items differ from the items stored under the same numbers (a gateway database restored or replaced?); not stored',
      );
    }
    ctx.log.info(
      { gateway: gatewayId, batchId: batch.batchId, stored: outcome.stored, skipped: outcome.skipped },
      'batch accepted',
    );
    const answer: IngestAccepted = {
      ok: true,
      batchId: batch.batchId,
      stored: outcome.stored,
      skipped: outcome.skipped,
      duplicate: total === 0 && conflicts === 0,
      ...(conflicts > 0 && { conflicts }),
    };
    sendJson(res, 200, answer);
  };
}
