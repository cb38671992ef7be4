// Readings are evaluated when accepted, before their commit reaches the disk
// (a slow or full disk never delays an alarm), and not a second time when the
// commit is reported.
import t from 'tap';
import { alarmHarness } from '../../helpers/alarms.js';
import type { IngestItem } from '../../../edge/ingest/types.js';
import { metric } from '../../../shared/codes.js';

function observation(
  deviceId: string,
  seq: number,
  values: Record<string, number>,
  ts: number,
  bed?: string,
  receivedTs = ts,
): IngestItem & { kind: 'obs' } {
  const readings = Object.entries(values).map(([code, value]) => ({
    code,
    value,
    unit: metric(code).unit,
    ts,
    flags: 0,
  }));
  return {
    kind: 'obs',
    source: 'mqtt',
    receivedTs,
    deviceId,
    seq,
    ts,
    digest: Buffer.alloc(8),
    readings,
    ...(bed !== undefined && { bed }),
  };
}

/** An HL7 observation: its seq derived from its content, probed by the store on a collision. */
function hl7Observation(
  deviceId: string,
  seq: number,
  values: Record<string, number>,
  ts: number,
  receivedTs: number,
  bed: string,
): IngestItem & { kind: 'obs' } {
  return {
    ...observation(deviceId, seq, values, ts, bed, receivedTs),
    source: 'hl7',
    probeSeq: true,
    digest: Buffer.from(JSON.stringify(values)),
  };
}

const spo2Limit = (phases: string[]) => phases.filter((p) => p.includes(':limit:spo2:'));

t.test('an accepted reading raises its alarm before it is committed, and only once', async (t) => {
  const h = alarmHarness({}, [{ id: 'mon-1', bed: '1' }]);
  const item = observation('mon-1', 1, { nibp_sys: 75 }, h.clock.t);
  h.engine.onAccepted([item]);
  t.same(h.phases(), ['raised:limit:nibp_sys:medium'], 'raised at once, nothing on disk yet');
  t.equal(h.events[0].bed, '1', "at the device's bed");
  h.engine.onCommitted([{ item, result: { outcome: 'stored', readings: 1, bed: '1' } }]);
  t.equal(h.events.length, 1, 'the commit does not evaluate it again');
});

t.test('a reading that is never stored (a full disk) still raises', async (t) => {
  const h = alarmHarness({}, [{ id: 'mon-1', bed: '1' }]);
  h.engine.onAccepted([observation('mon-1', 1, { nibp_sys: 75 }, h.clock.t)]);
  t.same(h.phases(), ['raised:limit:nibp_sys:medium']);
});

t.test('a sender whose bed is not known yet is evaluated at its commit, then early', async (t) => {
  const h = alarmHarness({}, [{ id: 'mon-1', bed: '1' }]);
  const first = observation('hl7-x', 1, { nibp_sys: 75 }, h.clock.t);
  h.engine.onAccepted([first]);
  t.equal(h.events.length, 0, 'no bed known: waits for the store to place it');
  h.engine.onCommitted([{ item: first, result: { outcome: 'stored', readings: 1, bed: '7' } }]);
  t.same(
    h.events.map((e) => [e.phase, e.bed]),
    [['raised', '7']],
    'evaluated once committed, at the bed the store gave',
  );
  h.engine.onAccepted([observation('hl7-x', 2, { nibp_sys: 120 }, h.clock.t)]);
  t.same(
    h.events.map((e) => [e.phase, e.bed]),
    [
      ['raised', '7'],
      ['cleared', '7'],
    ],
    'the next is evaluated on acceptance, at that bed',
  );
});

t.test('readings resent after failed commits (a full disk) keep no real alarm from being raised', async (t) => {
  const run = (resend: boolean) => {
    const h = alarmHarness({}, [{ id: 'mon-1', bed: '1' }]);
    // Five normal readings, each accepted and evaluated, none committed: the disk is full, none is acknowledged.
    const old = [1, 2, 3, 4, 5].map((seq) => {
      const item = observation('mon-1', seq, { spo2: 97 }, h.clock.t);
      h.engine.onAccepted([item]);
      h.advance(1000);
      return item;
    });
    // The patient desaturates for two minutes; the device resends its unacknowledged readings, oldest first, every 5 s.
    let seq = 5;
    for (let s = 0; s < 120; s++) {
      h.engine.onAccepted([observation('mon-1', ++seq, { spo2: 82 }, h.clock.t)]);
      if (resend && s % 5 === 4) h.engine.onAccepted([{ ...old[((s - 4) / 5) % old.length] }]);
      h.advance(1000);
    }
    return h;
  };
  t.same(spo2Limit(run(false).phases()), ['raised:limit:spo2:medium'], 'without resends: raised');
  const h = run(true);
  t.same(spo2Limit(h.phases()), ['raised:limit:spo2:medium'], 'with resends: raised all the same');
  t.equal(h.engine.bed('1').vitals.spo2?.value, 82, 'the latest value is the live one');
});

