// The config section of the hospital's web proxy (README "Outbound through a
// web proxy"): every request the gateway makes out (the sync's batches, its
// verification and config pull, Google ID tokens, the alarm webhook) goes
// through it, except to hosts in noProxy and to the box's own loopback.
// Absent: HTTPS_PROXY / HTTP_PROXY and NO_PROXY from the environment
// (outbound.ts). The password is named, never written here: passwordEnv or
// passwordFile, checked at load (config/load.ts).
import { z } from 'zod';

const envName = z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'expected an environment variable name');

export const proxyConfigSchema = z
  .strictObject({
    /** The proxy: http://[user@]host:port (or https:// for TLS to the proxy itself). */
    url: z.url({ protocol: /^https?$/ }),
    /** Hosts reached directly: `host`, `.domain` (and its subdomains), `host:port`, an IP address, or `*` for all. */
    noProxy: z.array(z.string().trim().min(1)).default([]),
    /** Environment variable holding the password of the user in `url`. */
    passwordEnv: envName.optional(),
    /** File (mode 0600) holding the password of the user in `url`. */
    passwordFile: z.string().min(1).optional(),
  })
  .superRefine((p, ctx) => {
    const url = URL.canParse(p.url) ? new URL(p.url) : undefined;
    if (url?.password)
      ctx.addIssue({
        code: 'custom',
        path: ['url'],
        message: 'expected no password in the URL: name it with passwordEnv or passwordFile',
        input: '(hidden)',
      });
    if (p.passwordEnv !== undefined && p.passwordFile !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['passwordFile'],
        message: 'give only one of passwordEnv, passwordFile',
        input: p.passwordFile,
      });
    if ((p.passwordEnv !== undefined || p.passwordFile !== undefined) && url && !url.username)
      ctx.addIssue({
        code: 'custom',
        path: ['url'],
        message: 'expected the proxy user in the URL (http://user@host:port) for the password',
        input: p.url,
      });
  });

export type ProxyConfig = z.output<typeof proxyConfigSchema>;
