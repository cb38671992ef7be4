// Google ID tokens for functions deployed with IAM (no --allow-unauthenticated):
// `Authorization: Bearer <token>` for the configured audience, from a service
// account key file or the machine's default credentials. google-auth-library
// caches the token and refreshes it before it expires.
//
// The library is loaded at the first token, not at start: it costs some 13 MiB
// of memory, and most gateways sign with HMAC alone and never need it.
//
// The library's requests (the token endpoint) go out by the gateway's own
// fetch, so tokens and batches take the same proxy, noProxy and credentials
// (edge/net/outbound.ts) rather than the library's reading of https_proxy
// alone. Its own proxy handling is switched off: left on, it builds an agent
// from HTTPS_PROXY, password included, that our fetch never uses but every
// error of the library carries in its config, into the log line that
// reports it.
import type { IdTokenClient } from 'google-auth-library';
import { Outbound, outboundSettings } from '../net/outbound.js';
import type { TokenSource } from './transport.js';

export interface IdTokenOptions {
  readonly audience: string;
  readonly credentialsFile?: string;
  /** How requests go out; absent: by the proxy variables of the environment (HTTPS_PROXY...), as the library would. */
  readonly outbound?: Outbound;
}

export function googleIdTokens(options: IdTokenOptions): TokenSource {
  let client: Promise<IdTokenClient> | undefined;
  return {
    async headers(): Promise<Record<string, string>> {
      client ??= idTokenClient(options).catch((err: unknown) => {
        // Forget a failed attempt (an unreadable key file, no default credentials): the next sync tries again.
        client = undefined;
        throw err;
      });
      const headers = await (await client).getRequestHeaders();
      const value =
        headers instanceof Headers ? headers.get('authorization') : (headers as Record<string, string>).Authorization;
      const out: Record<string, string> = {};
      if (value) out.Authorization = value;
      return out;
    },
  };
}

async function idTokenClient(options: IdTokenOptions): Promise<IdTokenClient> {
  const { GoogleAuth } = await import('google-auth-library');
  const outbound = options.outbound ?? new Outbound(outboundSettings(undefined, process.env));
  const auth = new GoogleAuth({
    ...(options.credentialsFile !== undefined && { keyFile: options.credentialsFile }),
    clientOptions: {
      transporterOptions: {
        // gaxios's fetchImplementation: its documented hook for the fetch it calls.
        fetchImplementation: ((input: string | URL, init?: RequestInit) => outbound.fetch(input, init)) as typeof fetch,
        // Every URL matches: gaxios builds no proxy agent of its own (nor reads HTTPS_PROXY for one).
        noProxy: [/.*/],
      },
    },
  });
  return auth.getIdTokenClient(options.audience);
}
