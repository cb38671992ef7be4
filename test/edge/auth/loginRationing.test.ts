// Logins cost scrypt only for names that exist, guesses are throttled per
// source address too, and the verifications wait in a bounded line that
// answers "busy" at once when full and skips work nobody waits for any more.
import t from 'tap';
import { Authenticator } from '../../../edge/auth/authenticator.js';
import { LoginThrottle } from '../../../edge/auth/loginThrottle.js';
import { hashPassword } from '../../../edge/auth/password.js';
import { VerificationQueue } from '../../../edge/auth/verificationQueue.js';
import { passwordOf, testHash } from '../../helpers/gateway.js';

const device = async (name: string) => ({ name, kind: 'device' as const, secretHash: await testHash(name) });

t.test('an unknown name costs no scrypt (after one measurement), and answers like a wrong password', async (t) => {
  const queue = new VerificationQueue({ concurrency: 1, maxWaiting: 100 });
  const auth = new Authenticator([await device('pox-1')], new LoginThrottle(), {
    queue,
    addressThrottle: new LoginThrottle({ freeFailures: 1000 }),
  });
  t.same(
    await auth.attempt('nobody-0', 'x', '10.0.0.1'),
    { kind: 'refused' },
    'the first one measures what a check costs',
  );
  const attempts = Array.from({ length: 30 }, (_, i) => auth.attempt(`nobody-${i + 1}`, 'x', '10.0.0.1'));
  t.equal(queue.running + queue.waiting, 0, 'thirty unknown names: no verification running or queued');
  t.same(
    await Promise.all(attempts),
    Array.from({ length: 30 }, () => ({ kind: 'refused' })),
  );
  const real = auth.attempt('pox-1', 'wrong', '10.0.0.1');
  t.equal(queue.running, 1, 'a known name is verified');
  t.same(await real, { kind: 'refused' });
});

t.test('random names from one address lock that address, not the others', async (t) => {
  let now = 0;
  const addressThrottle = new LoginThrottle({ freeFailures: 5, lockMs: 10_000, forgetAfterMs: 60_000, now: () => now });
  const auth = new Authenticator([await device('pox-1')], new LoginThrottle({ now: () => now }), { addressThrottle });
  for (let i = 0; i < 5; i++) await auth.attempt(`guess-${i}`, 'x', '10.6.6.6');
  t.same(
    await auth.attempt('pox-1', passwordOf('pox-1'), '10.6.6.6'),
    { kind: 'refused' },
    'the guessing address waits, even with a right password',
  );
  t.match(
    await auth.attempt('pox-1', passwordOf('pox-1'), '10.0.0.12'),
    { kind: 'accepted' },
    'the device from its own address is not locked out',
  );
  now += 10_001;
  t.match(await auth.attempt('pox-1', passwordOf('pox-1'), '10.6.6.6'), { kind: 'accepted' }, 'after the lock');
});

t.test(
  'failures of an address are forgotten after a quiet while, and a success there does not wipe them',
  async (t) => {
    let now = 0;
    const throttle = new LoginThrottle({ freeFailures: 3, lockMs: 1000, forgetAfterMs: 5000, now: () => now });
    throttle.failed('10.1.1.1');
    throttle.failed('10.1.1.1');
    now += 5001;
    throttle.failed('10.1.1.1');
    t.equal(throttle.waitMs('10.1.1.1'), 0, 'two old failures were forgotten');
    throttle.failed('10.1.1.1');
    throttle.failed('10.1.1.1');
    t.ok(throttle.waitMs('10.1.1.1') > 0, 'three recent ones lock');
  },
);

t.test('a full line answers busy at once, for known and unknown names alike', async (t) => {
  const queue = new VerificationQueue({ concurrency: 1, maxWaiting: 1 });
  const slow = {
    name: 'pump-1',
    kind: 'device' as const,
    secretHash: await hashPassword('pump-1-secret', { logN: 14 }),
  };
  const auth = new Authenticator([slow], new LoginThrottle({ freeFailures: 100 }), { queue });
  await auth.attempt('nobody', 'x', '10.0.0.9'); // measures once
  const first = auth.attempt('pump-1', 'wrong-1', '10.0.0.1');
  const second = auth.attempt('pump-1', 'wrong-2', '10.0.0.2');
  t.ok(queue.full, 'one running, one waiting');
  t.same(await auth.attempt('pump-1', 'pump-1-secret', '10.0.0.3'), { kind: 'busy' });
  t.same(await auth.attempt('nobody-else', 'x', '10.0.0.4'), { kind: 'busy' }, 'an unknown name gets the same answer');
  t.equal(queue.running + queue.waiting, 2, 'answered without queueing a verification');
  t.same(await Promise.all([first, second]), [{ kind: 'refused' }, { kind: 'refused' }]);
  t.match(await auth.attempt('pump-1', 'pump-1-secret', '10.0.0.3'), { kind: 'accepted' }, 'room again');
});

t.test('a verification whose requester went away while it waited is skipped', async (t) => {
  const queue = new VerificationQueue({ concurrency: 1, maxWaiting: 10 });
  let work = 0;
  let release!: () => void;
  const running = queue.run(() => new Promise<string>((resolve) => (release = () => resolve('first'))));
  let wanted = true;
  const waiting = queue.run(
    async () => ++work,
    () => wanted,
  );
  wanted = false; // the connection closed
  release();
  t.equal(await running, 'first');
  t.equal(await waiting, 'abandoned');
  t.equal(work, 0, 'no work done for it');
  t.equal(await queue.run(async () => ++work), 1, 'the next one runs');
});

t.test('the HTTP paths keep their answer: check() gives the principal or undefined', async (t) => {
  const auth = new Authenticator([await device('pox-1')]);
  t.match(await auth.check('pox-1', passwordOf('pox-1'), '127.0.0.1'), { name: 'pox-1' });
  t.equal(await auth.check('pox-1', 'wrong', '127.0.0.1'), undefined);
  t.equal(await auth.check('nobody', 'x', '127.0.0.1'), undefined);
});
