// Retained latest vitals and NEWS2 per bed (`wardgate/ward/{ward}/beds/{bed}/vitals`)
// for ward displays. Changed beds are gathered and go out together, once a
// second: a display refreshes no faster, a bed with a monitor, an oximeter
// and a pump must not turn each of their messages into a retained publish,
// and a floor of 1,000 beds costs one timer a second, not a publish and a
// timer per reading. The first change after a quiet second goes out at once;
// the newest state always follows. Alarm events do not wait for this: they
// go out on their own topic as soon as they are committed.
import { topics } from '../../shared/topics.js';
import type { AlarmEngine } from './engine.js';
import type { Publisher } from './outputs.js';

export const VITALS_INTERVAL_MS = 1000;
/** Beds published in one turn of the event loop. */
const SLICE = 25;

export class BedVitalsPublisher {
  readonly #ward: string;
  readonly #engine: AlarmEngine;
  readonly #publisher: Publisher;
  readonly #intervalMs: number;
  /** Beds changed since the last flush, in the order they changed. */
  readonly #changed = new Set<string>();
  #timer: NodeJS.Timeout | undefined;
  #lastFlush = -Infinity;
  #stopped = false;

  constructor(ward: string, engine: AlarmEngine, publisher: Publisher, intervalMs = VITALS_INTERVAL_MS) {
    this.#ward = ward;
    this.#engine = engine;
    this.#publisher = publisher;
    this.#intervalMs = intervalMs;
  }

  /** A bed's readings changed. */
  changed(bed: string): void {
    if (this.#stopped) return;
    this.#changed.add(bed);
    if (this.#timer) return; // goes out with the scheduled flush
    const wait = Math.max(0, this.#lastFlush + this.#intervalMs - Date.now());
    this.#timer = setTimeout(() => this.#flush(), wait);
    this.#timer.unref();
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#changed.clear();
  }

  #flush(): void {
    this.#timer = undefined;
    this.#lastFlush = Date.now();
    const beds = [...this.#changed];
    this.#changed.clear();
    this.#publishFrom(beds, 0);
  }

  /**
   * A floor's beds go out a slice at a time, each slice in its own turn of
   * the event loop: a thousand publishes in one turn would hold every
   * PUBACK waiting behind them for tens of milliseconds.
   */
  #publishFrom(beds: readonly string[], from: number): void {
    if (this.#stopped) return;
    const end = Math.min(beds.length, from + SLICE);
    for (let i = from; i < end; i++) this.#publish(beds[i]);
    if (end < beds.length) setImmediate(() => this.#publishFrom(beds, end));
  }

  /** The last time formatted: the metrics of one message share their receive time, formatted once. */
  #isoTs = Number.NaN;
  #isoText = '';

  #iso(ts: number): string {
    if (ts !== this.#isoTs) {
      this.#isoTs = ts;
      this.#isoText = new Date(ts).toISOString();
    }
    return this.#isoText;
  }

  #publish(bed: string): void {
    const { latest, news2 } = this.#engine.vitalsOf(bed);
    // A plain object, not a null-prototype one (a slow dictionary to build and to serialize): its keys are
    // the registry's short names (shared/codes.ts) and 'pulse', never '__proto__'.
    const vitals: Record<string, { value: number; ts: string; flags: number }> = {};
    for (const [k, p] of latest) vitals[k] = { value: p.value, ts: this.#iso(p.ts), flags: p.flags };
    this.#publisher.publish(
      topics.bedVitals(this.#ward, bed),
      {
        bed,
        vitals,
        news2: news2 && { score: news2.score, level: news2.level, missing: news2.missing, stale: news2.stale },
      },
      { retain: true },
    );
  }
}
