// Password verification (scrypt) is deliberately slow, so it is rationed: a
// few at a time on the thread pool, a bounded line behind them, and an answer
// at once when the line is full ("server unavailable", try again) rather than
// a wait that grows with every hostile CONNECT. Work whose requester has gone
// (a connection closed while it waited) is skipped, not done for nobody.

export type Unqueued = 'busy' | 'abandoned';

interface Waiting {
  readonly start: () => void;
  readonly abandon: () => void;
  readonly isWanted: () => boolean;
}

export class VerificationQueue {
  readonly #concurrency: number;
  readonly #maxWaiting: number;
  #running = 0;
  readonly #line: Waiting[] = [];

  constructor(options: { concurrency?: number; maxWaiting?: number } = {}) {
    this.#concurrency = options.concurrency ?? 2;
    this.#maxWaiting = options.maxWaiting ?? 32;
  }

  get concurrency(): number {
    return this.#concurrency;
  }

  /** Verifications running now. */
  get running(): number {
    return this.#running;
  }

  /** Verifications waiting for a slot (not those running). */
  get waiting(): number {
    return this.#line.length;
  }

  /** A new verification would be refused at once. */
  get full(): boolean {
    return this.#running >= this.#concurrency && this.#line.length >= this.#maxWaiting;
  }

  /** Runs `work` when a slot is free; 'busy' at once when the line is full, 'abandoned' if unwanted by its turn. */
  run<T>(work: () => Promise<T>, isWanted: () => boolean = () => true): Promise<T | Unqueued> {
    if (this.full) return Promise.resolve('busy');
    return new Promise<T | Unqueued>((resolve, reject) => {
      const start = () => {
        this.#running++;
        work()
          .then(resolve, reject)
          .finally(() => {
            this.#running--;
            this.#next();
          });
      };
      if (this.#running < this.#concurrency) start();
      else this.#line.push({ start, abandon: () => resolve('abandoned'), isWanted });
    });
  }

  #next(): void {
    while (this.#running < this.#concurrency && this.#line.length > 0) {
      const waiting = this.#line.shift()!;
      if (waiting.isWanted()) waiting.start();
      else waiting.abandon();
    }
  }
}
