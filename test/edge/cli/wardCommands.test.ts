// The ward commands as the engineer on the box uses them, against a real daemon.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { passwordOf, spawnDaemon, WARDGATE_BIN, writeTestConfig } from '../../helpers/gateway.js';

t.setTimeout(120_000);

const wardgate = (...args: string[]) =>
  spawnSync(process.execPath, [WARDGATE_BIN, ...args], { encoding: 'utf8', timeout: 30_000 });

t.test('admit, list and acknowledge alarms, discharge; refusals name the problem', async (t) => {
  const { dir, file, mqttPort } = await writeTestConfig(t);
  const notRunning = wardgate('alarms', '--config', file);
  t.equal(notRunning.status, 1);
  t.match(notRunning.stderr, /the daemon is not running/);

  await spawnDaemon(t, file, join(dir, 'data'));
  const admit = wardgate('admit', '--config', file, '--bed', '2', '--patient', 'MRN-778', '--name', 'B. Patient');
  t.equal(admit.status, 0, admit.stderr);
  t.match(admit.stdout, /admitted to bed 2/);
  const twice = wardgate('admit', '--config', file, '--bed', '2', '--patient', 'MRN-779');
  t.equal(twice.status, 1);
  t.match(twice.stderr, /bed 2 is occupied; discharge first \(WG_ERR_CONFLICT\)/);
  const missing = wardgate('admit', '--config', file, '--patient', 'MRN-1');
  t.equal(missing.status, 2);
  t.match(missing.stderr, /--bed is required/);

  t.match(wardgate('alarms', '--config', file).stdout, /no open alarms/);
  const device = await mqtt.connectAsync(`mqtt://127.0.0.1:${mqttPort}`, {
    clientId: 'pox-2',
    username: 'pox-2',
    password: passwordOf('pox-2'),
    reconnectPeriod: 0,
  });
  await device.publishAsync(
    'wardgate/devices/pox-2/obs',
    JSON.stringify({ seq: 1, obs: [{ code: 'temp', value: 34.6, unit: 'Cel' }] }),
    { qos: 1 },
  );
  await device.endAsync();
  const listed = JSON.parse(wardgate('alarms', '--config', file, '--json').stdout) as Array<{
    id: string;
    bed: string;
    message: string;
  }>;
  t.match(listed, [{ bed: '2', message: 'Temperature low: 34.6 Cel (limit <= 35)' }]);
  t.match(wardgate('alarms', '--config', file).stdout, /medium\s+active\s+bed 2\s+Temperature low/);
  const ack = wardgate('alarms', '--config', file, '--ack', listed[0].id);
  t.equal(ack.status, 0, ack.stderr);
  t.match(ack.stdout, /acknowledged: Temperature low/);
  t.equal(wardgate('alarms', '--config', file, '--ack', 'no-such-alarm').status, 1);

  const status = JSON.parse(wardgate('status', '--config', file, '--json').stdout) as { alarms: { active: number } };
  t.equal(status.alarms.active, 1, 'status counts the open (acknowledged) alarm');
  t.equal(wardgate('discharge', '--config', file, '--bed', '2').status, 0);
  t.equal(wardgate('discharge', '--config', file, '--bed', '2').status, 1);
});
