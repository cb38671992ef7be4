// Retained bed vitals are coalesced: whatever the number of readings, each
// changed bed goes out at most once per interval, all changed beds together,
// with the newest state; the first change after a quiet interval goes at once.
import t from 'tap';
import { setTimeout as sleep } from 'node:timers/promises';
import { BedVitalsPublisher } from '../../../edge/alarms/bedVitalsPublisher.js';
import { alarmHarness } from '../../helpers/alarms.js';

interface Sent {
  topic: string;
  payload: { bed: string; vitals: Record<string, { value: number }> };
  at: number;
}

function setup(intervalMs: number) {
  const devices = Array.from({ length: 50 }, (_, i) => ({ id: `mon-${i + 1}`, bed: String(i + 1) }));
  const h = alarmHarness({}, devices);
  const sent: Sent[] = [];
  const publisher = {
    publish: (topic: string, payload: unknown) =>
      void sent.push({ topic, payload: payload as Sent['payload'], at: performance.now() }),
  };
  const vitals = new BedVitalsPublisher('3B', h.engine, publisher, intervalMs);
  const reading = (i: number, pr: number) => {
    h.obs(`mon-${i + 1}`, { spo2: 97, pr });
    vitals.changed(String(i + 1));
  };
  return { sent, vitals, reading };
}

t.test(
  'ten readings per bed within an interval make one retained publish per bed, with the newest values',
  async (t) => {
    const { sent, vitals, reading } = setup(200);
    t.teardown(() => vitals.stop());
    reading(0, 60);
    await sleep(20);
    t.equal(sent.length, 1, 'the first change after a quiet interval goes out at once');
    for (let round = 1; round <= 10; round++) for (let i = 0; i < 50; i++) reading(i, 60 + round);
    t.equal(sent.length, 1, 'nothing more before the interval has passed');
    await sleep(400);
    const after = sent.slice(1);
    t.equal(after.length, 50, '500 readings of 50 beds: 50 publishes');
    t.equal(new Set(after.map((s) => s.topic)).size, 50, 'one per bed');
    t.ok(
      after.every((s) => s.payload.vitals.pr.value === 70),
      'each with its newest pulse',
    );
    t.ok(after[0].at - sent[0].at >= 150, 'a bed is not published again within the interval');
    t.ok(after[after.length - 1].at - after[0].at < 50, 'the changed beds go out together');
  },
);

t.test('a bed that did not change is not published again', async (t) => {
  const { sent, vitals, reading } = setup(50);
  t.teardown(() => vitals.stop());
  reading(3, 70);
  await sleep(200);
  t.equal(sent.length, 1);
  t.equal(sent[0].topic, 'wardgate/ward/3B/beds/4/vitals');
});

t.test('a flush of many beds goes out a slice at a time, each in its own turn of the event loop', async (t) => {
  const { sent, vitals, reading } = setup(50);
  t.teardown(() => vitals.stop());
  const turns: number[] = [];
  const original = sent.push.bind(sent);
  sent.push = (...items: Sent[]) => {
    const n = original(...items);
    if (n === 1 || n === 26) process.nextTick(() => turns.push(sent.length));
    return n;
  };
  for (let i = 0; i < 50; i++) reading(i, 80);
  await sleep(200);
  t.equal(sent.length, 50, 'every bed');
  t.same(turns, [25, 50], 'two turns of 25');
});

t.test('each metric carries the time of its own latest reading, in ISO 8601', async (t) => {
  const devices = [
    { id: 'mon-1', bed: '1' },
    { id: 'mon-2', bed: '2' },
  ];
  const h = alarmHarness({}, devices);
  const sent: Array<{ topic: string; payload: { vitals: Record<string, { ts: string }> } }> = [];
  const vitals = new BedVitalsPublisher('3B', h.engine, {
    publish: (topic, payload) => void sent.push({ topic, payload: payload as (typeof sent)[number]['payload'] }),
  });
  t.teardown(() => vitals.stop());
  const t0 = h.clock.t;
  h.obs('mon-1', { spo2: 97, pr: 70 });
  h.obs('mon-2', { spo2: 95 });
  h.clock.t += 1500;
  h.obs('mon-1', { rr: 16 });
  vitals.changed('1');
  vitals.changed('2');
  await sleep(50);
  const bed = (n: string) => sent.find((s) => s.topic === `wardgate/ward/3B/beds/${n}/vitals`)!.payload.vitals;
  const at = (ms: number) => new Date(ms).toISOString();
  t.same(
    Object.fromEntries(Object.entries(bed('1')).map(([k, v]) => [k, v.ts])),
    { spo2: at(t0), pr: at(t0), pulse: at(t0), rr: at(t0 + 1500) },
    'bed 1: the pulse oximetry of the first message, the respiration of the later one',
  );
  t.same(bed('2').spo2.ts, at(t0), 'bed 2');
});
