// One attempt to deliver a batch: sign it anew (the cloud refuses a repeated
// signature), POST it with a timeout, and say what the answer means for the
// batch. The meaning of each answer is the contract in docs/DEPLOY.md.
import { signedBatchRequest } from '../../shared/sync/request.js';
import type { SyncBatch } from '../../shared/sync/wire.js';
import { directOutbound, proxyErrorIn, type Outbound } from '../net/outbound.js';

export type Attempt =
  | { readonly outcome: 'synced'; readonly status: number; readonly duplicate: boolean; readonly conflicts: number }
  /** 5xx, timeout, network error, or an answer that is not the contract's: send again later. */
  | { readonly outcome: 'retry'; readonly status: number | null; readonly code: string; readonly message: string }
  /** 4xx: this batch will not be accepted as it is. `pause`: no batch will (credentials, clock, ward), so stop sending. */
  | {
      readonly outcome: 'quarantine';
      readonly status: number;
      readonly code: string;
      readonly message: string;
      readonly pause: boolean;
    };

/** Supplies `Authorization: Bearer <Google ID token>` for IAM-protected functions. */
export interface TokenSource {
  headers(): Promise<Record<string, string>>;
}

export interface TransportOptions {
  readonly url: string;
  readonly secret: string;
  readonly timeoutMs: number;
  readonly tokens?: TokenSource;
  /** Epoch ms, for the signature timestamp. */
  readonly now: () => number;
  /** How requests go out (the hospital's web proxy); absent: directly. */
  readonly outbound?: Outbound;
}

/**
 * Errors that say every batch would be refused the same way, not only this one.
 * LENGTH and ENCODING: a TLS-inspecting proxy that re-chunks bodies or adds a
 * Content-Encoding does it to every request, so quarantining batch after batch
 * would only fill the quarantine.
 */
const PAUSING = new Set([
  'WG_ERR_SIGNATURE',
  'WG_ERR_AUTH',
  'WG_ERR_STALE',
  'WG_ERR_FORBIDDEN',
  'WG_ERR_LENGTH',
  'WG_ERR_ENCODING',
]);

export class Transport {
  readonly #options: TransportOptions;
  readonly #endpoint: string;
  #lastTimestamp = 0;

  constructor(options: TransportOptions) {
    this.#options = options;
    this.#endpoint = `${options.url.replace(/\/+$/, '')}/ingestBatch`;
  }

  async send(batch: SyncBatch, body: Buffer, cancel?: AbortSignal): Promise<Attempt> {
    // Strictly increasing timestamps: two attempts never share a signature, even within one millisecond.
    this.#lastTimestamp = Math.max(this.#options.now(), this.#lastTimestamp + 1);
    const request = signedBatchRequest(batch, this.#options.secret, this.#lastTimestamp, body);
    let res: Response;
    let text: string;
    const deadline = requestDeadline(this.#options.timeoutMs, cancel);
    try {
      // The token fetch counts against the deadline: a stalled token endpoint would otherwise hold the slot forever.
      const auth = this.#options.tokens ? await untilAborted(this.#options.tokens.headers(), deadline.signal) : {};
      res = await (this.#options.outbound ?? directOutbound).fetch(this.#endpoint, {
        method: 'POST',
        body: request.body,
        headers: { ...request.headers, ...auth },
        redirect: 'error',
        signal: deadline.signal,
      });
      text = await res.text();
    } catch (err) {
      const e = err as Error & { cause?: { code?: string } };
      // A proxy's refusal (wrong credentials, a host it does not allow) says so, also when it failed the ID token.
      const proxy = proxyErrorIn(err);
      if (proxy) return { outcome: 'retry', status: null, code: proxy.code, message: proxy.message };
      const code = e.name === 'TimeoutError' ? 'timeout' : (e.cause?.code ?? e.name);
      return { outcome: 'retry', status: null, code, message: e.message };
    } finally {
      deadline.clear();
    }
    return classify(res.status, text, batch.batchId);
  }
}

/**
 * A signal that aborts after `timeoutMs` or when `cancel` does. Not
 * AbortSignal.any([cancel, AbortSignal.timeout(ms)]): in Node 20 the composite
 * holds its sources weakly, a collected timeout signal never fires, and a
 * stalled cloud then holds the request forever (nodejs/node#57736). Here the
 * timer itself holds the controller until it fires or is cleared.
 */
export function requestDeadline(
  timeoutMs: number,
  cancel?: AbortSignal,
): { readonly signal: AbortSignal; clear(): void } {
  const controller = new AbortController();
  const timer = setTimeout(
    () => controller.abort(new DOMException(`no answer within ${timeoutMs} ms`, 'TimeoutError')),
    timeoutMs,
  );
  const onCancel = () => controller.abort(cancel!.reason);
  if (cancel?.aborted) onCancel();
  else cancel?.addEventListener('abort', onCancel, { once: true });
  return {
    signal: controller.signal,
    clear() {
      clearTimeout(timer);
      cancel?.removeEventListener('abort', onCancel);
    },
  };
}

/** `work`, or the signal's reason once it aborts, whichever comes first; a late settling of `work` is ignored. */
export function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

export function classify(status: number, text: string, batchId: string): Attempt {
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  const error = (body as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  const code = typeof error?.code === 'string' ? error.code : `HTTP_${status}`;
  const message = typeof error?.message === 'string' ? error.message : text.slice(0, 200);
  if (status >= 200 && status < 300) {
    const ok = body as { ok?: unknown; batchId?: unknown; duplicate?: unknown; conflicts?: unknown } | null;
    // A 2xx that is not the contract's answer for this batch (a captive portal, a proxy page) proves nothing.
    if (ok?.ok !== true || ok.batchId !== batchId)
      return {
        outcome: 'retry',
        status,
        code: 'WG_ERR_ANSWER',
        message: 'a 2xx without the contract answer for this batch',
      };
    const conflicts = Number.isSafeInteger(ok.conflicts) && (ok.conflicts as number) > 0 ? (ok.conflicts as number) : 0;
    return { outcome: 'synced', status, duplicate: ok.duplicate === true, conflicts };
  }
  // A replayed signature means an earlier attempt reached the cloud: sign anew and send again.
  if (status === 401 && code === 'WG_ERR_REPLAY') return { outcome: 'retry', status, code, message };
  // 408 and 429 are the server asking for patience, not a verdict on the batch.
  if (status >= 400 && status < 500 && status !== 408 && status !== 429)
    return { outcome: 'quarantine', status, code, message, pause: PAUSING.has(code) };
  return { outcome: 'retry', status, code, message };
}
