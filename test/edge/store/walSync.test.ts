import t from 'tap';
import { fstatSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { WalSync } from '../../../edge/store/walSync.js';
import { tempDir } from '../../helpers/env.js';

t.test('sync() fdatasyncs the WAL file, and follows the name when the file is deleted and made anew', (t) => {
  const path = join(tempDir(t), 'wardgate.db-wal');
  writeFileSync(path, 'frames');
  const synced: number[] = [];
  const wal = new WalSync(path, (fd) => synced.push(fstatSync(fd).ino));
  t.teardown(() => wal.close());
  wal.sync();
  wal.sync();
  const first = statSync(path).ino;
  t.same(synced, [first, first], 'one file, opened once');
  rmSync(path); // as SQLite does when the last connection closes
  writeFileSync(path, 'new frames');
  wal.sync();
  t.equal(synced[2], statSync(path).ino, 'the file now under the name is synced, not the deleted one');
  t.end();
});

t.test('sync() throws when the WAL cannot be synced, and when there is no WAL file', (t) => {
  const path = join(tempDir(t), 'wardgate.db-wal');
  t.throws(() => new WalSync(path).sync(), /ENOENT/);
  writeFileSync(path, '');
  const wal = new WalSync(path, () => {
    throw Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
  });
  t.teardown(() => wal.close());
  t.throws(() => wal.sync(), /EIO/);
  t.end();
});

t.test('the real fdatasync runs on a real WAL file', (t) => {
  const path = join(tempDir(t), 'wardgate.db-wal');
  writeFileSync(path, 'frames');
  const wal = new WalSync(path);
  wal.sync();
  wal.close();
  wal.close();
  t.pass('synced and closed twice without error');
  t.end();
});
