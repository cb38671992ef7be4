// `wardgate simulate --lean`: the ward's MQTT monitors on lean raw-socket
// connections, against a real daemon: every message acknowledged and stored,
// and the simulator prints its own CPU.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { passwordOf, spawnDaemon, WARDGATE_BIN, writeTestConfig } from '../helpers/gateway.js';

t.setTimeout(120_000);

t.test("20 beds over lean connections: all acknowledged and stored, with the simulator's CPU printed", async (t) => {
  const ids = Array.from({ length: 20 }, (_, i) => `mon-${i + 1}`);
  const { dir, file, mqttPort } = await writeTestConfig(t, {
    devices: ids.map((id, i) => ({ id, bed: String(i + 1) })),
  });
  const daemon = await spawnDaemon(t, file, join(dir, 'data'));
  const credentials = join(dir, 'credentials.json');
  writeFileSync(credentials, JSON.stringify(Object.fromEntries(ids.map((id) => [id, passwordOf(id)]))), {
    mode: 0o600,
  });
  const run = spawnSync(
    process.execPath,
    [
      WARDGATE_BIN,
      'simulate',
      '--beds',
      '20',
      '--lean',
      '--duration',
      '4s',
      '--credentials',
      credentials,
      '--mqtt',
      `mqtt://127.0.0.1:${mqttPort}`,
      '--dir',
      join(dir, 'sim'),
    ],
    { encoding: 'utf8', timeout: 60_000 },
  );
  t.equal(run.status, 0, run.stderr);
  const [, acked, lost] = /(\d+) messages acknowledged .*?, (\d+) refused or lost/.exec(run.stdout) ?? [];
  t.ok(Number(acked) >= 20 * 3, `${acked} acknowledged`);
  t.equal(Number(lost), 0);
  t.match(run.stdout, /simulator CPU \d+(\.\d)? % of a core/);
  const status = JSON.parse(
    spawnSync(process.execPath, [WARDGATE_BIN, 'status', '--config', file, '--json'], {
      encoding: 'utf8',
      timeout: 30_000,
    }).stdout,
  ) as { devices: Array<{ id: string }> };
  t.equal(status.devices.filter((d) => ids.includes(d.id)).length, 20, "every bed's monitor was heard");
  daemon.child.kill('SIGTERM');
  await daemon.exited;
});
