import t, { type Test } from 'tap';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { deviceVerifier } from '../../../edge/auth/deviceSecret.js';
import { loadConfig } from '../../../edge/config/load.js';
import { WardgateError } from '../../../shared/errors.js';
import { tempDir } from '../../helpers/env.js';
import { testHash, WARDGATE_BIN } from '../../helpers/gateway.js';

function configError(t: Test, yaml: string, env: NodeJS.ProcessEnv = {}): string {
  const dir = tempDir(t);
  const file = join(dir, 'c.yaml');
  writeFileSync(file, yaml);
  try {
    loadConfig({ file, env });
  } catch (err) {
    t.ok(err instanceof WardgateError && err.code === 'WG_ERR_CONFIG', 'a WG_ERR_CONFIG');
    return (err as Error).message;
  }
  t.fail('expected a config error');
  return '';
}

t.test('no config file: embedded defaults', async (t) => {
  const dir = tempDir(t);
  const config = loadConfig({ env: {}, cwd: dir });
  t.equal(config.mqtt.host, '127.0.0.1');
  t.equal(config.mqtt.port, 1883);
  t.equal(config.http.port, 8080);
  t.equal(config.gateway.dataDir, join(dir, 'data'));
  t.equal(config.mqtt.allowAnonymous, false);
  t.ok(Object.isFrozen(config.mqtt), 'config is frozen');
});

t.test('each config error names the field and what was expected', async (t) => {
  const hash = await testHash('pox-1');
  const cases: Array<[string, string, RegExp]> = [
    ['wrong type', 'mqtt: { port: "x" }', /mqtt\.port: expected a number/],
    ['unknown key', 'mqtt: { prot: 1883 }', /mqtt\.prot: unknown key/],
    ['unknown top-level key', 'wards: 3B', /wards: unknown key/],
    ['out of range', 'http: { port: 70000 }', /http\.port: expected at most 65535/],
    [
      'bad enum',
      `users:\n  - { name: sam, role: doctor, secretHash: "${hash}" }`,
      /users\[0\]\.role: expected one of "viewer", "nurse", "admin"/,
    ],
    ['missing secret', 'devices:\n  - { id: pox-1, bed: "1" }', /devices\[0\]: missing secret/],
    [
      'plain password',
      'devices:\n  - { id: pox-1, secretHash: hunter2 }',
      /devices\[0\]\.secretHash: expected the output of wardgate passwd/,
    ],
    [
      'device verifier for a person',
      `users:\n  - { name: sam, role: nurse, secretHash: "${deviceVerifier('a-person-would-choose-this')}" }`,
      /users\[0\]\.secretHash: a device secret verifier \(sha256\$\.\.\.\) is for devices only/,
    ],
    [
      'bad device id',
      `devices:\n  - { id: "pox 1", secretHash: "${hash}" }`,
      /devices\[0\]\.id: expected 1-64 letters/,
    ],
    [
      'duplicate id',
      `devices:\n  - { id: a, secretHash: "${hash}" }\n  - { id: a, secretHash: "${hash}" }`,
      /devices\[1\]\.id: 'a' is declared twice/,
    ],
    [
      'user shadows device',
      `devices:\n  - { id: a, secretHash: "${hash}" }\nusers:\n  - { name: a, role: viewer, secretHash: "${hash}" }`,
      /users\[0\]\.name: 'a' is declared twice/,
    ],
    [
      'missing env secret',
      'devices:\n  - { id: a, secretHashEnv: POX_A_HASH }',
      /devices\[0\]\.secretHashEnv: environment variable POX_A_HASH is not set/,
    ],
    [
      'two secrets',
      `devices:\n  - { id: a, secretHash: "${hash}", secretHashEnv: X }`,
      /devices\[0\]: give only one of/,
    ],
    ['missing tls key', 'mqtt: { tls: { cert: c.pem } }', /mqtt\.tls\.key: expected a string \(missing\)/],
    [
      'tls files absent',
      'mqtt: { tls: { cert: nope.pem, key: nope.key } }',
      /mqtt\.tls\.cert: cannot read .*nope\.pem \(ENOENT\)/,
    ],
    ['not yaml', 'mqtt: [1, 2', /not valid YAML: .* at line 1, column 12/],
    ['not a mapping', '- 1\n- 2', /expected a mapping/],
    ['required list item field', 'devices:\n  - { bed: "1" }', /devices\[0\]\.id: expected a string \(missing\)/],
  ];
  for (const [name, yaml, want] of cases) t.match(configError(t, yaml), want, name);
});

t.test('several problems are reported together', async (t) => {
  const message = configError(t, 'mqtt: { port: "x" }\nhttp: { port: -1 }');
  t.match(message, /mqtt\.port/);
  t.match(message, /http\.port/);
});

