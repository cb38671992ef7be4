// The short chaos run (test/chaos/harness.ts) in the test suite: the cloud
// down with the edge killed -9 during the outage, the cloud killed -9 during
// the drain, the cloud stalled; every acknowledged reading in Firestore once.
// The long run: `npm run chaos` (docs/RELIABILITY.md).
import t from 'tap';
import { runChaos, SHORT } from './harness.js';

t.setTimeout(420_000);

const figures = await runChaos(SHORT, (line) => t.comment(line));
t.comment(JSON.stringify(figures));
t.ok(figures.readingsAcked > 1000, `${figures.readingsAcked} readings acknowledged`);
t.same(figures.faults.length, 1 + SHORT.edgeKills + SHORT.cloudKills + 1, 'every fault was made');
t.equal(figures.lost, 0, 'no acknowledged reading is missing from Firestore');
t.equal(figures.duplicated, 0, 'none is stored twice');
t.equal(figures.verify.missing, 0, 'the verification finds no hole');
t.ok(
  figures.control.deleted > 0 && figures.control.lostSeen === figures.control.deleted,
  'control: the count sees a deleted segment as lost',
);
t.equal(
  figures.control.verifyMissing,
  figures.control.deleted,
  'control: the verification finds exactly the deleted readings',
);
t.same(
  [figures.control.lostAfterRepair, figures.control.duplicatedAfterRepair],
  [0, 0],
  'control: the re-send fills the hole, once',
);
