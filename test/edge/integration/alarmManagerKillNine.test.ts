// Kill -9 with alarm reports owed to a manager that is down: after the
// restart, the manager (played by @medplum/hl7) receives a report for every
// recorded alarm event, each exactly once, in order per alarm. The kill
// lands at random moments of a burst of alarms, so some runs cut between an
// event's record and its report's queueing.
import t from 'tap';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import mqtt from 'mqtt';
import { freePort } from '../../helpers/env.js';
import { passwordOf, spawnDaemon, spawnWardgate, writeTestConfig } from '../../helpers/gateway.js';
import { InterfaceEngine } from '../../helpers/interfaceEngine.js';

t.setTimeout(170_000);

const alarms = {
  limits: {
    spo2: { low: 85, priority: 'high', delayMs: 0 },
    pr: { high: 130, low: 40, priority: 'medium', delayMs: 0 },
  },
  // No device-silent alarms while the daemon is down between runs, no escalations on a slow machine: the events are the test's own.
  technical: { silentAfterMs: 0 },
  escalation: { high: 0, medium: 0 },
};

t.test('every alarm event recorded before a kill -9 reaches the manager once after the restart', async (t) => {
  const managerPort = await freePort();
  const { dir, file } = await writeTestConfig(t, {
    extra: {
      alarms,
      alarmManager: {
        host: '127.0.0.1',
        port: managerPort,
        retryMinMs: 100,
        retryMaxMs: 300,
        connectTimeoutMs: 300,
        ackTimeoutMs: 2000,
        unreachableAlarmMs: 0,
      },
    },
  });
  const dataDir = join(dir, 'data');
  let seq = 1;
  const rounds = 3;
  for (let round = 0; round < rounds; round++) {
    const daemon = await spawnDaemon(t, file, dataDir);
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${daemon.run.ports.mqtt}`, {
      clientId: 'pox-1',
      username: 'pox-1',
      password: passwordOf('pox-1'),
      reconnectPeriod: 0,
    });
    client.on('error', () => {});
    // A burst of pulse alarms raised and cleared, and one SpO2 alarm that latches: events for the manager, which is down.
    const burst: Array<Promise<unknown>> = [];
    for (let i = 0; i < 20; i++) {
      burst.push(
        client.publishAsync(
          'wardgate/devices/pox-1/obs',
          JSON.stringify({
            seq: seq++,
            obs: [
              { code: 'pr', value: i % 2 ? 70 : 150, unit: '/min' },
              { code: 'spo2', value: i === 10 ? 80 : 96, unit: '%' },
            ],
          }),
          { qos: 1 },
        ),
      );
    }
    const after = round === rounds - 1 ? 500 : Math.floor(Math.random() * 40);
    await Promise.race([Promise.allSettled(burst), new Promise((r) => setTimeout(r, after))]);
    await new Promise((r) => setTimeout(r, after));
    daemon.child.kill('SIGKILL');
    t.equal(await daemon.exited, 'SIGKILL', `round ${round}: killed ${after} ms into a burst`);
    client.end(true);
  }

  const db = new Database(join(dataDir, 'wardgate.db'), { readonly: true });
  t.teardown(() => db.close());
  const events = db.prepare('SELECT id, alarm_id AS alarmId FROM alarm_events ORDER BY id').all() as Array<{
    id: number;
    alarmId: string;
  }>;
  const queued = db
    .prepare("SELECT count(*) FROM outbound_messages WHERE link = 'alarm-manager'")
    .pluck()
    .get() as number;
  t.ok(events.length >= 20, `${events.length} alarm events recorded, ${queued} reports queued when the last kill came`);
  db.close();

  // What the operator sees meanwhile: the link, down, with its queue.
  const status = spawnWardgate(t, ['status', '--json', '--config', file]);
  t.equal(await status.exited, 0);
  const link = (
    JSON.parse(status.output()) as {
      outbound?: Array<{ link: string; queued: number; connected: boolean; lastError: string | null }>;
    }
  ).outbound?.find((o) => o.link === 'alarm-manager');
  t.match(
    link,
    { queued, connected: false, lastError: /network|timeout/ },
    'wardgate status shows the alarm manager link and its queue',
  );

  const engine = await InterfaceEngine.start(t, { port: managerPort });
  const daemon = await spawnDaemon(t, file, dataDir);
  await engine.waitForCount(events.length, 30_000);
  await new Promise((r) => setTimeout(r, 500));
  const received = engine.received.map((r) => r.controlId);
  t.equal(received.length, events.length, 'as many reports as events, none twice');
  t.same(
    [...new Set(received)].sort(),
    events.map((e) => `WGA${e.id}`).sort(),
    'one report per recorded event, named by its seq',
  );
  const byAlarm = new Map<string, number[]>();
  for (const r of engine.received) {
    const alarmId = r.message.getSegment('OBR')!.getComponent(3, 1);
    byAlarm.set(alarmId, [...(byAlarm.get(alarmId) ?? []), Number(r.controlId.slice(3))]);
  }
  for (const [alarmId, seqs] of byAlarm)
    t.same(
      seqs,
      [...seqs].sort((a, b) => a - b),
      `alarm ${alarmId.slice(0, 8)}: its events in order`,
    );
  daemon.child.kill('SIGTERM');
  t.equal(await daemon.exited, 0);
});
