// Retained latest vitals and NEWS2 per bed (`wardgate/ward/{ward}/beds/{bed}/vitals`)
// for ward displays. A bed's state goes out at most every 250 ms: a display
// cannot show more, and a device sending a hundred values a second must not
// turn into a hundred retained publishes. The newest state always follows.
import { topics } from '../../shared/topics.js';
import type { AlarmEngine } from './engine.js';
import type { Publisher } from './outputs.js';

export const VITALS_INTERVAL_MS = 250;

export class BedVitalsPublisher {
  readonly #ward: string;
  readonly #engine: AlarmEngine;
  readonly #publisher: Publisher;
  readonly #lastAt = new Map<string, number>();
  readonly #pending = new Map<string, NodeJS.Timeout>();

  constructor(ward: string, engine: AlarmEngine, publisher: Publisher) {
    this.#ward = ward;
    this.#engine = engine;
    this.#publisher = publisher;
  }

  /** A bed's readings changed. */
  changed(bed: string): void {
    if (this.#pending.has(bed)) return; // the newest state goes out with the scheduled publish
    const wait = (this.#lastAt.get(bed) ?? -Infinity) + VITALS_INTERVAL_MS - Date.now();
    if (wait <= 0) return this.#publish(bed);
    const timer = setTimeout(() => {
      this.#pending.delete(bed);
      this.#publish(bed);
    }, wait);
    timer.unref();
    this.#pending.set(bed, timer);
  }

  stop(): void {
    for (const timer of this.#pending.values()) clearTimeout(timer);
    this.#pending.clear();
  }

  #publish(bed: string): void {
    this.#lastAt.set(bed, Date.now());
    const snapshot = this.#engine.bed(bed);
    this.#publisher.publish(
      topics.bedVitals(this.#ward, bed),
      {
        bed,
        vitals: Object.fromEntries(Object.entries(snapshot.vitals).map(([k, p]) => [k, { value: p.value, ts: new Date(p.ts).toISOString(), flags: p.flags }])),
        news2: snapshot.news2 && { score: snapshot.news2.score, level: snapshot.news2.level, missing: snapshot.news2.missing, stale: snapshot.news2.stale },
      },
      { retain: true },
    );
  }
}
