import t from 'tap';
import { createRequire } from 'node:module';
import { connectAs, startTestGateway } from '../../helpers/gateway.js';

t.setTimeout(60_000);

// mqtt-packet's cache of every 16-bit number as a Buffer of its own, filled the first time it writes a packet unless told not to.
const numbers = createRequire(import.meta.url)('mqtt-packet/numbers.js') as { cache: Record<number, Buffer> };

t.test('writing PUBACKs and PUBLISHes never fills the 65,536-Buffer number cache (about 7 MiB of heap)', async (t) => {
  const { url } = await startTestGateway(t);
  const device = await connectAs(t, url, 'pox-1');
  const station = await connectAs(t, url, 'station');
  await station.subscribeAsync('wardgate/ward/3B/#', { qos: 1 });
  const delivered = new Promise<Buffer>((resolve) => station.once('message', (_topic, payload) => resolve(payload)));
  await device.publishAsync(
    'wardgate/devices/pox-1/obs',
    JSON.stringify({ seq: 1, obs: [{ code: 'spo2', value: 97, unit: '%' }] }),
    { qos: 1 },
  );
  t.ok((await delivered).length > 0, 'the broker wrote a PUBACK to the device and a PUBLISH to the station');
  t.equal(Object.keys(numbers.cache).length, 0, 'and its numbers were written without the cache');
});