t.test(
  'a duplicate after a lost PUBACK does not reset the condition delay, nor is it evaluated at its commit',
  async (t) => {
    const h = alarmHarness({}, [{ id: 'mon-1', bed: '1' }]);
    const normal = observation('mon-1', 1, { spo2: 97 }, h.clock.t);
    h.engine.onAccepted([normal]);
    h.engine.onCommitted([{ item: normal, result: { outcome: 'stored', readings: 1, bed: '1' } }]);
    h.advance(1000);
    for (let seq = 2; seq <= 17; seq++) {
      h.engine.onAccepted([observation('mon-1', seq, { spo2: 82 }, h.clock.t)]);
      if (seq === 12) {
        // The broker's PUBACK for seq 1 was lost: the device sends it again, and the store calls it a duplicate.
        const again = { ...normal };
        h.engine.onAccepted([again]);
        h.engine.onCommitted([{ item: again, result: { outcome: 'duplicate' } }]);
      }
      h.advance(1000);
    }
    t.same(
      spo2Limit(h.phases()),
      ['raised:limit:spo2:medium'],
      'raised once the 15 s delay has run from the first low value',
    );
  },
);

t.test('a resend skipped on acceptance is not evaluated at its commit either', async (t) => {
  const h = alarmHarness({}, [{ id: 'mon-1', bed: '1' }]);
  const normal = observation('mon-1', 1, { spo2: 97 }, h.clock.t);
  h.engine.onAccepted([normal]);
  h.advance(1000);
  let seq = 1;
  h.advance(20_000, () => {
    h.engine.onAccepted([observation('mon-1', ++seq, { spo2: 82 }, h.clock.t)]);
    if (seq !== 10) return;
    // The first commit failed (a full disk); the resend is stored.
    const again = { ...normal };
    h.engine.onAccepted([again]);
    h.engine.onCommitted([{ item: again, result: { outcome: 'stored', readings: 1, bed: '1' } }]);
  });
  t.same(spo2Limit(h.phases()), ['raised:limit:spo2:medium']);
});

t.test('an HL7 message resent (its ACK lost) is evaluated once', async (t) => {
  const h = alarmHarness({}, [{ id: 'mon-1', bed: '1' }]);
  const start = h.clock.t;
  const normal = hl7Observation('hl7-mon', 1000, { spo2: 97 }, start, start, '5');
  h.engine.onAccepted([normal]);
  h.advance(1000);
  for (let s = 1; s <= 16; s++) {
    h.engine.onAccepted([hl7Observation('hl7-mon', 1000 + s, { spo2: 82, pr: 60 + s }, h.clock.t, h.clock.t, '5')]);
    // The same message again, its seq and digest unchanged (the sender's clock is behind, so its time cannot tell).
    if (s % 5 === 0) h.engine.onAccepted([{ ...normal, receivedTs: h.clock.t }]);
    h.advance(1000);
  }
  t.same(spo2Limit(h.phases()), ['raised:limit:spo2:medium']);
});

t.test('a reading older than the latest of its kind from the device does not become the latest', async (t) => {
  const h = alarmHarness({}, [{ id: 'mon-1', bed: '1' }]);
  const start = h.clock.t;
  for (let seq = 1; seq <= 16; seq++) {
    h.engine.onAccepted([observation('mon-1', seq * 2, { spo2: 82 }, h.clock.t)]);
    // A backlog the device sends under new seqs: readings from before the drop.
    if (seq % 4 === 0)
      h.engine.onAccepted([
        observation('mon-1', seq * 2 + 1, { spo2: 97 }, start - 60_000 + seq, undefined, h.clock.t),
      ]);
    h.advance(1000);
  }
  t.same(spo2Limit(h.phases()), ['raised:limit:spo2:medium']);
  t.equal(h.engine.bed('1').vitals.spo2?.value, 82);
});

t.test('a device whose clock stepped back is evaluated again within a minute', async (t) => {
  const h = alarmHarness({}, [{ id: 'mon-1', bed: '1' }]);
  h.engine.onAccepted([observation('mon-1', 1, { spo2: 97 }, h.clock.t + 3_600_000, undefined, h.clock.t + 3_600_000)]);
  let seq = 1;
  h.advance(120_000, () => h.engine.onAccepted([observation('mon-1', ++seq, { spo2: 82 }, h.clock.t)]));
  t.same(spo2Limit(h.phases()), ['raised:limit:spo2:medium']);
});

t.test(
  "a message that names its bed is evaluated at that bed, where the store files it, not at the device's",
  async (t) => {
    // An HL7 monitor declared at bed 3 whose message says PV1-3 bed 4 (moved with its patient).
    const h = alarmHarness({}, [{ id: 'hl7-mon', bed: '3' }]);
    h.engine.onAccepted([observation('hl7-mon', 1, { nibp_sys: 75 }, h.clock.t, '4')]);
    t.same(
      h.events.map((e) => [e.phase, e.bed]),
      [['raised', '4']],
    );
    t.equal(h.engine.bed('4').vitals.nibp_sys?.value, 75);
    t.same(h.engine.bed('3').vitals, {}, 'nothing at the declared bed');
    h.engine.onAccepted([observation('hl7-mon', 2, { nibp_sys: 120 }, h.clock.t)]);
    t.same(
      h.events.map((e) => [e.phase, e.bed]),
      [['raised', '4']],
      'one without a bed is at the declared bed, as the store files it',
    );
    t.equal(h.engine.bed('3').vitals.nibp_sys?.value, 120);
  },
);
