// The broker thread's side of the ingest writer (writerWorker.ts): sends a
// group of items, gets the outcome of each once the group is committed and on
// disk. The commit queue keeps a bounded number of groups with the thread and
// gathers the next one meanwhile, so the busier the gateway, the larger the
// groups and the fewer the fsyncs.
import { Worker } from 'node:worker_threads';
import type { IngestItem, IngestOutcome, IngestSource, PatientRef, StoreItem } from '../ingest/types.js';
import { DEAD_LETTER_RAW_LIMIT, encodeReadings } from './ingestStore.js';

/**
 * An observation as it crosses to the thread: a flat array, which costs a
 * fraction of an object with reading objects to copy. Fields in order: device
 * id, source, seq, ts, received ts, digest (latin1), encoded readings, reading
 * count, bed, patient, probe seq.
 */
type WireObservation = [
  string,
  IngestSource,
  number,
  number,
  number,
  string,
  string,
  number,
  string | null,
  PatientRef | null,
  boolean,
];
export type WireItem = WireObservation | Exclude<StoreItem, { kind: 'obs' }>;

/** `checkpoint`: fold the WAL back into the database instead of committing items (WriterThread.checkpoint). */
export type WriterRequest =
  | { id: number; items: readonly WireItem[]; checkpoint?: boolean; close?: never }
  | { close: true; id?: never; items?: never; checkpoint?: never };
/** `fatal`: the disk failed; the thread has stopped and the gateway must not go on. */
export type WriterReply =
  | { id: number; results: IngestOutcome[] }
  | { id: number; error: string; fatal?: boolean; code?: string }
  | { ready: true };

export type WriterCallback = (err: Error | null, results?: IngestOutcome[]) => void;

export function toWire(item: IngestItem): WireItem {
  if (item.kind === 'obs') {
    return [
      item.deviceId,
      item.source,
      item.seq,
      item.ts,
      item.receivedTs,
      item.digest.toString('latin1'),
      encodeReadings(item.readings, item.ts),
      item.readings.length,
      item.bed ?? null,
      item.patient ?? null,
      item.probeSeq === true,
    ];
  }
  // A payload may be a view into a connection's whole read buffer: copy only what is kept.
  if (item.kind === 'dead')
    return {
      ...item,
      raw: Buffer.from(item.raw.subarray(0, DEAD_LETTER_RAW_LIMIT)),
      rawSize: item.rawSize ?? item.raw.length,
    };
  return item;
}

export function fromWire(wire: WireItem): StoreItem {
  if (!Array.isArray(wire)) {
    // Buffers arrive as plain Uint8Arrays; the store binds Buffers.
    return wire.kind === 'dead'
      ? { ...wire, raw: Buffer.from(wire.raw.buffer, wire.raw.byteOffset, wire.raw.byteLength) }
      : wire;
  }
  const [deviceId, source, seq, ts, receivedTs, digest, encoded, readingCount, bed, patient, probeSeq] = wire;
  return {
    kind: 'obs',
    deviceId,
    source,
    seq,
    ts,
    receivedTs,
    digest: Buffer.from(digest, 'latin1'),
    encoded,
    readingCount,
    ...(bed !== null && { bed }),
    ...(patient !== null && { patient }),
    ...(probeSeq && { probeSeq }),
  };
}

