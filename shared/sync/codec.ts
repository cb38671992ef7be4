// Encoding of a batch on the wire: UTF-8 JSON in one gzip member. Decoding is
// bounded twice: by the compressed size and by the inflated size, so that a
// small body cannot expand into gigabytes (a "gzip bomb").
import { gunzipSync, gzipSync } from 'node:zlib';
import { reject, type Rejection } from '../errors.js';
import { batchIdOf } from './batchId.js';
import { MAX_BATCH_BYTES, MAX_BATCH_JSON_BYTES, SYNC_VERSION, type SyncBatch } from './wire.js';

export type BatchContent = Omit<SyncBatch, 'v' | 'batchId'>;

/** Builds the batch (computing its id) from its content. */
export function buildBatch(content: BatchContent): SyncBatch {
  return { v: SYNC_VERSION, ...content, batchId: batchIdOf(content.gateway, content) };
}

/** The request body: gzip of the JSON. */
export function encodeBatch(batch: SyncBatch): Buffer {
  return encodeBatchSized(batch).body;
}

/** The request body and the size of the JSON it inflates to (the cloud refuses more than MAX_BATCH_JSON_BYTES). */
export function encodeBatchSized(batch: SyncBatch): { body: Buffer; jsonBytes: number } {
  const json = Buffer.from(JSON.stringify(batch), 'utf8');
  return { body: gzipSync(json), jsonBytes: json.length };
}

export interface DecodeLimits {
  readonly maxBytes: number;
  readonly maxJsonBytes: number;
}

/** Inflates and parses a body; the JSON is not yet validated (validate.ts does that). */
export function decodeBatchBody(
  body: Buffer,
  limits: DecodeLimits = { maxBytes: MAX_BATCH_BYTES, maxJsonBytes: MAX_BATCH_JSON_BYTES },
): { ok: true; json: unknown } | { ok: false; error: Rejection } {
  if (body.length > limits.maxBytes) {
    return {
      ok: false,
      error: reject('WG_ERR_TOO_LARGE', `body is ${body.length} bytes; the limit is ${limits.maxBytes}`),
    };
  }
  let text: Buffer;
  try {
    text = gunzipSync(body, { maxOutputLength: limits.maxJsonBytes });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      return { ok: false, error: reject('WG_ERR_TOO_LARGE', `inflated body exceeds ${limits.maxJsonBytes} bytes`) };
    }
    return { ok: false, error: reject('WG_ERR_JSON', `body is not gzip (${(err as Error).message})`) };
  }
  try {
    return { ok: true, json: JSON.parse(text.toString('utf8')) };
  } catch (err) {
    return { ok: false, error: reject('WG_ERR_JSON', `inflated body is not JSON (${(err as Error).message})`) };
  }
}
