// One signed POST to {cloud.url}/verifyRange (shared/sync/verify.ts) within a
// deadline that covers the ID token too, answered as the checked answer or an
// error that says what came back. Used by the verification and by the start
// check of the outbox numbering.
import {
  signedVerifyRequest,
  type VerifiedRange,
  type VerifyAnswer,
  type VerifyRequest,
} from '../../shared/sync/verify.js';
import { directOutbound, proxyErrorIn, type Outbound } from '../net/outbound.js';
import { requestDeadline, untilAborted } from './transport.js';

export interface VerifyClientOptions {
  readonly url: string;
  readonly secret: string;
  readonly timeoutMs: number;
  readonly headers?: () => Promise<Record<string, string>>;
  readonly now: () => number;
  /** How requests go out (the hospital's web proxy); absent: directly. */
  readonly outbound?: Outbound;
}

/** The cloud's answer was not 200 with the contract's body: `status` and `code` say what it was (status null: no answer). */
export class VerifyRequestError extends Error {
  constructor(
    message: string,
    readonly status: number | null,
    readonly code: string | undefined,
    readonly field: string | undefined,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export async function postVerify(
  options: VerifyClientOptions,
  request: VerifyRequest,
  cancel?: AbortSignal,
): Promise<VerifyAnswer> {
  const signed = signedVerifyRequest(request, options.secret, options.now());
  // A plain timer, not AbortSignal.timeout: it cannot be collected while the request waits (transport.ts).
  const deadline = requestDeadline(options.timeoutMs, cancel);
  try {
    // The token fetch counts against the deadline: a stalled token endpoint would otherwise hold the caller forever.
    const auth = options.headers ? await untilAborted(options.headers(), deadline.signal) : {};
    const res = await (options.outbound ?? directOutbound).fetch(`${options.url.replace(/\/+$/, '')}/verifyRange`, {
      method: 'POST',
      body: signed.body,
      headers: { ...signed.headers, ...auth },
      redirect: 'error',
      signal: deadline.signal,
    });
    const text = await res.text();
    const json = parseAnswer(text);
    if (
      res.status !== 200 ||
      json?.ok !== true ||
      !Array.isArray(json.ranges) ||
      json.ranges.length !== request.ranges.length
    ) {
      const code = json?.error?.code;
      throw new VerifyRequestError(
        `verifyRange answered ${res.status}: ${code ?? ''} ${json?.error?.message ?? text.slice(0, 200)}`,
        res.status,
        code,
        json?.error?.field,
      );
    }
    // An answer for other ranges than asked proves nothing about these.
    if (
      json.ranges.some(
        (r: VerifiedRange, k) =>
          r.stream !== request.ranges[k].stream || r.lo !== request.ranges[k].lo || r.hi !== request.ranges[k].hi,
      )
    ) {
      throw new VerifyRequestError(
        'verifyRange answered for other ranges than asked',
        res.status,
        undefined,
        undefined,
      );
    }
    return json;
  } catch (err) {
    if (deadline.signal.aborted && !(err instanceof VerifyRequestError)) {
      throw new VerifyRequestError(
        `no answer from verifyRange in ${options.timeoutMs} ms`,
        null,
        'timeout',
        undefined,
        { cause: err },
      );
    }
    if (err instanceof VerifyRequestError) throw err;
    const proxy = proxyErrorIn(err);
    if (proxy) throw new VerifyRequestError(proxy.message, null, proxy.code, undefined, { cause: err });
    throw new VerifyRequestError(
      (err as Error).message,
      null,
      (err as Error & { cause?: { code?: string } }).cause?.code ?? (err as Error).name,
      undefined,
      { cause: err },
    );
  } finally {
    deadline.clear();
  }
}

type Answer = VerifyAnswer & { error?: { code?: string; message?: string; field?: string } };

function parseAnswer(text: string): Answer | null {
  try {
    return JSON.parse(text || 'null') as Answer | null;
  } catch {
    // Not JSON (a proxy's page): the status and the text say what it was.
    return null;
  }
}
