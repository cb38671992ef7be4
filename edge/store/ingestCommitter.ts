// The group committer behind the ingest queue: what may be committed (the
// storage quota), the commit itself on the writer thread, and what a failed
// commit says about the disk (a full one raises its alarm).
import type { GroupCommitter } from '../ingest/commitQueue.js';
import type { DiskFullWatch } from './diskFull.js';
import type { WriterThread } from './writerThread.js';

export interface IngestCommitterDeps {
  readonly writer: WriterThread;
  /** The storage guard's verdict: false only at the hard limit under storage.onHardLimit 'refuse-new'. */
  readonly admitsReadings: () => boolean;
  readonly diskFull: DiskFullWatch;
}

export function ingestCommitter({ writer, admitsReadings, diskFull }: IngestCommitterDeps): GroupCommitter {
  return {
    commit(items, done) {
      // At the quota under 'refuse-new' a reading is not acknowledged, so the device keeps it.
      if (!admitsReadings() && items.some((i) => i.kind === 'obs'))
        return done(new Error('storage quota reached; new readings refused'));
      writer.commit(items, (err, results) => {
        diskFull.observe(err);
        return err
          ? done(err)
          : done(
              null,
              results!.map((result, i) => ({ item: items[i], result })),
            );
      });
    },
  };
}
