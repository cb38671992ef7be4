// The acknowledgement's promise under power cuts (test/powercut/harness.ts):
// a cut discards every write the disk had not confirmed. A real run loses no
// acknowledged reading, alarm event or admission, the database is intact, no
// outbox cursor claims more than the cloud stored, and after a drain the cloud
// holds every acknowledged reading exactly once. The control run, with
// durability off, loses acknowledged readings under the same cuts, and the
// cloud checks see what the cloud holds and the edge forgot: the harness can
// see a loss. (cloudChecks.test.ts shows each cloud check failing on purpose.)
// The long run (100 cuts) is `npm run powercut`.
import t from 'tap';
import { startPowerCutCloud } from './cloudSide.js';
import { RUN_GATEWAYS, runPowerCuts } from './scenario.js';

t.setTimeout(170_000);

const cloud = await startPowerCutCloud(t, [RUN_GATEWAYS.real, RUN_GATEWAYS.off]);

t.test('real run: nothing acknowledged is lost to a power cut, on the gateway or in the cloud', async (t) => {
  const figures = await runPowerCuts(t, {
    cuts: 3,
    cloud: { cloud, gateway: RUN_GATEWAYS.real },
    drainMs: 60_000,
    log: (line) => t.comment(line),
  });
  t.equal(figures.integrityFailures, 0, 'PRAGMA integrity_check is ok after every cut');
  // Bounds that show the load ran, on a loaded 2-core machine too (load average 20: about 370 observations, 1,200 readings).
  t.ok(figures.acknowledged > 120, `${figures.acknowledged} observations acknowledged`);
  t.equal(figures.lost, 0, 'no acknowledged observation lost');
  t.equal(figures.duplicated, 0, 'none stored twice');
  t.ok(figures.alarmEventsPublished > 5, `${figures.alarmEventsPublished} alarm events published`);
  t.equal(figures.alarmEventsLost, 0, 'every alarm event published a second before the cut is stored');
  t.ok(figures.admissionsAcknowledged > 1, `${figures.admissionsAcknowledged} admissions acknowledged`);
  t.equal(figures.admissionsLost, 0, 'every acknowledged admission stored');
  t.ok(
    figures.bytesDiscarded > 0,
    `the cuts discarded ${figures.bytesDiscarded} bytes that were written but not durable`,
  );
  const { serial } = figures;
  t.ok(serial.countedStored > 10, `the gateway counted ${serial.countedStored} serial lines stored before the cuts`);
  t.equal(serial.countedStoredLost, 0, 'every serial line the gateway counted as stored survived its cut');
  t.equal(serial.miscounted, 0, 'no serial line stored twice or short');
  t.ok(
    serial.linesStored > 0 && serial.linesStored <= serial.linesWritten,
    `${serial.linesStored} of ${serial.linesWritten} serial lines stored`,
  );
  const c = figures.cloud;
  t.equal(
    c.pastTheCloud,
    0,
    'after every cut, each outbox cursor names only what the cloud stored, as the edge holds it',
  );
  t.equal(
    c.unknownToEdge,
    0,
    'after every cut, the edge still holds everything the cloud stored under its outbox numbers',
  );
  t.not(c.drainSeconds, null, `the gateway drained to the cloud at the end (${c.drainSeconds} s)`);
  t.ok(c.acknowledgedReadings > 450, `${c.acknowledgedReadings} acknowledged readings`);
  t.equal(c.acknowledgedLost, 0, 'the cloud holds every acknowledged reading');
  t.equal(c.duplicated, 0, 'the cloud holds no reading twice');
  t.equal(c.edgeReadingsMissing, 0, 'the cloud holds every reading the gateway stored, serial ones included');
  t.equal(c.alarmEventsMissing, 0, 'the cloud holds every alarm event the gateway stored');
});

t.test(
  'control run, durability off: the same cuts lose acknowledged readings, and the cloud checks see it',
  async (t) => {
    const figures = await runPowerCuts(t, {
      cuts: 2,
      unsafe: 'off',
      cloud: { cloud, gateway: RUN_GATEWAYS.off },
      drainMs: 30_000,
      log: (line) => t.comment(line),
    });
    t.ok(
      figures.lost > 0,
      `${figures.lost} acknowledged observations lost in ${figures.cutsWithLoss} of ${figures.cuts} cuts`,
    );
    t.ok(
      figures.serial.countedStoredLost > 0,
      `${figures.serial.countedStoredLost} serial lines the gateway counted as stored were gone after their cut`,
    );
    t.ok(
      figures.cloud.unknownToEdge > 0,
      `${figures.cloud.unknownToEdge} items the cloud stored were unknown to the edge after its cuts (in ${figures.cloud.cutsUnknownToEdge} cuts)`,
    );
    // Readings the cloud stored and the cut took are sent again by their devices, and stored a second time.
    t.ok(
      figures.cloud.duplicated > 0,
      `the count at the end finds ${figures.cloud.duplicated} readings held twice in the cloud`,
    );
  },
);
