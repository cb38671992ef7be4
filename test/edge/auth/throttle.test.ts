// Password guessing is throttled on every path that checks a password (MQTT,
// the API's HTTP Basic, the dashboard), per name and source address.
import t from 'tap';
import { Authenticator } from '../../../edge/auth/authenticator.js';
import { LoginThrottle } from '../../../edge/auth/loginThrottle.js';
import { connectAs, passwordOf, startTestGateway, testHash } from '../../helpers/gateway.js';

t.test(
  'after repeated failures a name from one address is refused at once, even with the right password',
  async (t) => {
    let now = 0;
    const auth = new Authenticator(
      [{ name: 'pox-1', kind: 'device', secretHash: await testHash('pox-1') }],
      new LoginThrottle({ freeFailures: 3, lockMs: 10_000, now: () => now }),
    );
    for (let i = 0; i < 3; i++) t.equal(await auth.check('pox-1', 'guess', '10.9.9.9'), undefined);
    t.equal(
      await auth.check('pox-1', passwordOf('pox-1'), '10.9.9.9'),
      undefined,
      'locked: the right password from the guessing address waits',
    );
    t.ok(
      await auth.check('pox-1', passwordOf('pox-1'), '127.0.0.1'),
      'the real device, from its own address, is not locked out',
    );
    now += 10_001;
    t.ok(await auth.check('pox-1', passwordOf('pox-1'), '10.9.9.9'), 'after the lock, the right password works');
  },
);

t.test('through the real broker and the API', async (t) => {
  const { url, config } = await startTestGateway(t);
  for (let i = 0; i < 5; i++) await t.rejects(connectAs(t, url, 'nurse-ann', { password: 'wrong' }));
  await t.rejects(connectAs(t, url, 'nurse-ann'), /Bad username or password/, 'MQTT: locked after five failures');
  const basic = `Basic ${Buffer.from(`nurse-ann:${passwordOf('nurse-ann')}`).toString('base64')}`;
  t.equal(
    (await fetch(`http://127.0.0.1:${config.http.port}/api/alarms`, { headers: { authorization: basic } })).status,
    401,
    'the API too, from the same address',
  );
});
