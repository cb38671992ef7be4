// The ingest entry for already-decoded messages (serial lines, HL7 OBX
// groups): same validation, commit, dedup and dead letters as JSON from MQTT,
// plus registration of HL7 equipment, bed and patient association.
import t from 'tap';
import { CommitQueue, syncCommitter } from '../../../edge/ingest/commitQueue.js';
import { Ingestor, type DecodedMessage } from '../../../edge/ingest/ingestor.js';
import type { IngestOutcome } from '../../../edge/ingest/types.js';
import { openDatabase } from '../../../edge/store/database.js';
import { IngestStore } from '../../../edge/store/ingestStore.js';
import { readStatus } from '../../../edge/store/statusQuery.js';
import { formatReport } from '../../../edge/cli/statusCommand.js';
import { tempDir } from '../../helpers/env.js';

function setup(t: Parameters<typeof tempDir>[0]) {
  const db = openDatabase(tempDir(t));
  t.teardown(() => db.close());
  const store = new IngestStore(db);
  store.declareDevices([{ id: 'pox-1', bed: '1', source: 'serial' }, { id: 'mqtt-1' }]);
  const queue = new CommitQueue(syncCommitter((items) => store.commit(items)));
  const ingestor = new Ingestor(
    queue,
    { isDeclared: (id) => store.isDeclared(id) },
    { maxFutureSkewMs: 60_000, acceptUnknownDevices: false, maxMessageBytes: 1024 },
  );
  const send = (m: Partial<DecodedMessage> & Pick<DecodedMessage, 'message'>) =>
    new Promise<IngestOutcome>((resolve, reject) =>
      ingestor.decoded(
        {
          source: 'serial',
          deviceId: 'pox-1',
          content: Buffer.from(JSON.stringify(m.message)),
          raw: Buffer.from('raw line'),
          ...m,
        },
        (err, r) => (err ? reject(err) : resolve(r!)),
      ),
    );
  return { db, store, ingestor, send };
}

const obs = (spo2: number | null) => [{ code: 'spo2', value: spo2, unit: '%' }];

t.test('decoded readings are validated, stored once, and a reused seq with other content is a conflict', async (t) => {
  const { db, send, store } = setup(t);
  t.match(await send({ message: { seq: 10, obs: obs(97) } }), { outcome: 'stored', readings: 1, bed: '1' });
  t.same(await send({ message: { seq: 10, obs: obs(97) } }), { outcome: 'duplicate' });
  t.match(await send({ message: { seq: 10, obs: obs(90) } }), {
    outcome: 'rejected',
    rejection: { code: 'WG_ERR_SEQ_CONFLICT' },
  });
  t.same(
    await send({ message: { seq: 11, obs: obs(null) } }),
    { outcome: 'empty' },
    'all values absent: nothing to store',
  );
  t.match(await send({ message: { seq: 12, obs: [{ code: 'spo2', value: 9, unit: 'kPa' }] } }), {
    outcome: 'rejected',
    rejection: { code: 'WG_ERR_UNIT', field: 'obs[0].unit' },
  });
  const letters = db.prepare('SELECT reason, raw, source FROM dead_letters ORDER BY id').all() as Array<{
    reason: string;
    raw: Buffer;
    source: string;
  }>;
  t.same(
    letters.map((l) => l.reason),
    ['WG_ERR_SEQ_CONFLICT', 'WG_ERR_UNIT'],
  );
  t.equal(letters[1].raw.toString(), 'raw line', 'the bytes as received are kept');
  t.equal((db.prepare('SELECT count(*) AS n FROM observations').get() as { n: number }).n, 1);
  t.equal(store.lastSeq('pox-1'), 10);
  t.equal(store.lastSeq('nobody'), undefined);
});

t.test(
  'an undeclared device is refused unless the source registers it (HL7 equipment), with bed and patient',
  async (t) => {
    const { db, send, ingestor } = setup(t);
    t.match(await send({ deviceId: 'mon-9', message: { seq: 1, obs: obs(95) } }), {
      outcome: 'rejected',
      rejection: { code: 'WG_ERR_UNKNOWN_DEVICE' },
    });
    const patient = { id: 'MRN-1', authority: 'HOSP', idType: 'MR' };
    t.match(
      await send({
        source: 'hl7',
        deviceId: 'mon-9',
        register: true,
        bed: '7',
        patient,
        message: { seq: 1, obs: obs(95) },
      }),
      { outcome: 'stored', bed: '7' },
    );
    t.match(
      await send({
        source: 'hl7',
        deviceId: 'mon-9',
        register: true,
        bed: '8',
        patient,
        message: { seq: 2, obs: obs(94) },
      }),
      { outcome: 'stored', bed: '8' },
    );
    const readings = db.prepare('SELECT bed, patient FROM readings ORDER BY seq').all() as Array<{
      bed: string;
      patient: number;
    }>;
    t.same(
      readings.map((r) => r.bed),
      ['7', '8'],
      'each reading keeps the bed of its message',
    );
    t.equal(new Set(readings.map((r) => r.patient)).size, 1, 'one patient row for the same identifier');
    t.match(db.prepare("SELECT bed, source, declared, patient FROM devices WHERE device_id = 'mon-9'").get(), {
      bed: '8',
      source: 'hl7',
      declared: 0,
      patient: readings[0].patient,
    });
    // A declared device keeps its configured bed in the device table.
    await send({ source: 'hl7', register: true, bed: '99', message: { seq: 5, obs: obs(96) } });
    t.match(db.prepare("SELECT bed FROM devices WHERE device_id = 'pox-1'").get(), { bed: '1' });
    await new Promise<void>((resolve) => ingestor.deviceStatus('serial', 'pox-1', { sensor: 'off' }, () => resolve()));
    await new Promise<void>((resolve) => ingestor.presence('serial', 'pox-1', false, () => resolve()));
    const status = readStatus(db);
    t.match(
      status.devices.find((d) => d.id === 'pox-1'),
      { source: 'serial', online: false, sensor: 'off', bed: '1' },
    );
    const text = formatReport({
      ward: '3B',
      gateway: 'gw',
      daemon: { running: false, pid: null, ports: null },
      ...status,
    });
    t.match(text, /pox-1\s+1\s+serial\s+no\s/, 'status shows the serial device offline');
    t.match(text, /mon-9 \(undeclared\)\s+8\s+hl7\s/, 'and the HL7 monitor registered on first contact');
    t.notMatch(text, /MRN-1/, 'no patient identifier in status');
  },
);
