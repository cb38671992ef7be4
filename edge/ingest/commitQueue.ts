// Group commit: every item submitted in the same turn of the event loop is
// committed in one SQLite transaction (synchronous=FULL), then each submitter
// is told. This is what lets the MQTT PUBACK wait for durability without
// costing throughput: one fsync covers every message that arrived meanwhile.
import type { CommittedItem, IngestItem, IngestOutcome } from './types.js';

export type CommitCallback = (err: Error | null, result?: IngestOutcome) => void;

export interface GroupCommitter {
  commit(items: readonly IngestItem[]): CommittedItem[];
}

export interface CommitQueueHooks {
  /** After each successful transaction, before callbacks run (alarms, metrics). */
  onCommitted?(committed: readonly CommittedItem[], durationMs: number): void;
  /** A transaction failed; its items were retried one by one. */
  onError?(err: Error, items: number): void;
  /** onCommitted threw. */
  onListenerError?(err: Error): void;
}

export class CommitQueue {
  readonly #store: GroupCommitter;
  readonly #hooks: CommitQueueHooks;
  #items: IngestItem[] = [];
  #callbacks: CommitCallback[] = [];
  #scheduled = false;
  #closed = false;

  constructor(store: GroupCommitter, hooks: CommitQueueHooks = {}) {
    this.#store = store;
    this.#hooks = hooks;
  }

  get pending(): number {
    return this.#items.length;
  }

  submit(item: IngestItem, callback: CommitCallback): void {
    if (this.#closed) {
      callback(new Error('the gateway is shutting down'));
      return;
    }
    this.#items.push(item);
    this.#callbacks.push(callback);
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  submitAsync(item: IngestItem): Promise<IngestOutcome> {
    return new Promise((resolve, reject) => this.submit(item, (err, result) => (err ? reject(err) : resolve(result!))));
  }

  /** Commits everything waiting now. Safe to call at any time; shutdown calls it last. */
  flush(): void {
    this.#scheduled = false;
    if (this.#items.length === 0) return;
    const items = this.#items;
    const callbacks = this.#callbacks;
    this.#items = [];
    this.#callbacks = [];
    const started = performance.now();
    let committed: CommittedItem[];
    try {
      committed = this.#store.commit(items);
    } catch (err) {
      this.#hooks.onError?.(err as Error, items.length);
      this.#commitOneByOne(items, callbacks);
      return;
    }
    this.#finish(committed, callbacks, performance.now() - started);
  }

  /** Refuses new items and commits what is waiting. */
  close(): void {
    this.#closed = true;
    this.flush();
  }

  // A failed group is retried item by item so that one item that cannot be
  // stored does not cost the others their acknowledgement.
  #commitOneByOne(items: IngestItem[], callbacks: CommitCallback[]): void {
    for (let i = 0; i < items.length; i++) {
      const started = performance.now();
      let committed: CommittedItem[];
      try {
        committed = this.#store.commit([items[i]]);
      } catch (err) {
        callbacks[i](err as Error);
        continue;
      }
      this.#finish(committed, [callbacks[i]], performance.now() - started);
    }
  }

  #finish(committed: CommittedItem[], callbacks: CommitCallback[], durationMs: number): void {
    try {
      this.#hooks.onCommitted?.(committed, durationMs);
    } catch (err) {
      // What follows a commit must never cost a device its acknowledgement.
      this.#hooks.onListenerError?.(err as Error);
    }
    for (let i = 0; i < callbacks.length; i++) callbacks[i](null, committed[i].result);
  }
}
