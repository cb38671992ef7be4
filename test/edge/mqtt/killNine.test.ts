// The durability promise: a reading whose PUBACK reached the device is stored,
// exactly once, even when the daemon is killed with SIGKILL at any moment.
import t from 'tap';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import mqtt, { type MqttClient } from 'mqtt';
import { writeTestConfig, spawnDaemon, passwordOf } from '../../helpers/gateway.js';
import { publishAll } from '../../helpers/publisher.js';

t.setTimeout(170_000);

const DEVICES = ['bed1-pox', 'bed2-pox', 'bed3-mon', 'bed4-mon'];
const PER_ROUND = 1200; // messages per device per round, two readings each
const WINDOW = 20; // QoS 1 messages in flight per device

async function connect(port: number, deviceId: string): Promise<MqttClient> {
  return mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, {
    clientId: deviceId,
    username: deviceId,
    password: passwordOf(deviceId),
    reconnectPeriod: 0,
    connectTimeout: 10_000,
  });
}

t.test('every PUBACKed reading survives kill -9 at random moments, stored exactly once', async (t) => {
  const { dir, file, mqttPort } = await writeTestConfig(t, {
    devices: DEVICES.map((id, i) => ({ id, bed: String(i + 1) })),
  });
  const dataDir = join(dir, 'data');
  const acked = new Map(DEVICES.map((d) => [d, new Set<number>()]));
  const sent = new Map(DEVICES.map((d) => [d, [] as number[]]));
  const rounds = 3;

  for (let round = 0; round <= rounds; round++) {
    const daemon = await spawnDaemon(t, file, dataDir);
    const clients = await Promise.all(DEVICES.map((d) => connect(mqttPort, d)));
    // Resend everything not yet acknowledged (as a device's outbox would), then new readings.
    const work = DEVICES.map((d, i) => {
      const fresh = round < rounds ? Array.from({ length: PER_ROUND }, (_, k) => round * PER_ROUND + k + 1) : [];
      sent.get(d)!.push(...fresh);
      const pending = sent.get(d)!.filter((s) => !acked.get(d)!.has(s));
      return publishAll(clients[i], d, pending, acked.get(d)!, WINDOW);
    });
    if (round < rounds) {
      const killAfter = 50 + Math.floor(Math.random() * 600);
      await new Promise((r) => setTimeout(r, killAfter));
      const before = [...acked.values()].reduce((n, s) => n + s.size, 0);
      daemon.child.kill('SIGKILL');
      t.equal(
        await daemon.exited,
        'SIGKILL',
        `round ${round}: killed after ${killAfter} ms with ${before} messages acknowledged so far`,
      );
    } else {
      await Promise.all(work);
      daemon.child.kill('SIGTERM');
      t.equal(await daemon.exited, 0, 'the last run stops cleanly on SIGTERM');
    }
    await Promise.all(work);
    await Promise.all(clients.map((c) => c.endAsync(true)));

    // After every kill: each acknowledged message is stored, and nothing twice.
    const db = new Database(join(dataDir, 'wardgate.db'), { readonly: true });
    const stored = db
      .prepare(
        'SELECT d.device_id AS device, r.seq AS seq, count(*) AS n FROM readings r JOIN devices d ON d.id = r.device GROUP BY r.device, r.seq',
      )
      .all() as Array<{ device: string; seq: number; n: number }>;
    db.close();
    const have = new Map(DEVICES.map((d) => [d, new Map<number, number>()]));
    for (const row of stored) have.get(row.device)!.set(row.seq, row.n);
    let missing = 0;
    let twice = 0;
    for (const d of DEVICES) {
      for (const seq of acked.get(d)!) if (!have.get(d)!.has(seq)) missing++;
      for (const n of have.get(d)!.values()) if (n !== 2) twice++;
    }
    t.equal(missing, 0, `round ${round}: no acknowledged message lost`);
    t.equal(twice, 0, `round ${round}: no message stored twice`);
  }

  const total = DEVICES.length * rounds * PER_ROUND;
  t.equal(
    [...acked.values()].reduce((n, s) => n + s.size, 0),
    total,
    'in the end every message was acknowledged',
  );
  const db = new Database(join(dataDir, 'wardgate.db'), { readonly: true });
  t.equal(
    (db.prepare('SELECT count(*) AS n FROM readings').get() as { n: number }).n,
    total * 2,
    'and stored exactly once',
  );
  t.equal(
    (db.prepare("SELECT value FROM counters WHERE name = 'readings'").get() as { value: number }).value,
    total * 2,
    'the counter agrees',
  );
  db.close();
});