t.test('secrets from env and from 0600 files; a world-readable secret file is refused', async (t) => {
  const dir = tempDir(t);
  const hash = await testHash('pox-1');
  writeFileSync(join(dir, 'pox.hash'), `${hash}\n`, { mode: 0o600 });
  writeFileSync(
    join(dir, 'c.yaml'),
    'devices:\n  - { id: pox-1, secretHashFile: pox.hash }\n  - { id: pox-2, secretHashEnv: POX2 }\n',
  );
  const config = loadConfig({ file: join(dir, 'c.yaml'), env: { POX2: hash } });
  t.same(
    config.devices.map((d) => d.secretHash),
    [hash, hash],
  );

  chmodSync(join(dir, 'pox.hash'), 0o644);
  t.throws(
    () => loadConfig({ file: join(dir, 'c.yaml'), env: { POX2: hash } }),
    /devices\[0\]\.secretHashFile: .* has mode 0644; a secret file must be 0600 or stricter/,
  );
});

t.test('environment overrides, applied before validation', async (t) => {
  const dir = tempDir(t);
  const config = loadConfig({
    env: { WARDGATE_MQTT_PORT: '1999', WARDGATE_WARD: '4A', WARDGATE_DATA_DIR: '/var/lib/wg' },
    cwd: dir,
  });
  t.equal(config.mqtt.port, 1999);
  t.equal(config.ward, '4A');
  t.equal(config.gateway.dataDir, '/var/lib/wg');
  t.throws(() => loadConfig({ env: { WARDGATE_HTTP_PORT: 'eighty' }, cwd: dir }), /http\.port: expected a number/);
});

t.test('anonymous labs may declare devices without secrets', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'c.yaml'), 'mqtt: { allowAnonymous: true }\ndevices:\n  - { id: sim-1 }\n');
  t.equal(loadConfig({ file: join(dir, 'c.yaml'), env: {} }).devices[0].secretHash, '');
});

t.test('wardgate edge with a bad config exits 2 and names the field', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'c.yaml'), 'serial:\n  - { path: /dev/ttyUSB0, baudRate: fast }\nmqtt: { port: "x" }\n');
  const run = spawnSync(process.execPath, [WARDGATE_BIN, 'edge', '--config', join(dir, 'c.yaml')], {
    encoding: 'utf8',
    timeout: 20_000,
  });
  t.equal(run.status, 2);
  t.match(run.stderr, /mqtt\.port: expected a number/);
  t.equal(run.stdout, '');
});

t.test("the hospital links' TLS files: relative to the config file, a readable key refused", async (t) => {
  const dir = tempDir(t);
  for (const name of ['adt.pem', 'adt-key.pem', 'ca.pem', 'ehr.pem', 'ehr-key.pem', 'am.pem', 'am-key.pem']) {
    writeFileSync(join(dir, name), 'PEM');
    chmodSync(join(dir, name), 0o600);
  }
  const file = join(dir, 'c.yaml');
  const yaml = (listenKey: string) =>
    [
      'hl7:',
      '  locations: [{ pointOfCare: 3B }]',
      '  adt: { tls: { cert: adt.pem, key: adt-key.pem, ca: ca.pem } }',
      'ehr: { host: engine.hosp, port: 2575, tls: { ca: ca.pem, cert: ehr.pem, key: ehr-key.pem } }',
      'alarmManager:',
      '  host: nursecall.hosp',
      '  port: 3100',
      '  tls: { ca: ca.pem }',
      `  listen: { port: 3101, tls: { cert: am.pem, key: ${listenKey}, ca: ca.pem } }`,
    ].join('\n');
  writeFileSync(file, yaml('am-key.pem'));
  const config = loadConfig({ file, env: {} });
  t.same(config.hl7?.adt?.tls, { cert: join(dir, 'adt.pem'), key: join(dir, 'adt-key.pem'), ca: join(dir, 'ca.pem') });
  t.same(config.ehr?.tls, { ca: join(dir, 'ca.pem'), cert: join(dir, 'ehr.pem'), key: join(dir, 'ehr-key.pem') });
  t.same(config.alarmManager?.tls, { ca: join(dir, 'ca.pem') });
  t.equal(config.alarmManager?.listen?.tls?.key, join(dir, 'am-key.pem'));

  chmodSync(join(dir, 'ehr-key.pem'), 0o644);
  writeFileSync(file, yaml('missing-key.pem'));
  const message = (() => {
    try {
      loadConfig({ file, env: {} });
      return 'loaded';
    } catch (err) {
      return (err as Error).message;
    }
  })();
  t.match(message, /ehr\.tls\.key: .*ehr-key\.pem has mode 0644; a secret file must be 0600 or stricter/);
  t.match(message, /alarmManager\.listen\.tls\.key: cannot read .*missing-key\.pem \(ENOENT\)/);
});
