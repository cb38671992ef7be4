// The main thread's CPU per device message on the ingest path, in process:
// a floor of beds (each a monitor sending 8 metrics once a second of a
// simulated clock) through the real ingestor, ingest queue and metrics, alarm
// engine and retained bed vitals; the store and the broker are left out (a
// synchronous committer that files each item under its device's bed, and a
// publisher that only serializes). Each bed sends a critical systolic pressure
// once a minute, the next message clears it, as in bench/floor.ts.
//
//   node dist/bench/mainThread.js [beds=1000] [seconds=60]
//   node --cpu-prof dist/bench/mainThread.js   (where the time goes)
import { fileURLToPath } from 'node:url';
import { BedVitalsPublisher } from '../edge/alarms/bedVitalsPublisher.js';
import { alarmConfigSchema } from '../edge/alarms/config.js';
import { AlarmEngine } from '../edge/alarms/engine.js';
import { eventView, type Publisher } from '../edge/alarms/outputs.js';
import { EventBus } from '../edge/bus.js';
import { syncCommitter } from '../edge/ingest/commitQueue.js';
import { Ingestor } from '../edge/ingest/ingestor.js';
import { ingestQueue } from '../edge/ingest/ingestQueue.js';
import { createLogger } from '../edge/log.js';
import { createMetrics } from '../edge/metrics.js';
import { monitorVitals } from './monitorVitals.js';

/** Messages handled per turn of the event loop: about what a 3 ms group commit gathers at 1,000 beds. */
const PER_TURN = 3;

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

export interface MainThreadFigures {
  beds: number;
  messages: number;
  /** Main-thread CPU (user + system) per message, microseconds. */
  usPerMessage: number;
  alarmEvents: number;
  vitalsPublishes: number;
}

export async function mainThreadRun(beds = 1000, seconds = 60): Promise<MainThreadFigures> {
  const log = createLogger('silent');
  const bus = new EventBus(log);
  const metrics = createMetrics({ unsyncedReadings: () => 0, oldestUnsyncedAgeSeconds: () => 0, mqttClients: () => 0 });
  let now = Date.parse('2026-11-27T00:00:00Z');
  const bedOf = new Map(Array.from({ length: beds }, (_, i) => [`mon-${i + 1}`, String(i + 1)]));
  let alarmEvents = 0;
  let vitalsPublishes = 0;
  const publisher: Publisher = {
    publish: (_topic, payload) => {
      vitalsPublishes++;
      JSON.stringify(payload);
    },
  };
  const engine = new AlarmEngine({
    config: alarmConfigSchema.parse({}),
    devices: [...bedOf].map(([id, bed]) => ({ id, bed })),
    bus,
    patients: { atBed: () => undefined, get: () => undefined },
    sinks: [{ name: 'mqtt', onEvent: (event) => void (alarmEvents++, JSON.stringify(eventView(event))) }],
    log,
    clock: { now: () => now, every: () => () => {} },
  });
  await engine.start();
  const queue = ingestQueue(
    syncCommitter((items) =>
      items.map((item) => ({
        item,
        result:
          item.kind === 'obs'
            ? { outcome: 'stored' as const, readings: item.readings.length, bed: bedOf.get(item.deviceId)! }
            : { outcome: 'status' as const },
      })),
    ),
    { bus, metrics, log },
  );
  const vitalsOut = new BedVitalsPublisher('floor', engine, publisher, 0);
  bus.on('ingest.committed', (items) => {
    for (const { item, result } of items)
      if (item.kind === 'obs' && result.outcome === 'stored' && result.bed) vitalsOut.changed(result.bed);
  });
  const ingestor = new Ingestor(
    queue,
    { isDeclared: (id) => bedOf.has(id) },
    { maxFutureSkewMs: 5000, acceptUnknownDevices: false, maxMessageBytes: 65536 },
    () => now,
  );
  const done = () => {};

  const run = async (fromSecond: number, toSecond: number) => {
    const start = now;
    for (let s = fromSecond; s < toSecond; s++) {
      for (let b = 0; b < beds; b += PER_TURN) {
        for (let i = b; i < Math.min(beds, b + PER_TURN); i++) {
          // Each bed at its own phase within the second.
          now = start + (s - fromSecond) * 1000 + Math.floor((i * 1000) / beds);
          const critical = (s + i) % 60 === 0;
          ingestor.observation(
            {
              source: 'mqtt',
              deviceId: `mon-${i + 1}`,
              payload: monitorVitals(s + 1, critical ? 80 : 120, now),
              topic: `wardgate/devices/mon-${i + 1}/obs`,
            },
            done,
          );
        }
        await turn();
      }
      now = start + (s - fromSecond + 1) * 1000;
      engine.tick();
    }
    await turn();
    await turn();
  };

  // Warm-up: every bed tracked, the code optimized.
  const warm = Math.min(20, Math.ceil(seconds / 3));
  await run(0, warm);
  const cpu = process.cpuUsage();
  const countedFrom = { alarms: alarmEvents, publishes: vitalsPublishes };
  await run(warm, warm + seconds);
  const used = process.cpuUsage(cpu);
  vitalsOut.stop();
  await engine.stop();
  await queue.stop();
  const messages = beds * seconds;
  return {
    beds,
    messages,
    usPerMessage: (used.user + used.system) / messages,
    alarmEvents: alarmEvents - countedFrom.alarms,
    vitalsPublishes: vitalsPublishes - countedFrom.publishes,
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const beds = Number(process.argv[2] ?? 1000);
  const seconds = Number(process.argv[3] ?? 60);
  const f = await mainThreadRun(beds, seconds);
  console.log(
    `${f.beds} beds, ${f.messages} messages: ${f.usPerMessage.toFixed(1)} us of main-thread CPU a message ` +
      `(${f.alarmEvents} alarm events, ${f.vitalsPublishes} bed vitals publishes)`,
  );
}
