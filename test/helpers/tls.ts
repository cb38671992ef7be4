// A self-signed certificate for a test's TLS listener, made by openssl in the
// test's own directory: valid for a day, the key readable by its owner only
// (as the gateway requires of a key file).
import { execFileSync } from 'node:child_process';
import { chmodSync } from 'node:fs';
import { join } from 'node:path';

export interface TestCertificate {
  /** PEM certificate file, also the CA a client trusts. */
  cert: string;
  /** PEM private key file, mode 0600. */
  key: string;
}

/**
 * Makes `{name}.pem` and `{name}-key.pem` in `dir` for the host `host`
 * (subject CN and a DNS subjectAltName); `ip` adds an IP subjectAltName.
 */
export function selfSignedCert(dir: string, name: string, host: string, ip?: string): TestCertificate {
  const cert = join(dir, `${name}.pem`);
  const key = join(dir, `${name}-key.pem`);
  const altNames = [...(ip ? [`IP:${ip}`] : []), `DNS:${host}`].join(',');
  const args = ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1'];
  execFileSync('openssl', [...args, '-subj', `/CN=${host}`, '-addext', `subjectAltName=${altNames}`], {
    stdio: 'ignore',
  });
  chmodSync(key, 0o600);
  return { cert, key };
}
