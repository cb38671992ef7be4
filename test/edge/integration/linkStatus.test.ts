// `wardgate status` on a running daemon with the three links to the
// hospital's systems configured: the ADT feed in (listening, its answers),
// the EHR and the alarm manager out (connected or not, what waits in each
// queue), in JSON and as text; then both receivers come up and the queues
// drain; then the daemon stops and nothing is shown as connected.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import mqtt from 'mqtt';
import { adtMessage } from '../../helpers/adt.js';
import { freePort, waitFor } from '../../helpers/env.js';
import { passwordOf, spawnDaemon, WARDGATE_BIN, writeTestConfig } from '../../helpers/gateway.js';
import { InterfaceEngine } from '../../helpers/interfaceEngine.js';
import { MllpClient } from '../../helpers/mllp.js';
import { join } from 'node:path';

t.setTimeout(120_000);

interface Outbound {
  link: string;
  connected: boolean;
  queued: number;
  sent: number;
}
interface Status {
  adt?: { state: string; port: number | null; answers: Record<string, number> };
  outbound?: Outbound[];
}

const link = { retryMinMs: 100, retryMaxMs: 300, connectTimeoutMs: 300, ackTimeoutMs: 2000, unreachableAlarmMs: 0 };

t.test('each link: its state and its queue, whether the receivers are up or not', async (t) => {
  const [adtPort, ehrPort, managerPort] = [await freePort(), await freePort(), await freePort()];
  const { dir, file } = await writeTestConfig(t, {
    extra: {
      hl7: {
        port: await freePort(),
        adt: { port: adtPort, senders: [{ application: 'HIS' }], locations: [{ pointOfCare: '3B' }] },
      },
      ehr: { host: '127.0.0.1', port: ehrPort, ...link },
      alarmManager: { host: '127.0.0.1', port: managerPort, ...link },
      alarms: {
        limits: { spo2: { low: 85, priority: 'high', delayMs: 0 } },
        technical: { silentAfterMs: 0 },
        escalation: { high: 0, medium: 0 },
      },
    },
  });
  const status = (): Status =>
    JSON.parse(
      execFileSync(process.execPath, [WARDGATE_BIN, 'status', '--config', file, '--json'], { encoding: 'utf8' }),
    ) as Status;
  const text = () => execFileSync(process.execPath, [WARDGATE_BIN, 'status', '--config', file], { encoding: 'utf8' });
  const outbound = (s: Status, name: string) => s.outbound?.find((o) => o.link === name);

  const daemon = await spawnDaemon(t, file, join(dir, 'data'));
  // The ADT system admits a patient to bed 1.
  const adt = await MllpClient.connect(t, adtPort);
  adt.send(adtMessage({ event: 'A01', controlId: 'S1', patient: 'MRN-1', location: '3B^1^1' }));
  t.match(await adt.waitForAcks(1), [{ code: 'AA', controlId: 'S1' }]);
  // The monitor reports a desaturation (an alarm for the manager, which is down) ...
  const device = await mqtt.connectAsync(`mqtt://127.0.0.1:${daemon.run.ports.mqtt}`, {
    clientId: 'pox-1',
    username: 'pox-1',
    password: passwordOf('pox-1'),
    reconnectPeriod: 0,
  });
  t.teardown(() => device.endAsync(true));
  await device.publishAsync(
    'wardgate/devices/pox-1/obs',
    JSON.stringify({ seq: 1, obs: [{ code: 'spo2', value: 80, unit: '%' }] }),
    { qos: 1 },
  );
  // ... and a nurse charts a respiration rate (for the EHR, which is down too).
  const charted = await fetch(`http://127.0.0.1:${daemon.run.ports.http}/api/beds/1/chart`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`nurse-ann:${passwordOf('nurse-ann')}`).toString('base64')}`,
      'content-type': 'application/json',
    },
    body: JSON.stringify({ values: [{ metric: 'rr', value: 16 }] }),
  });
  t.equal(charted.status, 201);

  const down = await waitFor(
    () => {
      const s = status();
      return s.adt?.answers.applied === 1 &&
        outbound(s, 'ehr')?.queued === 1 &&
        (outbound(s, 'alarm-manager')?.queued ?? 0) >= 1
        ? s
        : undefined;
    },
    15_000,
    'the status with both queues waiting',
  );
  t.match(down.adt, { state: 'listening', port: adtPort, answers: { applied: 1 } }, 'ADT in: listening, one applied');
  t.match(outbound(down, 'ehr'), { connected: false, queued: 1, sent: 0 }, 'the EHR: down, one message waits');
  t.match(outbound(down, 'alarm-manager'), { connected: false, sent: 0 }, 'the alarm manager: down, reports wait');
  const lines = text();
  t.match(lines, new RegExp(`adt in +listening, port ${adtPort}, 1 connected`));
  t.match(lines, /link ehr +not connected, 1 queued/);
  t.match(lines, /link alarm-manager not connected, [1-9]\d* queued/);

  // Both receivers come up: the queues drain, the links show connected.
  const ehr = await InterfaceEngine.start(t, { port: ehrPort });
  const manager = await InterfaceEngine.start(t, { port: managerPort });
  await ehr.waitForCount(1, 15_000);
  await manager.waitForCount(1, 15_000);
  const up = await waitFor(
    () => {
      const s = status();
      const [e, m] = [outbound(s, 'ehr'), outbound(s, 'alarm-manager')];
      return e?.queued === 0 && m?.queued === 0 && e.connected && m.connected ? s : undefined;
    },
    15_000,
    'the queues drained',
  );
  t.match(outbound(up, 'ehr'), { connected: true, queued: 0, sent: 1 });
  t.match(outbound(up, 'alarm-manager'), { connected: true, queued: 0 });
  t.match(text(), /link ehr +connected, 0 queued/);

  adt.end();
  daemon.child.kill('SIGTERM');
  t.equal(await daemon.exited, 0);
  const stopped = status();
  t.match(stopped.adt, { state: 'down' }, 'the daemon stopped: ADT in is down');
  t.notOk(
    stopped.outbound?.some((o) => o.connected),
    'and no link is shown as connected',
  );
});
