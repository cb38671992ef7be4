// A serial device whose port opens and is lost at once, again and again (a
// UART whose every read returns 0), through a fake binding: the port is
// retried with backoff and the ward hears of it once, not twice a second.
import t from 'tap';
import type { SerialPortConfig } from '../../../edge/config/schema.js';
import { EventBus } from '../../../edge/bus.js';
import type { Ingestor } from '../../../edge/ingest/ingestor.js';
import { createLogger } from '../../../edge/log.js';
import { createMetrics } from '../../../edge/metrics.js';
import { SerialDevice } from '../../../edge/serial/serialDevice.js';
import { waitFor } from '../../helpers/env.js';
import { fakeSerial } from '../../helpers/fakeSerial.js';

t.setTimeout(30_000);

const port: SerialPortConfig = {
  path: '/dev/ttyFAKE0',
  driver: 'masimo-ascii',
  deviceId: 'pox-1',
  baudRate: 9600,
  dataBits: 8,
  parity: 'none',
  stopBits: 1,
  deviceClock: 'utc',
  maxLineBytes: 1024,
  silentAfterMs: 10_000,
  reopenMinMs: 20,
  reopenMaxMs: 160,
};

t.test('a port lost at every open backs off and is warned about once', async (t) => {
  const records: Array<{ msg: string; code?: string }> = [];
  const log = createLogger('info', { write: (line: string) => void records.push(JSON.parse(line)) });
  const bus = new EventBus(log);
  const disconnects: number[] = [];
  bus.on('device.disconnected', () => void disconnects.push(Date.now()));
  const presence: boolean[] = [];
  const ingestor = {
    presence: (_source: string, _deviceId: string, online: boolean, done: (err: Error | null) => void) => {
      presence.push(online);
      done(null);
    },
  } as unknown as Ingestor;
  const metrics = createMetrics({ unsyncedReadings: () => 0, oldestUnsyncedAgeSeconds: () => 0, mqttClients: () => 0 });
  const fake = fakeSerial();
  const device = new SerialDevice({
    port,
    ingestor,
    bus,
    metrics,
    log,
    lastSeq: undefined,
    maxFutureSkewMs: 60_000,
    binding: fake.binding,
  });
  t.teardown(() => device.stop());
  device.start();
  await waitFor(() => (disconnects.length >= 6 ? true : undefined), 10_000, 'six losses');
  await device.stop();

  const gaps = fake.opens.slice(1, 6).map((at, i) => at - fake.opens[i]);
  t.ok(gaps[4] >= 150 && gaps[4] > gaps[0] * 4, `the gaps between opens grow: ${gaps.join(', ')} ms`);
  const warnings = records.filter((r) => r.code === 'WG_ERR_SERIAL_PORT');
  t.equal(warnings.length, 1, 'the port warned about once');
  t.same(presence, [false], 'the device marked offline once');
});
