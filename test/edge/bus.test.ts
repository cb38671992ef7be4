// The bus between the daemon's features: the alarm engine hears an event
// before the features that read what it made of it, whatever the order they
// registered in; a daemon that stops leaves no listener behind.
import t from 'tap';
import { EventBus } from '../../edge/bus.js';
import { createLogger } from '../../edge/log.js';
import { freePort } from '../helpers/env.js';
import { startTestGateway } from '../helpers/gateway.js';

t.test("'state' listeners run before 'react' ones, each stage in the order it registered", async (t) => {
  const bus = new EventBus(createLogger('silent'));
  const heard: string[] = [];
  bus.on('patient.changed', () => heard.push('react 1'));
  bus.on('patient.changed', () => heard.push('state 1'), 'state');
  bus.on('patient.changed', () => heard.push('react 2'));
  const off = bus.on('patient.changed', () => heard.push('state 2'), 'state');
  bus.emit('patient.changed', { bed: '1' });
  t.same(heard, ['state 1', 'state 2', 'react 1', 'react 2']);
  off();
  heard.length = 0;
  bus.emit('patient.changed', { bed: '1' });
  t.same(heard, ['state 1', 'react 1', 'react 2'], 'a removed listener is not heard again');
  t.equal(bus.listenerCount('patient.changed'), 3);
});

t.test('a listener that throws does not keep the event from the others', async (t) => {
  const bus = new EventBus(createLogger('silent'));
  const heard: string[] = [];
  bus.on(
    'patient.changed',
    () => {
      throw new Error('broken listener');
    },
    'state',
  );
  bus.on('patient.changed', ({ bed }) => heard.push(bed));
  bus.emit('patient.changed', { bed: '4' });
  t.same(heard, ['4']);
});

t.test('a stopped gateway, sync included, leaves no listener on the bus', async (t) => {
  // A cloud nobody answers at: the sync is built and started, and retries.
  const cloud = `http://127.0.0.1:${await freePort()}`;
  const { gateway } = await startTestGateway(t, {
    env: { WG_CLOUD: 'edge-secret', WG_WARD: 'ward-secret' },
    extra: { cloud: { url: cloud, secretEnv: 'WG_CLOUD', wardSecretEnv: 'WG_WARD', requestTimeoutMs: 400 } },
  });
  t.ok(gateway.bus.listenerCount('ingest.committed') > 0, 'features listen while the gateway runs');
  await gateway.stop();
  t.equal(gateway.bus.listenerCount(), 0, 'every listener removed at stop');
});
