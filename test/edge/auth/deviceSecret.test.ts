// Device secrets: minted by `wardgate passwd --device`, verified by one
// SHA-256 on the broker's thread (no scrypt, no queue), refused for people;
// an old config with scrypt device hashes still works, with a warning that
// names the devices and says what to do.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { Authenticator } from '../../../edge/auth/authenticator.js';
import {
  deviceVerifier,
  isDeviceVerifier,
  mintDeviceSecret,
  verifyDeviceSecret,
} from '../../../edge/auth/deviceSecret.js';
import { LoginThrottle } from '../../../edge/auth/loginThrottle.js';
import { hashPassword } from '../../../edge/auth/password.js';
import { VerificationQueue } from '../../../edge/auth/verificationQueue.js';
import { passwordOf, spawnDaemon, testHash, WARDGATE_BIN, writeTestConfig } from '../../helpers/gateway.js';
import { waitFor } from '../../helpers/env.js';

t.setTimeout(90_000);

t.test('a minted secret has 256 bits and verifies against its verifier only', async (t) => {
  const secret = mintDeviceSecret();
  t.equal(Buffer.from(secret, 'base64url').length, 32);
  t.not(mintDeviceSecret(), secret);
  const verifier = deviceVerifier(secret);
  t.ok(isDeviceVerifier(verifier));
  t.match(verifier, /^sha256\$[A-Za-z0-9_-]{43}$/);
  t.ok(verifyDeviceSecret(secret, verifier));
  t.notOk(verifyDeviceSecret(`${secret}x`, verifier));
  t.notOk(verifyDeviceSecret('', verifier));
  t.notOk(verifyDeviceSecret(secret, 'sha256$short'), 'a malformed verifier matches nothing');
});

t.test('a device with a verifier logs in without the scrypt line, even when it is full', async (t) => {
  const secret = mintDeviceSecret();
  const queue = new VerificationQueue({ concurrency: 1, maxWaiting: 1 });
  const slow = {
    name: 'pump-1',
    kind: 'device' as const,
    secretHash: await hashPassword('pump-1-secret', { logN: 14 }),
  };
  const fast = { name: 'mon-1', kind: 'device' as const, secretHash: deviceVerifier(secret) };
  const auth = new Authenticator([slow, fast], new LoginThrottle({ freeFailures: 100 }), { queue });
  const first = auth.attempt('pump-1', 'wrong-1', '10.0.0.1');
  const second = auth.attempt('pump-1', 'wrong-2', '10.0.0.2');
  t.ok(queue.full, 'the slow line is full');
  t.match(
    await auth.attempt('mon-1', secret, '10.0.0.3'),
    { kind: 'accepted' },
    'the minted secret is checked at once',
  );
  t.same(
    await auth.attempt('mon-1', 'not-the-secret', '10.0.0.3'),
    { kind: 'busy' },
    'a wrong one is answered as an unknown name would be (deviceLogin.test.ts)',
  );
  t.equal(queue.running + queue.waiting, 2, 'nothing of the device went through the line');
  t.same(auth.slowDevices(), ['pump-1'], 'the scrypt device is named');
  await Promise.all([first, second]);
});

t.test('wrong device secrets are throttled like passwords, but the right one is accepted through a lock', async (t) => {
  const secret = mintDeviceSecret();
  const throttle = new LoginThrottle({ freeFailures: 3, lockMs: 60_000 });
  const auth = new Authenticator([{ name: 'mon-1', kind: 'device', secretHash: deviceVerifier(secret) }], throttle);
  for (let i = 0; i < 3; i++) t.same(await auth.attempt('mon-1', `guess-${i}`, '10.9.9.9'), { kind: 'refused' });
  t.ok(throttle.waitMs('mon-1@10.9.9.9') > 0, 'locked from that address');
  t.same(await auth.attempt('mon-1', 'guess-4', '10.9.9.9'), { kind: 'refused' });
  t.match(
    await auth.attempt('mon-1', secret, '10.9.9.9'),
    { kind: 'accepted' },
    'a 256-bit secret is no guess: accepted even there',
  );
});

t.test('wardgate passwd --device mints a secret and prints its verifier', async (t) => {
  const run = (args: string[]) =>
    spawnSync(process.execPath, [WARDGATE_BIN, 'passwd', ...args], { encoding: 'utf8', input: '', timeout: 30_000 });
  const text = run(['--device']);
  t.equal(text.status, 0, text.stderr);
  const [, secret] = /^secret: (\S+)$/m.exec(text.stdout) ?? [];
  const [, verifier] = /^secretHash: (\S+)$/m.exec(text.stdout) ?? [];
  t.ok(secret && verifier && verifyDeviceSecret(secret, verifier), 'the printed secret matches the printed verifier');
  const json = JSON.parse(run(['--device', '--json']).stdout) as { secret: string; secretHash: string };
  t.ok(verifyDeviceSecret(json.secret, json.secretHash));
  t.not(json.secret, secret, 'a new secret each time');
  t.equal(run(['--json']).status, 2, '--json alone is bad usage');
});

t.test(
  'an old config with an scrypt device hash still works, and the daemon says which device to re-key',
  async (t) => {
    const { dir, file, mqttPort } = await writeTestConfig(t, {
      extra: {
        devices: [
          { id: 'pox-1', bed: '1', secretHash: await testHash('pox-1') },
          { id: 'pox-2', bed: '2', secretHash: deviceVerifier(passwordOf('pox-2')) },
        ],
      },
    });
    const daemon = await spawnDaemon(t, file, join(dir, 'data'));
    await waitFor(() => /scrypt password hash/.test(daemon.output()) || undefined, 10_000, 'the warning');
    const warning = daemon
      .output()
      .split('\n')
      .find((l) => l.includes('scrypt password hash'))!;
    t.match(warning, /pox-1/, 'names the device');
    t.notMatch(warning, /pox-2/, 'not the re-keyed one');
    t.match(warning, /wardgate passwd --device/, 'says what to do');
    for (const id of ['pox-1', 'pox-2']) {
      const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${mqttPort}`, {
        clientId: id,
        username: id,
        password: passwordOf(id),
        reconnectPeriod: 0,
      });
      t.ok(client.connected, `${id} logs in`);
      await client.endAsync();
    }
    daemon.child.kill('SIGTERM');
    await daemon.exited;
  },
);
