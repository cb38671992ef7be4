// A failing disk (EIO on write, EIO on fsync, injected by the power-cut
// harness): nothing is acknowledged that was not made durable, the daemon says
// why and exits (code 1) for the service manager, and a restart on what the
// disk really holds (a power cut's view of it) recovers cleanly: every reading
// acknowledged before is there, and the device's resends are stored once.
import t from 'tap';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import mqtt from 'mqtt';
import { tempDir } from '../helpers/env.js';
import { passwordOf, spawnDaemon, writeTestConfig } from '../helpers/gateway.js';
import { publishAll } from '../helpers/publisher.js';
import { PowerCutDir, type DiskFaults } from './harness.js';

t.setTimeout(120_000);

const DEVICE = 'pox-1';

const cases: Array<[string, DiskFaults, RegExp]> = [
  ['EIO on fsync', { fsyncFails: true }, /the disk failed to sync the database: .*EIO/],
  ['EIO on write', { writeFails: 'EIO' }, /the disk failed a write: .*(disk I\/O error|I\/O)/i],
];

for (const [name, faults, message] of cases) {
  t.test(name, async (t) => {
    const { dir, file } = await writeTestConfig(t);
    const harness = new PowerCutDir(join(dir, 'data'), tempDir(t, 'wardgate-powercut-'));
    const acked = new Set<number>();
    const connect = async (port: number) =>
      mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, {
        clientId: DEVICE,
        username: DEVICE,
        password: passwordOf(DEVICE),
        reconnectPeriod: 0,
      });

    const daemon = await spawnDaemon(t, file, harness.root, harness.env());
    const client = await connect(daemon.run.ports.mqtt!);
    await publishAll(
      client,
      DEVICE,
      Array.from({ length: 50 }, (_, i) => i + 1),
      acked,
    );
    t.equal(acked.size, 50, 'a healthy disk: all acknowledged');

    harness.setFaults(faults);
    await publishAll(
      client,
      DEVICE,
      Array.from({ length: 50 }, (_, i) => i + 51),
      acked,
    );
    t.equal(await daemon.exited, 1, 'the daemon exits with code 1');
    t.equal(acked.size, 50, 'nothing acknowledged once the disk failed');
    t.match(daemon.output(), message, 'and says why');
    await client.endAsync(true);

    // The card is replaced or recovers; what its cache held is gone, as after a power cut.
    harness.setFaults({});
    harness.cut();
    const again = await spawnDaemon(t, file, harness.root, harness.env());
    const device = await connect(again.run.ports.mqtt!);
    await publishAll(
      device,
      DEVICE,
      Array.from({ length: 100 }, (_, i) => i + 1).filter((s) => !acked.has(s)),
      acked,
    );
    t.equal(acked.size, 100, "after the restart the device's resends are acknowledged");
    await device.endAsync(true);
    again.child.kill('SIGTERM');
    t.equal(await again.exited, 0);

    const db = new Database(join(harness.root, 'wardgate.db'), { readonly: true });
    t.teardown(() => db.close());
    t.equal(db.pragma('integrity_check', { simple: true }), 'ok', 'integrity_check ok');
    const rows = db
      .prepare(
        'SELECT o.seq FROM observations o JOIN devices d ON d.id = o.device WHERE d.device_id = ? ORDER BY o.seq',
      )
      .pluck()
      .all(DEVICE) as number[];
    t.same(
      rows,
      Array.from({ length: 100 }, (_, i) => i + 1),
      'every reading stored exactly once',
    );
  });
}
