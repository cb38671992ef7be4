// Group commit: items submitted while the writer is busy, or in the same turn
// of the event loop, are committed in one SQLite transaction, then each
// submitter is told. This is what lets the MQTT PUBACK wait for durability
// without costing throughput: one fsync covers every message that arrived
// meanwhile. The writer may be asynchronous (a thread of its own, see
// store/writerThread.ts); a bounded number of groups is with it at a time.
import type { Service } from '../service.js';
import type { CommittedItem, IngestItem, IngestOutcome } from './types.js';

export type CommitCallback = (err: Error | null, result?: IngestOutcome) => void;

export interface GroupCommitter {
  /** Commits the items in one transaction, durably, and calls back with each item's outcome, or an error if nothing was stored. */
  commit(items: readonly IngestItem[], done: (err: Error | null, committed?: CommittedItem[]) => void): void;
}

/** A committer that commits synchronously (the store on this thread). */
export function syncCommitter(commit: (items: readonly IngestItem[]) => CommittedItem[]): GroupCommitter {
  return {
    commit(items, done) {
      let committed: CommittedItem[];
      try {
        committed = commit(items);
      } catch (err) {
        return done(err as Error);
      }
      done(null, committed);
    },
  };
}

export interface CommitQueueHooks {
  /** An item joins the queue, before any commit: what must not wait for the disk (alarms) starts here. */
  onSubmitted?(item: IngestItem): void;
  /** After each successful transaction, before callbacks run (alarms, metrics). */
  onCommitted?(committed: readonly CommittedItem[], durationMs: number): void;
  /** A transaction failed; its items were retried one by one. */
  onError?(err: Error, items: number): void;
  /** onCommitted, or a submitter's callback, threw. */
  onListenerError?(err: Error): void;
}

export interface CommitQueueOptions {
  /**
   * Groups with an asynchronous writer at once (default 1). Two let the writer
   * start on the next group while the broker thread is still telling the
   * submitters of the last one.
   */
  readonly inFlight?: number;
  /**
   * How long the first item of a group waits for company when the writer
   * has room for another group (default 0: the next turn of the event loop),
   * and only while devices send on their own clock often enough that company
   * is likely: on average less than twice this apart (a running mean of the
   * gaps between such items). An item whose sender's previous one was
   * acknowledged moments before (a client that sends when it is answered:
   * a device uploading its backlog, an HL7 link) is not counted: waiting
   * would only delay it, as company that comes only once answered never
   * comes while it waits. On a quiet ward a reading goes at once, as with 0;
   * on a busy floor one commit and one fsync cover several readings. Items
   * that arrive while the writer has all the groups it may take never wait:
   * they go as soon as it answers; alarms never wait (onSubmitted runs at
   * once); only PUBACKs and ACKs do. The config key ingest.groupCommitMs
   * (docs/PERFORMANCE.md has what it buys and costs).
   */
  readonly gatherMs?: number;
}

/** The longest gap the running mean counts (ms). */
const MAX_GAP_MS = 1000;
/** An item this soon after its device's last answer (ms; at least twice the window) replies to it. */
const REACTIVE_MS = 10;
/** Devices whose last answer is remembered before the memory is emptied. */
const ANSWERED_LIMIT = 20_000;

/**
 * Who waits for an item's answer before sending the next: over MQTT and a
 * serial port the device itself; over HL7 a central station or interface
 * engine, one link carrying many devices' messages, each sent once the last
 * was acknowledged: all HL7 items are taken as one sender's.
 */
function senderOf(item: IngestItem): string | undefined {
  return item.source === 'hl7' ? 'hl7' : item.deviceId;
}

/** A service of the daemon: nothing to start; stopping closes it (below). */
export class CommitQueue implements Service {
  readonly name = 'ingest';
  readonly #store: GroupCommitter;
  readonly #hooks: CommitQueueHooks;
  #items: IngestItem[] = [];
  #callbacks: CommitCallback[] = [];
  #scheduled = false;
  /** Groups sent to the writer and not yet answered. */
  #inFlight = 0;
  readonly #maxInFlight: number;
  readonly #gatherMs: number;
  /** Running mean of the gaps between items sent on their senders' own clocks (ms); starts quiet. */
  #meanGapMs = MAX_GAP_MS;
  /** When the last such item came (none yet: a gap longer than any counted). */
  #lastOwnClockAt = -Infinity;
  /** When each device was last told its item was committed (only while gathering is on). */
  readonly #answeredAt = new Map<string, number>();
  readonly #reactiveMs: number;
  #closed = false;
  #drained: Array<() => void> = [];

  constructor(store: GroupCommitter, hooks: CommitQueueHooks = {}, options: CommitQueueOptions = {}) {
    this.#store = store;
    this.#hooks = hooks;
    this.#maxInFlight = options.inFlight ?? 1;
    this.#gatherMs = options.gatherMs ?? 0;
    this.#reactiveMs = Math.max(REACTIVE_MS, 2 * this.#gatherMs);
  }

  async start(): Promise<void> {}

  /** Stopped after every source of items and before the store closes, so that what was submitted is committed. */
  stop(): Promise<void> {
    return this.close();
  }

