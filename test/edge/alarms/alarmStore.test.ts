import t from 'tap';
import { AlarmStore } from '../../../edge/store/alarmStore.js';
import { openDatabase } from '../../../edge/store/database.js';
import { IngestStore } from '../../../edge/store/ingestStore.js';
import { tempDir } from '../../helpers/env.js';

t.test('after a restart only declared devices are watched for silence', async (t) => {
  const db = openDatabase(tempDir(t));
  t.teardown(() => db.close());
  const ingest = new IngestStore(db);
  ingest.declareDevices([{ id: 'pox-1', bed: '1' }, { id: 'old-pox', bed: '2' }]);
  const obs = (deviceId: string, seq: number) => ({
    kind: 'obs' as const, source: 'mqtt' as const, receivedTs: Date.now(), deviceId, seq, ts: Date.now(), digest: Buffer.alloc(8, seq), readings: [],
  });
  ingest.commit([obs('pox-1', 1), obs('old-pox', 1), obs('hl7-equipment', 1)]);
  ingest.declareDevices([{ id: 'pox-1', bed: '1' }]); // old-pox decommissioned
  t.same([...new AlarmStore(db).lastSeen().keys()], ['pox-1']);
});

t.test('page sizes are clamped: LIMIT -1 would read everything on the event loop', async (t) => {
  const { clampLimit } = await import('../../../edge/store/alarmStore.js');
  t.same([clampLimit(-1), clampLimit(0), clampLimit(50.7), clampLimit(5000), clampLimit(Number.NaN)], [1, 1, 50, 1000, 200]);
});
