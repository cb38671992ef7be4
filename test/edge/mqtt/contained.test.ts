// An exception inside the broker's publish hook refuses that one message (a
// dead letter with WG_ERR_INTERNAL, acknowledged, counted) and never reaches
// the process: the same connection's next message is stored. The fault is
// injected into ingest, once, for one device.
import t from 'tap';
import { Authenticator } from '../../../edge/auth/authenticator.js';
import { EventBus } from '../../../edge/bus.js';
import { loadConfig } from '../../../edge/config/load.js';
import { CommitQueue, syncCommitter, type CommitCallback } from '../../../edge/ingest/commitQueue.js';
import { Ingestor, type RawMessage } from '../../../edge/ingest/ingestor.js';
import { createLogger } from '../../../edge/log.js';
import { createMetrics } from '../../../edge/metrics.js';
import { MqttBroker } from '../../../edge/mqtt/broker.js';
import { openDatabase } from '../../../edge/store/database.js';
import { IngestStore } from '../../../edge/store/ingestStore.js';
import { tempDir } from '../../helpers/env.js';
import { connectAs, writeTestConfig } from '../../helpers/gateway.js';

/** Ingest whose first observation from `deviceId` throws, as a bug in a validator would. */
class IngestorFailingOnce extends Ingestor {
  #failed = false;
  constructor(
    queue: CommitQueue,
    store: IngestStore,
    readonly deviceId: string,
  ) {
    super(
      queue,
      { isDeclared: (id) => store.isDeclared(id) },
      { maxFutureSkewMs: 60_000, acceptUnknownDevices: false, maxMessageBytes: 16_384 },
    );
  }

  override observation(msg: RawMessage, done: CommitCallback): void {
    if (msg.deviceId === this.deviceId && !this.#failed) {
      this.#failed = true;
      throw new TypeError('injected failure');
    }
    super.observation(msg, done);
  }
}

t.test(
  'an exception in the publish hook dead-letters that message, acknowledges it, and the connection goes on',
  async (t) => {
    const { file } = await writeTestConfig(t);
    const config = loadConfig({ file, env: {} });
    const db = openDatabase(tempDir(t));
    t.teardown(() => db.close());
    const store = new IngestStore(db);
    store.declareDevices(config.devices.map((d) => ({ id: d.name, ...(d.bed !== undefined && { bed: d.bed }) })));
    const log = createLogger('silent');
    const metrics = createMetrics({
      unsyncedReadings: () => 0,
      oldestUnsyncedAgeSeconds: () => 0,
      mqttClients: () => 0,
    });
    const broker = new MqttBroker({
      config,
      auth: new Authenticator([...config.devices, ...config.users]),
      ingestor: new IngestorFailingOnce(new CommitQueue(syncCommitter((items) => store.commit(items))), store, 'pox-1'),
      bus: new EventBus(log),
      metrics,
      log,
    });
    await broker.start();
    t.teardown(() => broker.stop());
    const device = await connectAs(t, `mqtt://127.0.0.1:${broker.ports.mqtt}`, 'pox-1');
    await device.publishAsync(
      'wardgate/devices/pox-1/obs',
      JSON.stringify({ seq: 1, obs: [{ code: 'spo2', value: 97, unit: '%' }] }),
      { qos: 1 },
    );
    t.match(
      db.prepare('SELECT reason, device_id FROM dead_letters').all(),
      [{ reason: 'WG_ERR_INTERNAL', device_id: 'pox-1' }],
      'kept for review',
    );
    t.equal((await metrics.handlerErrors.get()).values.find((v) => v.labels.stage === 'publish')?.value, 1, 'counted');
    await device.publishAsync(
      'wardgate/devices/pox-1/obs',
      JSON.stringify({ seq: 2, obs: [{ code: 'spo2', value: 96, unit: '%' }] }),
      { qos: 1 },
    );
    t.equal(
      (db.prepare('SELECT count(*) AS n FROM observations').get() as { n: number }).n,
      1,
      'the next message is stored',
    );
    t.ok(device.connected, 'on the same connection');
  },
);
