// The serial device of the power-cut load: a Masimo oximeter printing "ASCII 1"
// lines (DOMAIN.md section 6) into the device end of a socat pty pair, with
// the device's own time in each line. The cable stays plugged across the cuts
// and the device keeps printing while the gateway is down, as a real one does:
// what it prints meanwhile is discarded when the gateway opens the port again
// (docs/SERIAL.md). Serial has no acknowledgement, so the device never sends a
// line twice; what the gateway had read but not committed at a cut is gone.
//
// What the gateway says it stored is read from its own metrics: the count of
// serial messages committed (`wardgate_ingest_messages_total`, source serial,
// outcome stored, counted once the commit is on disk), scraped while it runs.
import { closeSync, constants, openSync, writeSync } from 'node:fs';
import { masimoLine } from '../../simulators/serialLines.js';
import type { PtyCable } from '../helpers/pty.js';

/** Lines a second: a real Masimo prints one; the load runs the device's clock fast, with its time in each line. */
const INTERVAL_MS = 50;

export class SerialOximeter {
  /** Lines written whole into the cable. */
  written = 0;
  readonly #cable: PtyCable;
  readonly #t0: number;
  #fd: number | undefined;
  #timer: NodeJS.Timeout | undefined;
  /** What is left of the line being written, when the pty was full. */
  #pending: Buffer | undefined;

  /** `t0`: the device time of the first line (whole seconds); each line is one device second later. */
  constructor(cable: PtyCable, t0: number) {
    this.#cable = cable;
    this.#t0 = t0;
  }

  /** Device time of line i: the observation's time as the gateway stores it. */
  lineTs(i: number): number {
    return this.#t0 + i * 1000;
  }

  start(): void {
    // Non-blocking: with the gateway down and the pty full, a write would otherwise hang this process.
    this.#fd = openSync(this.#cable.device, constants.O_WRONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
    this.#timer = setInterval(() => this.#tick(), INTERVAL_MS);
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
  }

  #tick(): void {
    if (this.#fd === undefined) return;
    const i = this.written;
    this.#pending ??= Buffer.from(
      masimoLine({ ts: this.lineTs(i), spo2: 95 + (i % 4), pr: 68 + (i % 11), exc: 0x800, utc: true }),
    );
    try {
      const n = writeSync(this.#fd, this.#pending);
      this.#pending = this.#pending.subarray(n);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
    }
    if (this.#pending.length === 0) {
      this.#pending = undefined;
      this.written++;
    }
  }
}

/** Scrapes the daemon's /metrics until stopped; `stored` is the last count of serial messages it reported committed. */
export class StoredCounter {
  stored = 0;
  #running = true;
  readonly #done: Promise<void>;

  constructor(httpPort: number, everyMs = 200) {
    this.#done = this.#loop(`http://127.0.0.1:${httpPort}/metrics`, everyMs);
  }

  async stop(): Promise<void> {
    this.#running = false;
    await this.#done;
  }

  async #loop(url: string, everyMs: number): Promise<void> {
    while (this.#running) {
      try {
        const text = await (await fetch(url, { signal: AbortSignal.timeout(2000) })).text();
        const count = serialStored(text);
        if (count !== undefined) this.stored = count;
      } catch {
        // The daemon is gone (the cut): the last count stands.
      }
      await new Promise((r) => setTimeout(r, everyMs));
    }
  }
}

/** The counter of serial messages stored, from a Prometheus text exposition; undefined before the first one. */
export function serialStored(text: string): number | undefined {
  for (const line of text.split('\n')) {
    const m = /^wardgate_ingest_messages_total\{([^}]*)\} (\d+)/.exec(line);
    if (!m) continue;
    const labels = new Set(m[1].split(','));
    if (labels.has('source="serial"') && labels.has('outcome="stored"')) return Number(m[2]);
  }
  return undefined;
}