  /** Items waiting for the next group. */
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
    const gather = this.#gatherMs > 0 && this.#companyLikely(item);
    if (this.#hooks.onSubmitted) {
      try {
        this.#hooks.onSubmitted(item);
      } catch (err) {
        this.#hooks.onListenerError?.(err as Error);
      }
    }
    if (!this.#scheduled && this.#inFlight < this.#maxInFlight) {
      this.#scheduled = true;
      if (gather) setTimeout(() => this.flush(), this.#gatherMs);
      else setImmediate(() => this.flush());
    }
  }

  // Notes the item's arrival; true while items sent on their senders' own
  // clocks come, and lately came, on average less than twice the window
  // apart. The mean takes an eighth of each new gap, a gap counted at most a
  // second: a pause of a minute is forgotten after a few dozen readings, as a
  // burst is. An item that follows its device's last answer within moments is
  // a reply to it, not a sign of company to come, and leaves the mean as it is.
  #companyLikely(item: IngestItem): boolean {
    const now = performance.now();
    const sender = senderOf(item);
    const answered = sender === undefined ? undefined : this.#answeredAt.get(sender);
    if (answered === undefined || now - answered >= this.#reactiveMs) {
      this.#meanGapMs += (Math.min(now - this.#lastOwnClockAt, MAX_GAP_MS) - this.#meanGapMs) / 8;
      this.#lastOwnClockAt = now;
    }
    const busy = 2 * this.#gatherMs;
    return this.#meanGapMs < busy && now - this.#lastOwnClockAt < busy;
  }

  #noteAnswered(committed: readonly CommittedItem[]): void {
    // Bounded whatever the device ids (an unknown device's dead letters too): forgotten wholesale past a floor's size.
    if (this.#answeredAt.size > ANSWERED_LIMIT) this.#answeredAt.clear();
    const now = performance.now();
    for (const { item } of committed) {
      const sender = senderOf(item);
      if (sender !== undefined) this.#answeredAt.set(sender, now);
    }
  }

  submitAsync(item: IngestItem): Promise<IngestOutcome> {
    return new Promise((resolve, reject) => this.submit(item, (err, result) => (err ? reject(err) : resolve(result!))));
  }

  /** Sends everything waiting now to the writer, unless it has as many groups as it may (then it goes next). */
  flush(): void {
    this.#scheduled = false;
    if (this.#inFlight >= this.#maxInFlight) return;
    if (this.#items.length === 0) {
      if (this.#inFlight === 0) for (const resolve of this.#drained.splice(0)) resolve();
      return;
    }
    const items = this.#items;
    const callbacks = this.#callbacks;
    this.#items = [];
    this.#callbacks = [];
    this.#inFlight++;
    const started = performance.now();
    this.#commit(items, (err, committed) => {
      if (err) {
        this.#hooks.onError?.(err, items.length);
        this.#commitOneByOne(items, callbacks, 0);
        return;
      }
      this.#finish(committed!, callbacks, performance.now() - started);
      this.#next();
    });
  }

  // A writer that throws instead of calling back has failed the group all the same.
  #commit(items: readonly IngestItem[], done: (err: Error | null, committed?: CommittedItem[]) => void): void {
    try {
      this.#store.commit(items, done);
    } catch (err) {
      done(err as Error);
    }
  }

  /** Refuses new items; resolves once everything submitted before has been committed and its submitter told. */
  close(): Promise<void> {
    this.#closed = true;
    const drained = new Promise<void>((resolve) => this.#drained.push(resolve));
    this.flush();
    return drained;
  }

  // What arrived while the writer was busy goes at once: it has waited already.
  #next(): void {
    this.#inFlight--;
    this.flush();
  }

  // A failed group is retried item by item so that one item that cannot be
  // stored does not cost the others their acknowledgement. A writer that
  // answers at once (a refusal at the quota) is followed in a loop, not by
  // recursion: a group may hold thousands of items.
  #commitOneByOne(items: IngestItem[], callbacks: CommitCallback[], from: number): void {
    for (let i = from; i < items.length; i++) {
      const started = performance.now();
      let answered = false;
      let waiting = false;
      this.#commit([items[i]], (err, committed) => {
        answered = true;
        if (err) this.#tell(callbacks[i], err);
        else this.#finish(committed!, [callbacks[i]], performance.now() - started);
        if (waiting) this.#commitOneByOne(items, callbacks, i + 1);
      });
      if (!answered) {
        waiting = true;
        return;
      }
    }
    this.#next();
  }

  #finish(committed: CommittedItem[], callbacks: CommitCallback[], durationMs: number): void {
    if (this.#gatherMs > 0) this.#noteAnswered(committed);
    try {
      this.#hooks.onCommitted?.(committed, durationMs);
    } catch (err) {
      // What follows a commit must never cost a device its acknowledgement.
      this.#hooks.onListenerError?.(err as Error);
    }
    for (let i = 0; i < callbacks.length; i++) this.#tell(callbacks[i], null, committed[i].result);
  }

  // One submitter's failing callback must not cost the others theirs, nor reach the writer's thread of events.
  #tell(callback: CommitCallback, err: Error | null, result?: IngestOutcome): void {
    try {
      callback(err, result);
    } catch (thrown) {
      this.#hooks.onListenerError?.(thrown as Error);
    }
  }
}
