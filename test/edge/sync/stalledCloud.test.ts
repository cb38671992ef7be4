// A cloud that accepts connections and never answers (a stalled instance, a
// black-holed route): every request of the daemon times out, and the daemon
// keeps running. The config pull's and the verification's failures are
// logged with the fetch's TimeoutError (a DOMException) in them; logging one
// used to throw inside the logger and end the process, which is how the long
// chaos run lost its edge while the cloud was stopped.
import t from 'tap';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { waitFor } from '../../helpers/env.js';
import { spawnDaemon, writeTestConfig } from '../../helpers/gateway.js';

t.setTimeout(60_000);

t.test('the daemon outlives requests that time out against a stalled cloud', async (t) => {
  let requests = 0;
  const held: ServerResponse[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    requests++;
    req.resume();
    held.push(res); // never answered
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        for (const res of held) res.destroy();
        server.close(() => resolve());
      }),
  );
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const { file, dir } = await writeTestConfig(t, {
    extra: {
      cloud: { url, requestTimeoutMs: 300, backoff: { initialMs: 100, maxMs: 500 } },
      jobs: { sync: '* * * * * *', verify: '* * * * * *', configPull: '* * * * * *' },
      log: { level: 'error' },
    },
  });
  const daemon = await spawnDaemon(t, file, join(dir, 'data'), {
    WARDGATE_CLOUD_SECRET: 'gw-test-cloud-secret-0123456789abcdef',
    WARDGATE_WARD_SECRET: 'ward-test-pseudonym-secret-0123456789',
  });
  // Config pulls time out once a second: three of their failures logged, with the timeout named.
  await waitFor(
    () => {
      if (daemon.child.exitCode !== null || daemon.child.signalCode !== null)
        throw new Error(`the daemon exited: ${daemon.output()}`);
      return (daemon.output().match(/"job failed"/g) ?? []).length >= 3 ? true : undefined;
    },
    30_000,
    'three failed jobs to be logged',
  );
  t.ok(requests >= 3, `the stalled cloud was asked (${requests} requests)`);
  t.equal(daemon.child.exitCode, null, 'the daemon still runs');
  t.equal(daemon.child.signalCode, null);
  const failed = daemon
    .output()
    .split('\n')
    .filter((l) => l.includes('"job failed"'))
    .map((l) => JSON.parse(l) as { job: string; err: { type: string; message: string } });
  t.match(failed[0], { job: 'configPull', err: { type: 'DOMException', message: /no answer within 300 ms/ } });
  t.notMatch(daemon.output(), /Value of "this" must be of DOMException/);
});
