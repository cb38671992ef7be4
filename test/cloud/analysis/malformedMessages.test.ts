// analyzeReadings takes Pub/Sub pushes: a message it cannot use must be
// acknowledged (a 2xx), or Pub/Sub delivers it again for ever. One whose ids
// cannot be Firestore paths (a ward with a slash, segments that are not
// segment ids) failed inside the store with a 500 and the store's own text.
// And a context that cannot be built answers with a registered code, never
// the reason, which holds the file's path. No emulator: neither reaches Firestore.
import t, { type Test } from 'tap';
import { createServer, type RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import { createContext } from '../../../cloud/context.js';
import { registerFunctions } from '../../../cloud/functions.js';
import { createCloudLogger } from '../../../cloud/log.js';
import { defaults } from '../../../cloud/settings.js';
import { WardgateError } from '../../../shared/errors.js';

async function serve(t: Test) {
  const server = createServer(getTestServer('analyzeReadings').listeners('request')[0] as RequestListener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return async (message: unknown) => {
    const data = Buffer.from(JSON.stringify(message)).toString('base64');
    const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        message: { data, messageId: '7' },
        subscription: 'projects/wardgate-test/subscriptions/batches',
      }),
    });
    return { status: res.status, text: await res.text() };
  };
}

const batchId = `b${'0'.repeat(32)}`;
const malformed: Array<[string, unknown]> = [
  ['a ward that is a path', { v: 1, ward: '3B/segments/x', gateway: 'gw-3b', batchId, segments: [`${batchId}_1024`] }],
  ['an empty ward', { v: 1, ward: '', gateway: 'gw-3b', batchId, segments: [`${batchId}_1024`] }],
  ['a segment that is not a string', { v: 1, ward: '3B', gateway: 'gw-3b', batchId, segments: [1024] }],
  ['a segment that is a path', { v: 1, ward: '3B', gateway: 'gw-3b', batchId, segments: ['a/b'] }],
  ['an empty segment id', { v: 1, ward: '3B', gateway: 'gw-3b', batchId, segments: [''] }],
];

t.test('a malformed batch message is acknowledged, not failed', async (t) => {
  const lines: string[] = [];
  const log = createCloudLogger('error', { write: (line: string) => void lines.push(line) });
  const ctx = createContext({ ...defaults, projectId: 'wardgate-test', gateways: new Map(), apiTokens: [] }, log);
  t.teardown(() => ctx.db.terminate());
  registerFunctions(() => ctx, log);
  const push = await serve(t);
  for (const [what, message] of malformed) {
    const res = await push(message);
    t.ok(res.status >= 200 && res.status < 300, `${what}: acknowledged (${res.status} ${res.text.slice(0, 80)})`);
  }
  t.equal(
    lines.filter((l) => l.includes('analysis skipped a malformed message')).length,
    malformed.length,
    'each logged',
  );
});

t.test(
  'a context that cannot be built: a 5xx Pub/Sub retries, with a registered code and not the reason',
  async (t) => {
    const lines: string[] = [];
    registerFunctions(
      () => {
        throw new WardgateError(
          'WG_ERR_CONFIG',
          '/etc/secrets/wardgate-gateways/wardgate-gateways.json has mode 644; secrets files must be 0600',
        );
      },
      createCloudLogger('error', { write: (line: string) => void lines.push(line) }),
    );
    const push = await serve(t);
    const res = await push({ v: 1, ward: '3B', gateway: 'gw-3b', batchId, segments: [`${batchId}_1024`] });
    t.equal(res.status, 500, 'retried by Pub/Sub until the configuration is fixed');
    t.match(res.text, /WG_ERR_CONFIG/, 'the registered code');
    t.notMatch(res.text, /etc\/secrets|0600|mode/, 'the path and the reason stay in the log');
    t.ok(
      lines.some((l) => l.includes('wardgate-gateways.json')),
      'where they are',
    );
  },
);
