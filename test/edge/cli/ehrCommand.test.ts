// `wardgate ehr` against a running gateway: the link's state and queue, the
// EHR's reason for a refusal, and --retry-quarantined sending the refused
// message again with its control id; without a daemon, exit 1 and why.
import t from 'tap';
import { PassThrough } from 'node:stream';
import { ehrCommand } from '../../../edge/cli/ehrCommand.js';
import { loadConfig } from '../../../edge/config/load.js';
import { Gateway } from '../../../edge/gateway.js';
import { createLogger } from '../../../edge/log.js';
import { waitFor } from '../../helpers/env.js';
import { passwordOf, writeTestConfig } from '../../helpers/gateway.js';
import { InterfaceEngine } from '../../helpers/interfaceEngine.js';

async function wardgateEhr(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d: Buffer) => (out += d.toString()));
  stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await ehrCommand.run({ argv: args, stdout, stderr, stdin: new PassThrough(), env: {} });
  return { code, out, err };
}

t.test('state, queue and the refusal; --retry-quarantined sends it again', async (t) => {
  const engine = await InterfaceEngine.start(t);
  engine.answer = () => 'AR';
  engine.reason = 'unknown location 3B^^1|x';
  const { file } = await writeTestConfig(t, {
    extra: { ehr: { host: '127.0.0.1', port: engine.port, retryMinMs: 50 } },
  });
  t.equal((await wardgateEhr(['--config', file])).code, 1, 'no daemon: a failure');
  t.match((await wardgateEhr(['--config', file])).err, 'the daemon is not running');

  const gateway = new Gateway(loadConfig({ file, env: {} }), { log: createLogger('silent'), env: {} });
  await gateway.start();
  t.teardown(() => gateway.stop());
  const api = `http://127.0.0.1:${gateway.ports.http!}`;
  const as = (name: string) => ({
    authorization: `Basic ${Buffer.from(`${name}:${passwordOf(name)}`).toString('base64')}`,
    'content-type': 'application/json',
  });
  await fetch(`${api}/api/admissions`, {
    method: 'POST',
    headers: as('biomed'),
    body: JSON.stringify({ bed: '1', identifier: 'MRN-8' }),
  });
  const sent = (await (
    await fetch(`${api}/api/beds/1/chart`, {
      method: 'POST',
      headers: as('nurse-ann'),
      body: JSON.stringify({ values: [{ metric: 'rr', value: 14 }] }),
    })
  ).json()) as { controlId: string };
  await waitFor(
    async () => ((await wardgateEhr(['--config', file, '--json'])).out.includes('"quarantined": 1') ? true : undefined),
    5000,
    'the refusal',
  );

  const shown = await wardgateEhr(['--config', file]);
  t.equal(shown.code, 0);
  t.match(shown.out, `ehr: connected, 0 queued, 1 quarantined, 0 sent; last success never; last error`);
  t.match(shown.out, `AR for ${sent.controlId}: unknown location 3B^^1|x`);

  engine.answer = () => 'AA';
  const retried = await wardgateEhr(['--config', file, '--retry-quarantined']);
  t.same(retried, { code: 0, out: '1 quarantined message(s) queued again\n', err: '' });
  await waitFor(
    async () => ((await wardgateEhr(['--config', file])).out.includes('1 sent') ? true : undefined),
    5000,
    'sent',
  );
  t.same(
    engine.received.map((r) => r.controlId),
    [sent.controlId, sent.controlId],
  );
  const audit = gateway.db!.prepare("SELECT actor FROM audit WHERE action = 'ehr-retry-quarantined'").pluck().all();
  t.same(audit, ['local-admin'], 'audited as the local admin');
});
