// The command line as an engineer uses it: real processes, exit codes, output.
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { verifyPassword } from '../../../edge/auth/password.js';
import { tempDir } from '../../helpers/env.js';
import { passwordOf, spawnDaemon, WARDGATE_BIN, writeTestConfig } from '../../helpers/gateway.js';

t.setTimeout(120_000);

const wardgate = (args: string[], input?: string, cwd?: string) =>
  spawnSync(process.execPath, [WARDGATE_BIN, ...args], {
    encoding: 'utf8',
    input,
    timeout: 30_000,
    ...(cwd && { cwd }),
  });

t.test('help and usage errors', async (t) => {
  const none = wardgate([]);
  t.equal(none.status, 2, 'no command is bad usage');
  t.match(none.stdout, /Usage: wardgate <command>/);
  t.equal(wardgate(['--help']).status, 0);
  for (const command of ['edge', 'status', 'passwd']) {
    const help = wardgate([command, '--help']);
    t.equal(help.status, 0, `${command} --help`);
    t.match(help.stdout, new RegExp(`Usage: wardgate ${command}`));
  }
  const unknown = wardgate(['frobnicate']);
  t.equal(unknown.status, 2);
  t.match(unknown.stderr, /unknown command 'frobnicate'/);
  const badFlag = wardgate(['status', '--jsn']);
  t.equal(badFlag.status, 2);
  t.match(badFlag.stderr, /Unknown option '--jsn'/);
});

t.test('passwd prints a salted hash that verifies; short passwords are refused', async (t) => {
  const a = wardgate(['passwd'], 'correct-horse-battery\n');
  const b = wardgate(['passwd'], 'correct-horse-battery\n');
  t.equal(a.status, 0);
  t.match(a.stdout, /^scrypt\$15\$8\$1\$/);
  t.not(a.stdout, b.stdout, 'salted: the same password gives different hashes');
  t.ok(await verifyPassword('correct-horse-battery', a.stdout.trim()));
  t.notOk(await verifyPassword('correct-horse-batterz', a.stdout.trim()));
  const short = wardgate(['passwd'], 'short\n');
  t.equal(short.status, 2);
  t.match(short.stderr, /at least 12 characters/);
});

t.test('status works with and without the daemon, readable and as JSON', async (t) => {
  const { dir, file, mqttPort } = await writeTestConfig(t);
  const empty = wardgate(['status', '--config', file, '--json']);
  t.equal(empty.status, 0, empty.stderr);
  t.match(JSON.parse(empty.stdout), {
    readings: { total: 0, unsynced: 0, oldestUnsyncedTs: null },
    deadLetters: { total: 0 },
    devices: [],
    daemon: { running: false },
  });

  const daemon = await spawnDaemon(t, file, join(dir, 'data'));
  const device = await mqtt.connectAsync(`mqtt://127.0.0.1:${mqttPort}`, {
    clientId: 'pox-1',
    username: 'pox-1',
    password: passwordOf('pox-1'),
    reconnectPeriod: 0,
  });
  await device.publishAsync(
    'wardgate/devices/pox-1/obs',
    JSON.stringify({
      seq: 1,
      ts: '2026-11-27T09:00:00Z',
      obs: [
        { code: 'spo2', value: 95, unit: '%' },
        { code: 'pr', value: 88, unit: '/min' },
      ],
    }),
    { qos: 1 },
  );
  await device.publishAsync('wardgate/devices/pox-1/obs', 'not json', { qos: 1 });
  await device.publishAsync('wardgate/devices/pox-1/status', JSON.stringify({ battery: 42, sensor: 'ok' }), { qos: 1 });

  const running = JSON.parse(wardgate(['status', '--config', file, '--json']).stdout);
  t.match(running, {
    ward: '3B',
    daemon: { running: true, pid: daemon.child.pid },
    readings: { total: 2, unsynced: 2, oldestUnsyncedTs: '2026-11-27T09:00:00.000Z' },
    deadLetters: { total: 1, byReason: { WG_ERR_JSON: 1 } },
    alarms: { active: 0 },
    sync: { state: 'off', lastSuccessTs: null },
  });
  t.match(running.devices, [
    { id: 'pox-1', bed: '1', online: true, battery: 42, sensor: 'ok', lastSeen: /^\d{4}-/ },
    { id: 'pox-2', bed: '2', lastSeen: null },
  ]);
  const text = wardgate(['status', '--config', file]).stdout;
  t.match(text, /daemon running, pid \d+/);
  t.match(text, /readings\s+2 stored, 2 not yet synced/);
  t.match(text, /dead letters\s+1 \(WG_ERR_JSON 1\)/);
  t.match(text, /pox-1\s+1\s+mqtt\s+yes\s+\S+\s+42 %\s+ok/);
  await device.endAsync();

  daemon.child.kill('SIGTERM');
  t.equal(await daemon.exited, 0, 'SIGTERM stops the daemon with exit code 0');
  const after = JSON.parse(wardgate(['status', '--config', file, '--json']).stdout);
  t.match(after, { daemon: { running: false }, readings: { total: 2 } });
});

t.test('SIGINT stops cleanly; messages in flight are committed and acknowledged first', async (t) => {
  const { dir, file, mqttPort } = await writeTestConfig(t);
  const daemon = await spawnDaemon(t, file, join(dir, 'data'));
  const device = await mqtt.connectAsync(`mqtt://127.0.0.1:${mqttPort}`, {
    clientId: 'pox-1',
    username: 'pox-1',
    password: passwordOf('pox-1'),
    reconnectPeriod: 0,
  });
  t.teardown(() => device.endAsync(true));
  const acked: number[] = [];
  for (let seq = 1; seq <= 200; seq++) {
    device.publish(
      'wardgate/devices/pox-1/obs',
      JSON.stringify({ seq, obs: [{ code: 'pr', value: 70, unit: '/min' }] }),
      { qos: 1 },
      (err) => {
        if (!err) acked.push(seq);
      },
    );
  }
  daemon.child.kill('SIGINT');
  t.equal(await daemon.exited, 0);
  const status = JSON.parse(wardgate(['status', '--config', file, '--json']).stdout);
  t.ok(
    status.readings.total >= acked.length,
    `every acknowledged reading is stored (${acked.length} acked, ${status.readings.total} stored)`,
  );
  t.equal(status.daemon.running, false, 'the run file is gone after a clean stop');
});

t.test('a port in use: exit code 1 with a message naming the address', async (t) => {
  const { file, mqttPort } = await writeTestConfig(t);
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(mqttPort, '127.0.0.1', resolve));
  t.teardown(() => blocker.close());
  const run = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [WARDGATE_BIN, 'edge', '--config', file], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    // Should it hang instead of exiting (the bug this guards against), it must not outlive the test.
    t.teardown(() => child.kill('SIGKILL'));
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) => resolve({ code, stderr }));
  });
  t.equal(run.code, 1);
  t.match(run.stderr, new RegExp(`address 127\\.0\\.0\\.1:${mqttPort} is already in use`));
});

t.test('no config: the daemon runs on embedded defaults in ./data', async (t) => {
  const cwd = tempDir(t);
  const run = wardgate(['status', '--json'], undefined, cwd);
  t.equal(run.status, 0);
  t.match(JSON.parse(run.stdout), { ward: 'ward', gateway: 'gateway', readings: { total: 0 } });
});
