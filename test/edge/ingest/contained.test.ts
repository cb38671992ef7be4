// An exception while validating one message refuses that message (dead letter
// WG_ERR_INTERNAL, the listener told) and never reaches the transport: the
// next message is handled as usual. The fault is injected in the device
// directory, the one collaborator every path consults.
import t from 'tap';
import { CommitQueue, syncCommitter } from '../../../edge/ingest/commitQueue.js';
import { Ingestor } from '../../../edge/ingest/ingestor.js';
import type { IngestOutcome, IngestSource } from '../../../edge/ingest/types.js';
import { openDatabase } from '../../../edge/store/database.js';
import { IngestStore } from '../../../edge/store/ingestStore.js';
import { tempDir } from '../../helpers/env.js';

function setup(t: Parameters<typeof tempDir>[0]) {
  const db = openDatabase(tempDir(t));
  t.teardown(() => db.close());
  const store = new IngestStore(db);
  store.declareDevices([
    { id: 'pox-1', bed: '1' },
    { id: 'pox-bad', bed: '2' },
  ]);
  const queue = new CommitQueue(syncCommitter((items) => store.commit(items)));
  const failures: Array<[IngestSource, string]> = [];
  const directory = {
    isDeclared: (id: string) => {
      if (id === 'pox-bad') throw new TypeError('directory failed');
      return store.isDeclared(id);
    },
  };
  const policy = { maxFutureSkewMs: 60_000, acceptUnknownDevices: false, maxMessageBytes: 4096 };
  const ingestor = new Ingestor(queue, directory, policy, Date.now, (source, err) =>
    failures.push([source, (err as Error).message]),
  );
  return { db, ingestor, failures };
}

const outcome = (run: (done: (err: Error | null, r?: IngestOutcome) => void) => void) =>
  new Promise<IngestOutcome>((resolve, reject) => run((err, r) => (err ? reject(err) : resolve(r!))));

t.test('observation, status and decoded paths each refuse the message that made them throw', async (t) => {
  const { db, ingestor, failures } = setup(t);
  const payload = Buffer.from(JSON.stringify({ seq: 1, obs: [{ code: 'spo2', value: 97, unit: '%' }] }));
  const internal = { outcome: 'rejected', rejection: { code: 'WG_ERR_INTERNAL' } };
  t.match(
    await outcome((d) => ingestor.observation({ source: 'mqtt', deviceId: 'pox-bad', payload }, d)),
    internal,
    'observation',
  );
  t.match(
    await outcome((d) =>
      ingestor.status({ source: 'mqtt', deviceId: 'pox-bad', payload: Buffer.from('{"battery":50}') }, d),
    ),
    internal,
    'status',
  );
  t.match(
    await outcome((d) =>
      ingestor.decoded(
        {
          source: 'hl7',
          deviceId: 'pox-bad',
          message: { seq: 1, obs: [] },
          content: payload,
          raw: Buffer.from('MSH|...'),
        },
        d,
      ),
    ),
    internal,
    'decoded',
  );
  t.same(failures, [
    ['mqtt', 'directory failed'],
    ['mqtt', 'directory failed'],
    ['hl7', 'directory failed'],
  ]);
  const letters = db.prepare('SELECT reason, device_id FROM dead_letters ORDER BY id').all();
  t.same(
    letters,
    Array.from({ length: 3 }, () => ({ reason: 'WG_ERR_INTERNAL', device_id: 'pox-bad' })),
    'kept for review with the reason',
  );
  t.match(
    await outcome((d) => ingestor.observation({ source: 'mqtt', deviceId: 'pox-1', payload }, d)),
    { outcome: 'stored', readings: 1 },
    'the next message is stored',
  );
});
