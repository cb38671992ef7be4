// A Google service account for tests of ID tokens: a fresh RSA key in the
// key-file shape google-auth-library reads. The library always posts to
// Google's token endpoint, whatever the file's token_uri says, so tests reach a
// loopback stand-in for TOKEN_HOST through a proxy.
import { generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto';

export const TOKEN_HOST = 'oauth2.googleapis.com';
export const TOKEN_URL = `https://${TOKEN_HOST}/token`;

export interface ServiceAccount {
  /** The key file's content (write it with mode 0600). */
  readonly key: {
    type: 'service_account';
    project_id: string;
    private_key_id: string;
    private_key: string;
    client_email: string;
    client_id: string;
    token_uri: string;
  };
  /** What verifies the assertions signed with it. */
  readonly publicKey: KeyObject;
}

export function serviceAccount(): ServiceAccount {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    key: {
      type: 'service_account',
      project_id: 'wardgate-test',
      private_key_id: randomUUID().replaceAll('-', ''),
      private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
      client_email: 'wardgate-edge@wardgate-test.iam.gserviceaccount.com',
      client_id: '100000000000000000001',
      token_uri: TOKEN_URL,
    },
    publicKey,
  };
}
