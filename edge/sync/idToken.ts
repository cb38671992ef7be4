// Google ID tokens for functions deployed with IAM (no --allow-unauthenticated):
// `Authorization: Bearer <token>` for the configured audience, from a service
// account key file or the machine's default credentials. google-auth-library
// caches the token and refreshes it before it expires.
import { GoogleAuth } from 'google-auth-library';
import type { TokenSource } from './transport.js';

export function googleIdTokens(options: { audience: string; credentialsFile?: string }): TokenSource {
  const auth = new GoogleAuth(options.credentialsFile !== undefined ? { keyFile: options.credentialsFile } : {});
  let client: ReturnType<GoogleAuth['getIdTokenClient']> | undefined;
  return {
    async headers(): Promise<Record<string, string>> {
      client ??= auth.getIdTokenClient(options.audience);
      const headers = await (await client).getRequestHeaders();
      const value =
        headers instanceof Headers ? headers.get('authorization') : (headers as Record<string, string>).Authorization;
      const out: Record<string, string> = {};
      if (value) out.Authorization = value;
      return out;
    },
  };
}
