// A device with a minted secret logs in whatever the throttles say (they
// ration guesses, and a 256-bit secret is not guessed), so a failing client
// that shares its address cannot stop its readings; people's passwords stay
// throttled. A wrong device secret is answered like an unknown name, after as
// long, so timing does not tell which device names exist.
import t from 'tap';
import mqtt from 'mqtt';
import { Authenticator } from '../../../edge/auth/authenticator.js';
import { deviceVerifier, mintDeviceSecret } from '../../../edge/auth/deviceSecret.js';
import { LoginThrottle } from '../../../edge/auth/loginThrottle.js';
import { hashPassword } from '../../../edge/auth/password.js';
import { VerificationQueue } from '../../../edge/auth/verificationQueue.js';
import { passwordOf, startTestGateway, testHash } from '../../helpers/gateway.js';

t.setTimeout(120_000);

const person = async (name: string, logN = 10) => ({
  name,
  kind: 'user' as const,
  secretHash: logN === 10 ? await testHash(name) : await hashPassword(passwordOf(name), { logN }),
});

/** How long each call of `login` takes, in ms, one after the other. */
async function timings(times: number, login: () => Promise<unknown>): Promise<number[]> {
  const ms: number[] = [];
  for (let i = 0; i < times; i++) {
    const started = performance.now();
    await login();
    ms.push(performance.now() - started);
  }
  return ms;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

t.test(
  'a locked address: a device with its minted secret is accepted, a person is not, and wrong secrets still count',
  async (t) => {
    const secret = mintDeviceSecret();
    const addressThrottle = new LoginThrottle({ freeFailures: 3, lockMs: 60_000, forgetAfterMs: 600_000 });
    const auth = new Authenticator(
      [{ name: 'mon-1', kind: 'device', secretHash: deviceVerifier(secret) }, await person('nurse-ann')],
      new LoginThrottle(),
      { addressThrottle },
    );
    for (let i = 0; i < 3; i++) await auth.attempt(`guess-${i}`, 'x', '10.5.5.5');
    t.ok(addressThrottle.waitMs('10.5.5.5') > 0, 'the shared address is locked');
    t.match(await auth.attempt('mon-1', secret, '10.5.5.5'), { kind: 'accepted' }, 'the device behind it is not');
    t.same(await auth.attempt('mon-1', 'not-the-secret', '10.5.5.5'), { kind: 'refused' }, 'a wrong secret is refused');
    t.same(
      await auth.attempt('nurse-ann', passwordOf('nurse-ann'), '10.5.5.5'),
      { kind: 'refused' },
      'a password waits out the lock',
    );

    for (let i = 0; i < 3; i++) t.same(await auth.attempt('mon-1', `old-secret-${i}`, '10.6.6.6'), { kind: 'refused' });
    t.ok(addressThrottle.waitMs('10.6.6.6') > 0, "wrong device secrets count towards the address's lock");
    t.same(
      await auth.attempt('nurse-ann', passwordOf('nurse-ann'), '10.6.6.6'),
      { kind: 'refused' },
      'which holds for passwords',
    );
  },
);

t.test('a re-provisioned device locked by failures with its old secret logs in with the new one', async (t) => {
  const secret = mintDeviceSecret();
  const throttle = new LoginThrottle({ freeFailures: 5, lockMs: 30_000 });
  const auth = new Authenticator([{ name: 'mon-1', kind: 'device', secretHash: deviceVerifier(secret) }], throttle);
  for (let i = 0; i < 5; i++) await auth.attempt('mon-1', 'the-old-secret', '10.0.0.7');
  t.ok(throttle.waitMs('mon-1@10.0.0.7') > 0, 'its name from its address is locked');
  t.match(await auth.attempt('mon-1', secret, '10.0.0.7'), { kind: 'accepted' });
  t.equal(throttle.waitMs('mon-1@10.0.0.7'), 0, 'and the success clears its lock');
});

t.test('a wrong device secret waits like an unknown name; a right one is answered at once', async (t) => {
  const secret = mintDeviceSecret();
  // A real scrypt (2^14) so that "about one check" is tens of milliseconds.
  const auth = new Authenticator(
    [{ name: 'mon-1', kind: 'device', secretHash: deviceVerifier(secret) }, await person('nurse-ann', 14)],
    new LoginThrottle({ freeFailures: 1000 }),
    {
      addressThrottle: new LoginThrottle({ freeFailures: 1000 }),
    },
  );
  await auth.attempt('nobody', 'x', '10.0.0.1'); // measures one check
  const unknown = median(await timings(7, () => auth.attempt(`nobody-${Math.random()}`, 'x', '10.0.0.1')));
  const wrong = median(await timings(7, () => auth.attempt('mon-1', `guess-${Math.random()}`, '10.0.0.1')));
  const right = median(await timings(7, () => auth.attempt('mon-1', secret, '10.0.0.1')));
  t.ok(unknown > 5, `an unknown name waits (${unknown.toFixed(1)} ms)`);
  t.ok(wrong > unknown * 0.5, `a wrong device secret too (${wrong.toFixed(1)} ms against ${unknown.toFixed(1)} ms)`);
  t.ok(right < unknown * 0.25, `a right one does not (${right.toFixed(2)} ms)`);
});

t.test('while the scrypt line is full, a wrong device secret gets the answer an unknown name gets', async (t) => {
  const secret = mintDeviceSecret();
  const queue = new VerificationQueue({ concurrency: 1, maxWaiting: 1 });
  const auth = new Authenticator(
    [{ name: 'mon-1', kind: 'device', secretHash: deviceVerifier(secret) }, await person('nurse-ann', 14)],
    new LoginThrottle({ freeFailures: 100 }),
    { queue },
  );
  await auth.attempt('nobody', 'x', '10.0.0.9'); // measures once
  const pending = [auth.attempt('nurse-ann', 'wrong-1', '10.0.0.1'), auth.attempt('nurse-ann', 'wrong-2', '10.0.0.2')];
  t.ok(queue.full);
  t.same(await auth.attempt('nobody-else', 'x', '10.0.0.3'), { kind: 'busy' }, 'an unknown name');
  t.same(
    await auth.attempt('mon-1', 'not-the-secret', '10.0.0.3'),
    { kind: 'busy' },
    'a known device name with a wrong secret',
  );
  t.match(await auth.attempt('mon-1', secret, '10.0.0.3'), { kind: 'accepted' }, 'the right secret needs no line');
  await Promise.all(pending);
});

/** The CONNACK return code for a login (0: accepted), and how long it took in ms. */
async function login(url: string, name: string, password: string): Promise<{ code: number; ms: number }> {
  const started = performance.now();
  try {
    const client = await mqtt.connectAsync(url, {
      clientId: name,
      username: name,
      password,
      reconnectPeriod: 0,
      connectTimeout: 10_000,
    });
    const ms = performance.now() - started;
    await client.endAsync(true);
    return { code: 0, ms };
  } catch (err) {
    return { code: (err as { code?: number }).code ?? -1, ms: performance.now() - started };
  }
}

t.test('through the real broker: a device keeps logging in and publishing from a locked address', async (t) => {
  const { gateway, url } = await startTestGateway(t);
  // The default address throttle: 20 failures, then locks. All from loopback, as behind a bridge box.
  for (let i = 0; i < 20; i++) t.equal((await login(url, `guess-${i}`, 'x')).code, 4);
  t.equal((await login(url, 'guess-x', 'x')).code, 4, 'locked');
  t.equal((await login(url, 'nurse-ann', passwordOf('nurse-ann'))).code, 4, 'a person waits out the lock');
  t.equal((await login(url, 'pox-1', 'not-the-secret')).code, 4, 'a wrong device secret is refused');
  const device = await mqtt.connectAsync(url, {
    clientId: 'pox-1',
    username: 'pox-1',
    password: passwordOf('pox-1'),
    reconnectPeriod: 0,
    connectTimeout: 10_000,
  });
  t.teardown(() => device.endAsync(true));
  await device.publishAsync(
    'wardgate/devices/pox-1/obs',
    JSON.stringify({ seq: 1, obs: [{ code: 'spo2', value: 96, unit: '%' }] }),
    { qos: 1 },
  );
  const stored = gateway
    .db!.prepare(
      "SELECT count(*) AS n FROM observations o JOIN devices d ON d.id = o.device WHERE d.device_id = 'pox-1'",
    )
    .get() as { n: number };
  t.equal(stored.n, 1, "the device's reading is stored");
});

t.test(
  'through the real broker: a known device name with a wrong secret is refused no sooner than an unknown name',
  async (t) => {
    const users = await Promise.all(
      ['station', 'nurse-ann'].map(async (name) => ({
        name,
        role: name === 'station' ? 'viewer' : 'nurse',
        secretHash: await hashPassword(passwordOf(name), { logN: 14 }),
      })),
    );
    const { url } = await startTestGateway(t, { extra: { users } });
    await login(url, 'nobody', 'x'); // the gateway measures one check
    const unknown = median(
      await timings(5, async () => t.equal((await login(url, `nobody-${Math.random()}`, 'x')).code, 4)),
    );
    const wrong = median(await timings(5, async () => t.equal((await login(url, 'pox-1', 'not-the-secret')).code, 4)));
    const right = median(
      await timings(5, async () => t.equal((await login(url, 'pox-2', passwordOf('pox-2'))).code, 0)),
    );
    t.ok(wrong > unknown * 0.5, `wrong device secret ${wrong.toFixed(1)} ms, unknown name ${unknown.toFixed(1)} ms`);
    t.ok(right < unknown, `a right secret is not held back (${right.toFixed(1)} ms)`);
  },
);
