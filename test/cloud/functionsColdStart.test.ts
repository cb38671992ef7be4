// A context that cannot be built (a gateways secret file others may read, or
// one that is not JSON) at a cold start is answered like any other failure
// inside a function: JSON with a registered code, a 5xx the edge retries, not
// the framework's crash page as text. No emulator: the context never exists.
import t from 'tap';
import { chmodSync, writeFileSync } from 'node:fs';
import { createServer, type RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import { createContext } from '../../cloud/context.js';
import { registerFunctions } from '../../cloud/functions.js';
import { createCloudLogger } from '../../cloud/log.js';
import { settingsFromEnv } from '../../cloud/settings.js';
import { errorCodes } from '../../shared/errors.js';
import { tempDir } from '../helpers/env.js';

const cases: Array<[string, string, number]> = [
  [
    'readable by others',
    JSON.stringify({ 'gw-3b': { ward: '3B', secret: 'gw-3b-secret-for-tests-0123456789abcdef' } }),
    0o644,
  ],
  ['not JSON', '{"gw-3b": ', 0o600],
];

for (const [what, content, mode] of cases) {
  t.test(`a gateways file ${what}: a JSON 5xx with a registered code`, async (t) => {
    const file = join(tempDir(t), 'gateways.json');
    writeFileSync(file, content);
    chmodSync(file, mode);
    const env = { WARDGATE_GATEWAYS_FILE: file, WARDGATE_PROJECT: 'wardgate-cold-start', WARDGATE_LOG_LEVEL: 'silent' };
    registerFunctions(() => createContext(settingsFromEnv(env)), createCloudLogger('silent'));
    const server = createServer(getTestServer('ingestBatch').listeners('request')[0] as RequestListener);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`, {
      method: 'POST',
      body: Buffer.from('{}'),
      headers: { 'content-type': 'application/gzip' },
    });
    const text = await res.text();
    t.ok(res.status >= 500 && res.status < 600, `a 5xx, which the edge retries (${res.status})`);
    t.match(res.headers.get('content-type') ?? '', /application\/json/, 'answered as JSON');
    let body: { ok?: boolean; error?: { code?: string } } | undefined;
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      t.fail(`not JSON: ${text.slice(0, 120)}`);
      return;
    }
    t.equal(body?.ok, false);
    t.ok(body?.error?.code !== undefined && body.error.code in errorCodes, `a registered code (${body?.error?.code})`);
    t.notMatch(text, /gateways\.json|secret/, 'the file and its content stay in the log');
  });
}
