// A full disk (ENOSPC on every write to the data directory, injected by the
// power-cut harness): nothing is acknowledged that is not committed; the
// engineer sees a log line, the wardgate_disk_full gauge and a technical
// alarm; the alarm engine still raises alarms on the readings it cannot store;
// when space returns the daemon recovers by itself, without a restart.
import t from 'tap';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import mqtt, { type MqttClient } from 'mqtt';
import { tempDir, waitFor } from '../helpers/env.js';
import { passwordOf, spawnDaemon, writeTestConfig } from '../helpers/gateway.js';
import { PowerCutDir } from './harness.js';

t.setTimeout(120_000);

const DEVICE = 'pox-1';

/** Publishes one QoS 1 reading; resolves true on PUBACK, false if the connection ends first or nothing comes within `ms`. */
function publish(client: MqttClient, seq: number, sys: number, ms = 3000): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    client.once('close', () => resolve(false));
    const payload = JSON.stringify({
      seq,
      obs: [
        { code: 'spo2', value: 97, unit: '%' },
        { code: 'nibp_sys', value: sys, unit: 'mm[Hg]' },
      ],
    });
    client.publish(`wardgate/devices/${DEVICE}/obs`, payload, { qos: 1 }, (err) => {
      clearTimeout(timer);
      resolve(!err);
    });
  });
}

t.test(
  'a full disk: nothing acknowledged, engineer told, alarms still raised, recovery when space returns',
  async (t) => {
    const { dir, file, httpPort } = await writeTestConfig(t, { extra: { log: { level: 'info' } } });
    const harness = new PowerCutDir(join(dir, 'data'), tempDir(t, 'wardgate-powercut-'));
    const daemon = await spawnDaemon(t, file, harness.root, harness.env());
    const url = `mqtt://127.0.0.1:${daemon.run.ports.mqtt}`;
    const connect = async (name: string) => {
      const c = await mqtt.connectAsync(url, {
        clientId: name,
        username: name,
        password: passwordOf(name),
        reconnectPeriod: 0,
      });
      t.teardown(() => c.endAsync(true));
      return c;
    };
    const events: Array<{ phase: string; rule: string; metric: string | null; kind: string }> = [];
    const station = await connect('station');
    await station.subscribeAsync('wardgate/ward/3B/alarms', { qos: 1 });
    station.on('message', (_topic, body) => events.push(JSON.parse(body.toString())));
    const diskFullGauge = async () => {
      const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
      return Number(/^wardgate_disk_full (\d+)/m.exec(text)?.[1]);
    };

    let device = await connect(DEVICE);
    t.ok(await publish(device, 1, 120), 'a reading is acknowledged while there is space');
    t.equal(await diskFullGauge(), 0);

    harness.setFaults({ writeFails: 'ENOSPC' });
    t.notOk(await publish(device, 2, 75), 'disk full: the critical reading is not acknowledged');
    await waitFor(
      () => events.find((e) => e.phase === 'raised' && e.metric === 'nibp_sys'),
      5000,
      "the critical reading's alarm",
    );
    t.pass('its alarm is raised all the same');
    await waitFor(
      () => events.find((e) => e.phase === 'raised' && e.rule === 'disk-full'),
      5000,
      'the disk-full technical alarm',
    );
    t.pass('a technical alarm says the disk is full');
    t.equal(await diskFullGauge(), 1, 'wardgate_disk_full is 1');
    t.match(daemon.output(), /is full: readings are not stored and not acknowledged/, 'a clear log line');
    t.equal(daemon.child.exitCode, null, 'the daemon keeps running');

    harness.setFaults({});
    if (device.disconnected || !device.connected) device = await connect(DEVICE);
    t.ok(await publish(device, 2, 75), 'space returned: the resent reading is acknowledged, without a restart');
    await waitFor(
      () => events.find((e) => e.phase === 'cleared' && e.rule === 'disk-full'),
      5000,
      'the disk-full alarm to clear',
    );
    t.pass('the technical alarm clears');
    t.equal(await diskFullGauge(), 0, 'wardgate_disk_full is 0 again');

    daemon.child.kill('SIGTERM');
    t.equal(await daemon.exited, 0);
    const db = new Database(join(harness.root, 'wardgate.db'), { readonly: true });
    t.teardown(() => db.close());
    t.same(
      db
        .prepare(
          'SELECT o.seq FROM observations o JOIN devices d ON d.id = o.device WHERE d.device_id = ? ORDER BY o.seq',
        )
        .pluck()
        .all(DEVICE),
      [1, 2],
      'both readings stored, once',
    );
  },
);
