// A small JSON file in the data directory that `wardgate status` reads, so
// that it can show a link's state whether or not the daemon runs. Written
// from the holder's snapshot at most every few seconds, and replaced
// atomically (a temporary file renamed over it), so that a reader never
// sees half a file. Best effort: a file that cannot be written (a full
// disk) must not disturb what it reports on; the metrics say the same.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';

export interface StatusFileOptions {
  /** Least time between two writes of changes, ms. */
  readonly minIntervalMs?: number;
  /** The file's permissions; the process's default (umask) when absent. */
  readonly mode?: number;
}

export class StatusFile<T> {
  readonly #file: string | undefined;
  readonly #snapshot: () => T;
  readonly #minIntervalMs: number;
  readonly #mode: number | undefined;
  #dirty = false;
  #timer: NodeJS.Timeout | undefined;
  #lastWrite = 0;

  /** No file: nothing is written (the holder keeps its state in memory only). */
  constructor(file: string | undefined, snapshot: () => T, options: StatusFileOptions = {}) {
    this.#file = file;
    this.#snapshot = snapshot;
    this.#minIntervalMs = options.minIntervalMs ?? 2000;
    this.#mode = options.mode;
  }

  /** Something changed: written within minIntervalMs of the last write. */
  changed(): void {
    this.#dirty = true;
    if (!this.#file || this.#timer) return;
    const wait = Math.max(0, this.#lastWrite + this.#minIntervalMs - Date.now());
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.write();
    }, wait);
    this.#timer.unref();
  }

  /** Writes the snapshot now; a write waiting for its interval is not needed any more. */
  write(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (!this.#file) return;
    this.#dirty = false;
    this.#lastWrite = Date.now();
    const tmp = `${this.#file}.tmp`;
    try {
      writeFileSync(tmp, `${JSON.stringify(this.#snapshot())}\n`, this.#mode === undefined ? {} : { mode: this.#mode });
      renameSync(tmp, this.#file);
    } catch {
      // Best effort, as said above.
    }
  }

  /** Writes what changed since the last write, if anything did (at stop). */
  flush(): void {
    // A write waiting for its interval means something changed: dirty covers it.
    if (this.#dirty) this.write();
  }
}

/** The status last written to `file`; undefined when there is none or it cannot be read. */
export function readStatusFile<T>(file: string): T | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}
