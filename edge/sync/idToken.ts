// Google ID tokens for functions deployed with IAM (no --allow-unauthenticated):
// `Authorization: Bearer <token>` for the configured audience, from a service
// account key file or the machine's default credentials. google-auth-library
// caches the token and refreshes it before it expires.
//
// The library is loaded at the first token, not at start: it costs some 13 MiB
// of memory, and most gateways sign with HMAC alone and never need it.
import type { IdTokenClient } from 'google-auth-library';
import type { TokenSource } from './transport.js';

export function googleIdTokens(options: { audience: string; credentialsFile?: string }): TokenSource {
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

async function idTokenClient(options: { audience: string; credentialsFile?: string }): Promise<IdTokenClient> {
  const { GoogleAuth } = await import('google-auth-library');
  const auth = new GoogleAuth(options.credentialsFile !== undefined ? { keyFile: options.credentialsFile } : {});
  return auth.getIdTokenClient(options.audience);
}
