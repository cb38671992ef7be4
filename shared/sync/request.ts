// The exact HTTP request for a batch and for the config pull, so that the
// edge, the simulators, the tests and the benchmark all build them one way.
// Sign every attempt anew: the cloud refuses a signature it has already seen.
import { encodeBatch } from './codec.js';
import { formatSyncTimestamp, signBody } from './signature.js';
import { SYNC_CONTENT_TYPE, type SyncBatch } from './wire.js';

export interface SignedRequest {
  readonly body: Buffer;
  readonly headers: Record<string, string>;
}

/** POST {cloud.url}/ingestBatch with these headers and body. `body` may be passed to re-sign the same bytes. */
export function signedBatchRequest(
  batch: SyncBatch,
  secret: string | Buffer,
  nowMs: number,
  body: Buffer = encodeBatch(batch),
): SignedRequest {
  const timestamp = formatSyncTimestamp(nowMs);
  return {
    body,
    headers: {
      'Content-Type': SYNC_CONTENT_TYPE,
      'X-Wardgate-Gateway': batch.gateway,
      'X-Wardgate-Batch': batch.batchId,
      'X-Wardgate-Timestamp': timestamp,
      'X-Wardgate-Signature': signBody(secret, timestamp, body),
    },
  };
}

/** GET {cloud.url}/edgeConfig with these headers (the signature covers an empty body). */
export function signedConfigHeaders(
  gateway: string,
  secret: string | Buffer,
  nowMs: number,
  etag?: string,
): Record<string, string> {
  const timestamp = formatSyncTimestamp(nowMs);
  return {
    'X-Wardgate-Gateway': gateway,
    'X-Wardgate-Timestamp': timestamp,
    'X-Wardgate-Signature': signBody(secret, timestamp, Buffer.alloc(0)),
    ...(etag !== undefined && { 'If-None-Match': etag }),
  };
}