// The thread runs the same kind of file as this one: compiled JavaScript in a
// built gateway, TypeScript where the tests run the sources.
const ENTRY = new URL(`./writerWorker${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url);

/** Waits before a new thread follows one that died: doubling from the first to the most. */
const RESPAWN_FIRST_MS = 100;
const RESPAWN_MAX_MS = 5_000;

export interface WriterThreadOptions {
  /** Hears of a thread that died; the groups it had fail, and a commit after a short wait (doubling while threads keep dying) starts a new thread. */
  readonly onExit?: (err: Error) => void;
  /** Hears that the disk failed to sync a commit: nothing the gateway holds can be trusted to be durable. */
  readonly onFatal?: (err: Error) => void;
  /** The thread's code (writerWorker.ts unless a test says otherwise). */
  readonly entry?: URL;
}

export class WriterThread {
  readonly #dataDir: string;
  readonly #onExit: (err: Error) => void;
  readonly #onFatal: (err: Error) => void;
  readonly #entry: URL;
  #worker: Worker | undefined;
  #ready: Promise<void> | undefined;
  readonly #pending = new Map<number, WriterCallback>();
  #nextId = 1;
  /** Set once the disk has failed a sync: every commit after it is refused. */
  #failed: Error | undefined;
  /** After a thread died: no new one before this time, and commits meanwhile get the death's error. */
  #respawnAt = 0;
  #respawnDelayMs = RESPAWN_FIRST_MS;
  #died: Error | undefined;

  constructor(dataDir: string, options: WriterThreadOptions = {}) {
    this.#dataDir = dataDir;
    this.#onExit = options.onExit ?? (() => {});
    this.#onFatal = options.onFatal ?? (() => {});
    this.#entry = options.entry ?? ENTRY;
  }

  /** Starts the thread and waits until its database is open. */
  start(): Promise<void> {
    this.#spawn();
    return this.#ready!;
  }

  commit(items: readonly IngestItem[], done: WriterCallback): void {
    if (this.#failed) return done(this.#failed);
    // A thread that keeps dying (a database it cannot open) is not started again for every group.
    if (!this.#worker && this.#died && Date.now() < this.#respawnAt) return done(this.#died);
    const worker = this.#worker ?? this.#spawn();
    const id = this.#nextId++;
    // Registered once sent: a group that cannot be sent (throws here) is never answered twice.
    worker.postMessage({ id, items: items.map(toWire) } satisfies WriterRequest);
    this.#pending.set(id, done);
  }

  /**
   * Folds the WAL back into the database and empties it, on the thread, after
   * the groups already sent: the scheduled checkpoint (two fsyncs) and the
   * start of the new WAL (one more, holding the write lock) stay off the event
   * loop, and no alarm commit is the one that starts the WAL over (see
   * ingestWriter.ts).
   */
  checkpoint(): Promise<void> {
    if (this.#failed) return Promise.reject(this.#failed);
    const worker = this.#worker ?? this.#spawn();
    const id = this.#nextId++;
    worker.postMessage({ id, items: [], checkpoint: true } satisfies WriterRequest);
    return new Promise((resolve, reject) => this.#pending.set(id, (err) => (err ? reject(err) : resolve())));
  }

  /** Closes the thread's database once the groups already sent are committed. */
  async close(): Promise<void> {
    const worker = this.#worker;
    if (!worker) return;
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    worker.postMessage({ close: true } satisfies WriterRequest);
    await exited;
  }

  #spawn(): Worker {
    const worker = new Worker(this.#entry, {
      workerData: { dataDir: this.#dataDir },
      resourceLimits: { maxYoungGenerationSizeMb: 4 },
    });
    this.#worker = worker;
    let failure: Error | undefined;
    this.#ready = new Promise((resolve, reject) => {
      worker.on('message', (reply: WriterReply) => {
        if ('ready' in reply) return resolve();
        const done = this.#pending.get(reply.id);
        this.#pending.delete(reply.id);
        if (!('error' in reply)) {
          this.#respawnDelayMs = RESPAWN_FIRST_MS;
          return done?.(null, reply.results);
        }
        // The SQLite code (SQLITE_FULL: a full disk) crosses with the message.
        const err = Object.assign(new Error(reply.error), reply.code === undefined ? {} : { code: reply.code });
        done?.(err);
        if (reply.fatal && !this.#failed) {
          this.#failed = err;
          this.#onFatal(err);
        }
      });
      worker.once('error', (err) => {
        failure = err;
        reject(err);
      });
      worker.once('exit', (code) => {
        if (this.#worker === worker) this.#worker = undefined;
        const err = failure ?? new Error(`the ingest writer thread exited with code ${code}`);
        reject(err);
        if (this.#pending.size === 0 && code === 0) return;
        const pending = [...this.#pending.values()];
        this.#pending.clear();
        for (const done of pending) done(err);
        this.#died = err;
        this.#respawnAt = Date.now() + this.#respawnDelayMs;
        this.#respawnDelayMs = Math.min(RESPAWN_MAX_MS, this.#respawnDelayMs * 2);
        this.#onExit(err);
      });
    });
    this.#ready.catch(() => {}); // a caller that never awaits start() hears of it through commit callbacks
    return worker;
  }
}
