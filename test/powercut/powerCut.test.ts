// The acknowledgement's promise under power cuts (test/powercut/harness.ts):
// a cut discards every write the disk had not confirmed. A real run loses no
// acknowledged reading, alarm event or admission, and the database is intact;
// the control run, whose writer acknowledges without syncing the WAL, loses
// readings under the same cuts, which proves the harness can see a loss.
// The long run (100 cuts) is `npm run powercut`.
import t from 'tap';
import { runPowerCuts } from './scenario.js';

t.setTimeout(170_000);

t.test('real run: nothing acknowledged is lost to a power cut', async (t) => {
  const figures = await runPowerCuts(t, { cuts: 4, log: (line) => t.comment(line) });
  t.equal(figures.integrityFailures, 0, 'PRAGMA integrity_check is ok after every cut');
  t.ok(figures.acknowledged > 500, `${figures.acknowledged} observations acknowledged`);
  t.equal(figures.lost, 0, 'no acknowledged observation lost');
  t.equal(figures.duplicated, 0, 'none stored twice');
  t.ok(figures.alarmEventsPublished > 5, `${figures.alarmEventsPublished} alarm events published`);
  t.equal(figures.alarmEventsLost, 0, 'every published alarm event stored');
  t.ok(figures.admissionsAcknowledged > 3, `${figures.admissionsAcknowledged} admissions acknowledged`);
  t.equal(figures.admissionsLost, 0, 'every acknowledged admission stored');
  t.ok(figures.bytesDiscarded > 0, `the cuts discarded ${figures.bytesDiscarded} bytes that were written but not durable`);
});

t.test('control run, durability off: the same cuts lose acknowledged readings', async (t) => {
  const figures = await runPowerCuts(t, { cuts: 3, unsafe: 'off', log: (line) => t.comment(line) });
  t.ok(figures.lost > 0, `${figures.lost} acknowledged observations lost in ${figures.cutsWithLoss} of ${figures.cuts} cuts`);
});
