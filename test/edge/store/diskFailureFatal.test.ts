// A disk that fails to sync alarm events stops the gateway the way a failed
// ingest sync does: through its fatal path (a log line, then the service
// manager's restart), never as an uncaught exception from a background sync.
import t from 'tap';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { Gateway } from '../../../edge/gateway.js';
import { loadConfig } from '../../../edge/config/load.js';
import { createLogger } from '../../../edge/log.js';
import { topics } from '../../../shared/topics.js';
import { waitFor } from '../../helpers/env.js';
import { connectAs, writeTestConfig } from '../../helpers/gateway.js';

t.setTimeout(60_000);

t.test("a failed sync of alarm events goes through the gateway's fatal path", async (t) => {
  const { dir, file } = await writeTestConfig(t);
  const config = loadConfig({ file, env: {} });
  const fatal: Error[] = [];
  const gateway = new Gateway(config, { log: createLogger('silent'), env: {}, onFatal: (err) => fatal.push(err) });
  await gateway.start();
  t.teardown(() => gateway.stop());

  const url = `mqtt://127.0.0.1:${config.mqtt.port}`;
  const nurse = await connectAs(t, url, 'nurse-ann');
  await nurse.subscribeAsync(topics.wardAlarms('3B'), { qos: 1 });
  const raised = new Promise<string>((resolve) =>
    nurse.on('message', (_topic, payload) => {
      const event = JSON.parse(payload.toString()) as { phase?: string; alarmId?: string };
      if (event.phase === 'raised' && event.alarmId) resolve(event.alarmId);
    }),
  );
  const device = await connectAs(t, url, 'pox-1');
  // A critical SpO2 raises an alarm while the disk is healthy.
  await device.publishAsync(
    topics.deviceObs('pox-1'),
    JSON.stringify({ seq: 1, obs: [{ code: 'spo2', value: 80, unit: '%' }] }),
    { qos: 1 },
  );
  const alarmId = await raised;
  t.same(fatal, [], 'a healthy disk: nothing fatal');

  // The WAL vanishes under the gateway; only the alarm store syncs next: for the nurse's acknowledgement.
  rmSync(join(dir, 'data', 'wardgate.db-wal'), { force: true });
  await nurse.publishAsync(topics.wardAlarmAck('3B'), JSON.stringify({ alarmId }), { qos: 1 });

  const first = await waitFor(() => fatal[0], 20_000, 'the fatal path');
  t.match(first.message, /ENOENT/, 'the gateway hears of the failed sync');
});
