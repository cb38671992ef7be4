// The device contract holds for a client that is not ours: Debian's mosquitto_pub
// and mosquitto_sub, over TCP and over TLS.
import t from 'tap';
import { spawn } from 'node:child_process';
import { freePort, tempDir, waitFor } from '../../helpers/env.js';
import { passwordOf, startTestGateway } from '../../helpers/gateway.js';
import { selfSignedCert } from '../../helpers/tls.js';

t.setTimeout(60_000);

function mosquittoPub(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('mosquitto_pub', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

t.test('mosquitto_pub publishes a QoS 1 observation; mosquitto_sub receives the error for a bad one', async (t) => {
  const { gateway, config } = await startTestGateway(t);
  const server = ['-h', '127.0.0.1', '-p', String(config.mqtt.port), '-V', 'mqttv311'];
  // A device's client identifier is its id (mosquitto's default is random), and one session per identifier:
  // the errors are watched here by an admin in its own namespace while the device publishes.
  const auth = [...server, '-i', 'pox-1', '-u', 'pox-1', '-P', passwordOf('pox-1')];
  const watcher = [...server, '-i', 'biomed:errors', '-u', 'biomed', '-P', passwordOf('biomed')];

  // Line-buffered (coreutils stdbuf): its debug lines reach the pipe as they are printed, not at its exit.
  const sub = spawn(
    'stdbuf',
    ['-oL', 'mosquitto_sub', ...watcher, '-d', '-t', 'wardgate/devices/pox-1/errors', '-q', '1', '-C', '1', '-W', '15'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let received = '';
  let subErrors = '';
  sub.stdout.on('data', (d: Buffer) => (received += d.toString()));
  sub.stderr.on('data', (d: Buffer) => (subErrors += d.toString()));
  const subDone = new Promise((resolve) => sub.on('exit', resolve));
  t.teardown(() => sub.kill('SIGKILL'));
  // The subscriber has its SUBACK (its debug output says so) before the bad message is sent: connected alone, it
  // could still be subscribing when the error is published, and would wait out its -W for nothing.
  await waitFor(() => (received.includes('SUBACK') ? true : undefined), 10_000, 'mosquitto_sub subscribed');

  const good = await mosquittoPub([
    ...auth,
    '-q',
    '1',
    '-t',
    'wardgate/devices/pox-1/obs',
    '-m',
    JSON.stringify({ seq: 1, obs: [{ code: 'spo2', value: 96, unit: '%' }] }),
  ]);
  t.equal(good.code, 0, good.stderr);
  t.same(gateway.db!.prepare('SELECT code, value FROM readings').all(), [{ code: 'spo2', value: 96 }]);

  const bad = await mosquittoPub([
    ...auth,
    '-q',
    '1',
    '-t',
    'wardgate/devices/pox-1/obs',
    '-m',
    JSON.stringify({ seq: 2, obs: [{ code: 'spo2', value: 96, unit: 'mm[Hg]' }] }),
  ]);
  t.equal(bad.code, 0, 'a rejected message is still acknowledged: it is durably dead-lettered');
  await subDone;
  const message = received.split('\n').find((line) => line.startsWith('{'));
  t.ok(message, `mosquitto_sub printed the error (its output: ${received}${subErrors})`);
  t.match(JSON.parse(message ?? '{}'), { code: 'WG_ERR_UNIT', field: 'obs[0].unit', seq: 2 });

  const wrong = await mosquittoPub([
    '-h',
    '127.0.0.1',
    '-p',
    String(config.mqtt.port),
    '-u',
    'pox-1',
    '-P',
    'nope',
    '-q',
    '1',
    '-t',
    'wardgate/devices/pox-1/obs',
    '-m',
    '{}',
  ]);
  t.not(wrong.code, 0);
  t.match(wrong.stderr, /not authori[sz]ed|bad user name or password/i);
});

t.test('TLS listener: mosquitto_pub over TLS with the gateway certificate', async (t) => {
  const dir = tempDir(t);
  const { cert, key } = selfSignedCert(dir, 'cert', 'localhost', '127.0.0.1');
  const tlsPort = await freePort();
  const { gateway } = await startTestGateway(t, { extra: { mqtt: { tls: { port: tlsPort, cert, key } } } });
  t.equal(gateway.ports.mqtts, tlsPort);
  const result = await mosquittoPub([
    '-h',
    '127.0.0.1',
    '-p',
    String(tlsPort),
    '--cafile',
    cert,
    '-i',
    'pox-2',
    '-u',
    'pox-2',
    '-P',
    passwordOf('pox-2'),
    '-q',
    '1',
    '-t',
    'wardgate/devices/pox-2/obs',
    '-m',
    JSON.stringify({ seq: 9, obs: [{ code: 'pr', value: 64, unit: '/min' }] }),
  ]);
  t.equal(result.code, 0, result.stderr);
  t.same(gateway.db!.prepare('SELECT code, value FROM readings').all(), [{ code: 'pr', value: 64 }]);
});
