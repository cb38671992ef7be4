// The dashboard's page and assets, read once at start from
// edge/dashboard/public in the package (found from here whether this module
// runs from the sources or from dist/). Everything the page needs comes from
// the gateway: the content security policy forbids any other origin, so a
// ward with the WAN down sees the same dashboard.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const TYPES: ReadonlyMap<string, string> = new Map([
  ['.html', 'text/html; charset=utf-8'],
  ['.js', 'text/javascript; charset=utf-8'],
  ['.css', 'text/css; charset=utf-8'],
  ['.svg', 'image/svg+xml'],
  ['.png', 'image/png'],
  ['.ico', 'image/x-icon'],
]);

export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
};

interface Asset {
  readonly body: Buffer;
  readonly type: string;
  readonly etag: string;
}

/** The public directory: edge/dashboard/public under the first ancestor that has it. */
export function publicDir(from = dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, 'edge', 'dashboard', 'public');
    if (existsSync(join(candidate, 'index.html'))) return candidate;
    if (dirname(dir) === dir) throw new Error(`dashboard assets not found above ${from}`);
  }
}

export class StaticAssets {
  readonly #assets = new Map<string, Asset>();

  constructor(dir: string) {
    for (const name of readdirSync(dir)) {
      const type = TYPES.get(extname(name));
      if (!type) continue;
      const body = readFileSync(join(dir, name));
      this.#assets.set(name, {
        body,
        type,
        etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 16)}"`,
      });
    }
  }

  has(name: string): boolean {
    return this.#assets.has(name);
  }

  /** Sends an asset (304 when the browser has it); false when there is no such asset. */
  send(req: IncomingMessage, res: ServerResponse, name: string): boolean {
    const asset = this.#assets.get(name);
    if (!asset) return false;
    // no-cache: revalidate every load, so a gateway upgrade never mixes old and new scripts.
    const headers = { ...SECURITY_HEADERS, 'content-type': asset.type, 'cache-control': 'no-cache', etag: asset.etag };
    if (req.headers['if-none-match'] === asset.etag) {
      res.writeHead(304, headers);
      res.end();
    } else {
      res.writeHead(200, { ...headers, 'content-length': asset.body.length });
      res.end(req.method === 'HEAD' ? undefined : asset.body);
    }
    return true;
  }
}
