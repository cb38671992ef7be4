// A floor's devices all connecting at once after a restart: with minted
// device secrets every one is admitted at its first CONNECT and streams
// within seconds; with scrypt hashes (the old configuration) the same storm
// overflows the rationed line and devices are told "server unavailable".
import t, { type Test } from 'tap';
import { join } from 'node:path';
import { runStorm } from '../../../simulators/storm.js';
import { passwordOf, spawnDaemon, testHash, writeTestConfig } from '../../helpers/gateway.js';

t.setTimeout(180_000);

const DEVICES = 200;
const ids = Array.from({ length: DEVICES }, (_, i) => `mon-${i + 1}`);

async function stormAfterStart(t: Test, scrypt: boolean) {
  const devices = ids.map((id, i) => ({ id, bed: String(i + 1) }));
  const extra = scrypt
    ? { devices: await Promise.all(devices.map(async (d) => ({ ...d, secretHash: await testHash(d.id) }))) }
    : {};
  const { dir, file, mqttPort } = await writeTestConfig(t, { devices, extra });
  const daemon = await spawnDaemon(t, file, join(dir, 'data'));
  const result = await runStorm({
    port: mqttPort,
    devices: ids.map((id) => ({ id, password: passwordOf(id) })),
    deadlineMs: 60_000,
  });
  for (const c of result.connections) c.end();
  daemon.child.kill('SIGTERM');
  await daemon.exited;
  return result;
}

t.test(`${DEVICES} devices with minted secrets: all admitted at once, all streaming within seconds`, async (t) => {
  const result = await stormAfterStart(t, false);
  t.equal(result.streaming, DEVICES, 'every device streams');
  t.equal(result.attempts, DEVICES, 'each at its first CONNECT');
  t.equal(result.serverUnavailable, 0);
  t.equal(result.timeouts, 0);
  t.ok(
    result.allStreamingMs! < 10_000,
    `all streaming after ${Math.round(result.allStreamingMs!)} ms (bound 10 s; about 0.5 s on an idle machine)`,
  );
});

t.test(
  `${DEVICES} devices with scrypt hashes: the rationed line tells the overflow "server unavailable" at once`,
  async (t) => {
    const result = await stormAfterStart(t, true);
    t.equal(result.streaming, DEVICES, 'every device streams in the end');
    t.ok(result.serverUnavailable > 0, `${result.serverUnavailable} CONNACK 3 answers`);
    t.equal(result.timeouts, 0, 'none left waiting until its timeout');
  },
);
