// The gateway's store, opened before any feature is built and handed to each
// one ready: the database (migrated), the ingest writer thread, the devices
// the config declares, and the audit trail. Closed last, once every feature
// has stopped, so that no feature ever meets a store that is not open.
import { AuditLog } from './auditLog.js';
import { checkpointWal, openDatabase, type Db } from './database.js';
import { IngestStore, type DeclaredDevice } from './ingestStore.js';
import { WriterThread, type WriterThreadOptions } from './writerThread.js';

export interface StoreOptions extends Pick<WriterThreadOptions, 'onExit' | 'onFatal'> {
  readonly dataDir: string;
  readonly devices: readonly DeclaredDevice[];
}

export class Store {
  /** The gateway's connection (alarms, API, sync, jobs); ingest commits go through `writer`. */
  readonly db: Db;
  /** Declared devices, their beds and last seqs. */
  readonly devices: IngestStore;
  /**
   * Ingest writes run on a thread of their own (writerWorker.ts), so that
   * fsyncs and inserts never stall the broker; everything else writes on `db`.
   */
  readonly writer: WriterThread;
  /** The one audit trail every feature writes to. */
  readonly audit: AuditLog;
  #closed = false;

  private constructor(db: Db, devices: IngestStore, writer: WriterThread) {
    this.db = db;
    this.devices = devices;
    this.writer = writer;
    this.audit = new AuditLog(db);
  }

  /** Opens the database, declares the config's devices and starts the writer thread. */
  static async open(options: StoreOptions): Promise<Store> {
    const db = openDatabase(options.dataDir);
    const writer = new WriterThread(options.dataDir, {
      ...(options.onExit && { onExit: options.onExit }),
      ...(options.onFatal && { onFatal: options.onFatal }),
    });
    try {
      const devices = new IngestStore(db);
      devices.declareDevices(options.devices);
      await writer.start();
      return new Store(db, devices, writer);
    } catch (err) {
      await writer.close();
      db.close();
      throw err;
    }
  }

  /** Lets the writer finish the groups it has, folds the WAL back into the database and closes it; safe to call twice. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.writer.close();
    checkpointWal(this.db);
    this.db.close();
  }
}
