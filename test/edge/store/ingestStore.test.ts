import t from 'tap';
import { openDatabase } from '../../../edge/store/database.js';
import { IngestStore } from '../../../edge/store/ingestStore.js';
import { tempDir } from '../../helpers/env.js';

const obs = (digest: number, probeSeq: boolean) => ({
  kind: 'obs' as const,
  source: 'hl7' as const,
  receivedTs: 1_795_000_000_000,
  deviceId: 'mon-1',
  seq: 42,
  ts: 1_795_000_000_000,
  digest: Buffer.alloc(8, digest),
  readings: [{ code: 'pr', value: 60 + digest, unit: '/min' as const, ts: 1_795_000_000_000, flags: 0 }],
  probeSeq,
});

t.test(
  'derived seqs that collide are probed: every message stored once, retransmissions still recognised',
  async (t) => {
    const db = openDatabase(tempDir(t));
    t.teardown(() => db.close());
    const store = new IngestStore(db);
    store.declareDevices([{ id: 'mon-1', bed: '1', source: 'hl7' }]);
    const outcomes = (items: ReturnType<typeof obs>[]) => store.commit(items).map((c) => c.result.outcome);
    t.same(
      outcomes([obs(1, true), obs(2, true), obs(3, true)]),
      ['stored', 'stored', 'stored'],
      'three contents on one derived seq',
    );
    t.same(
      outcomes([obs(2, true), obs(3, true), obs(1, true)]),
      ['duplicate', 'duplicate', 'duplicate'],
      'retransmissions find their own rows',
    );
    t.same(db.prepare('SELECT seq FROM observations ORDER BY seq').pluck().all(), [42, 43, 44]);
    t.same(
      outcomes([obs(4, false)]),
      ['rejected'],
      'a seq a device chose itself is not probed: reusing it is a conflict',
    );
  },
);

t.test("a device's source is where its readings arrive, and a restart does not forget it", async (t) => {
  const db = openDatabase(tempDir(t));
  t.teardown(() => db.close());
  const store = new IngestStore(db);
  // An HL7 monitor bound to a bed in `devices:`, as the demo ward does: declared as if it spoke MQTT.
  store.declareDevices([{ id: 'mon-1', bed: '1' }]);
  const source = () => db.prepare("SELECT source FROM devices WHERE device_id = 'mon-1'").pluck().get();
  t.equal(source(), 'mqtt');
  t.same(
    store.commit([obs(1, false)]).map((c) => c.result.outcome),
    ['stored'],
  );
  t.equal(source(), 'hl7', 'its first HL7 message says where it really is');
  new IngestStore(db).declareDevices([{ id: 'mon-1', bed: '1' }]);
  t.equal(source(), 'hl7', 'declaring it again at the next start keeps what was observed');
});

t.test('a device moved onto or off a serial port in the config takes the declared source', async (t) => {
  const db = openDatabase(tempDir(t));
  t.teardown(() => db.close());
  const source = () => db.prepare("SELECT source FROM devices WHERE device_id = 'pox-9'").pluck().get();
  new IngestStore(db).declareDevices([{ id: 'pox-9', bed: '9', source: 'serial' }]);
  t.equal(source(), 'serial');
  new IngestStore(db).declareDevices([{ id: 'pox-9', bed: '9' }]);
  t.equal(source(), 'mqtt', 'taken off its port, it is an MQTT device again');
  new IngestStore(db).declareDevices([{ id: 'pox-9', bed: '9', source: 'serial' }]);
  t.equal(source(), 'serial');
});
