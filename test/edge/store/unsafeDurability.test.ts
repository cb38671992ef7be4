// The power-cut tests' control switch (edge/store/unsafeDurability.ts) is
// refused wherever the daemon could be serving a ward.
import t from 'tap';
import { refusalOfUnsafeDurability, UNSAFE_DURABILITY_ENV } from '../../../edge/store/unsafeDurability.js';
import { spawnWardgate, writeTestConfig } from '../../helpers/gateway.js';

const LOOPBACK = ['127.0.0.1', undefined, '127.0.0.1', undefined];

t.test('when the switch is refused', async (t) => {
  const cases: Array<[string, NodeJS.ProcessEnv, ReadonlyArray<string | undefined>, RegExp | null]> = [
    ['unset', {}, ['0.0.0.0'], null],
    ['a test on loopback', { [UNSAFE_DURABILITY_ENV]: 'off' }, LOOPBACK, null],
    ['skip-wal-sync on loopback', { [UNSAFE_DURABILITY_ENV]: 'skip-wal-sync' }, ['localhost', '::1'], null],
    ['an unknown value', { [UNSAFE_DURABILITY_ENV]: 'yes' }, LOOPBACK, /must be skip-wal-sync, off or unset/],
    [
      'NODE_ENV=production',
      { [UNSAFE_DURABILITY_ENV]: 'off', NODE_ENV: 'production' },
      LOOPBACK,
      /NODE_ENV=production/,
    ],
    ['under systemd', { [UNSAFE_DURABILITY_ENV]: 'off', INVOCATION_ID: 'abc' }, LOOPBACK, /service manager/],
    [
      'with a notify socket',
      { [UNSAFE_DURABILITY_ENV]: 'off', NOTIFY_SOCKET: '/run/systemd/notify' },
      LOOPBACK,
      /service manager/,
    ],
    [
      'listening on the ward network',
      { [UNSAFE_DURABILITY_ENV]: 'off' },
      ['127.0.0.1', '0.0.0.0'],
      /listener on 0\.0\.0\.0/,
    ],
  ];
  for (const [name, env, listeners, refused] of cases) {
    const refusal = refusalOfUnsafeDurability(env, listeners);
    if (refused) t.match(refusal, refused, name);
    else t.equal(refusal, null, name);
  }
});

t.test('wardgate edge exits with a configuration error instead of running without durability', async (t) => {
  const { file } = await writeTestConfig(t, { extra: { mqtt: { host: '0.0.0.0', port: 0 } } });
  const daemon = spawnWardgate(t, ['edge', '--config', file], { [UNSAFE_DURABILITY_ENV]: 'off' });
  t.equal(await daemon.exited, 2, 'exit code 2: a restart will not fix it');
  t.match(daemon.output(), /WARDGATE_TEST_UNSAFE_DURABILITY is refused with a listener on 0\.0\.0\.0/);
});
