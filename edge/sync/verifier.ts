// Reconciliation: asks the cloud what it holds for ranges of the outbox that
// it confirmed (POST {cloud.url}/verifyRange, shared/sync/verify.ts),
// compares counts and digests with the items the edge would send for the same
// ranges, and re-sends any range with a hole. A hole means the cloud lost what
// it confirmed: it raises the technical alarm "sync hole" until a later
// verification finds the range whole. The scheduled job checks what was
// confirmed since its last run (from its first run on); `wardgate sync
// --verify --since T` checks from T.
import {
  alarmKey,
  auditKey,
  rangeDigest,
  readingKey,
  verifiableStreams,
  MAX_VERIFY_RANGES,
  VERIFY_RANGE_SPAN,
  type VerifiableStream,
  type VerifyAnswer,
  type VerifyRange,
} from '../../shared/sync/verify.js';
import type { Logger } from '../log.js';
import { writeTransaction, type Db } from '../store/database.js';
import { readVerifyTotals, type VerifyTotals } from '../store/syncStatusQuery.js';
import { READING_N_STRIDE, type BatchBuilder } from './batchBuilder.js';
import type { Outbox, OutboxStream, Ranges } from '../store/outbox.js';
import { OutboxRows } from '../store/outboxRows.js';
import type { TechnicalAlarms } from './technicalAlarms.js';
import { postVerify } from './verifyClient.js';
import type { Outbound } from '../net/outbound.js';

/** Most items in one re-sent batch: well inside the batch byte bound. */
const REPAIR_ITEMS = 2000;

const outboxOf: Record<VerifiableStream, OutboxStream> = { readings: 'obs', alarms: 'alarms', audit: 'audit' };

export interface VerifierDeps {
  readonly db: Db;
  readonly outbox: Outbox;
  readonly builder: BatchBuilder;
  readonly url: string;
  readonly gateway: string;
  readonly secret: string;
  readonly timeoutMs: number;
  readonly log: Logger;
  readonly alarms?: TechnicalAlarms;
  readonly headers?: () => Promise<Record<string, string>>;
  /** How requests go out (the hospital's web proxy); absent: directly. */
  readonly outbound?: Outbound;
  readonly now?: () => number;
}

/** A range re-sent after a hole, checked again at the next run. */
interface Repair extends VerifyRange {
  readonly batches: string[];
  /** Items the edge held in the range when it found the hole (absent in repairs saved by earlier versions). */
  readonly items?: number;
  /** Some of them were gone from the edge before the cloud stored them again: they cannot be re-sent. */
  readonly lost?: boolean;
}

export interface VerifyReport {
  /** Ranges compared, and items the edge holds in them. */
  readonly ranges: number;
  readonly items: number;
  /** Items the edge holds that the cloud does not (at least; a digest tells a hole when counts agree). */
  readonly missing: number;
  /** Items the cloud holds beyond the edge's (duplicates, or rows the edge has purged). */
  readonly extra: number;
  /** Items put back in flight to fill holes. */
  readonly resent: number;
  /** Numbers the cloud's record claimed without the data (corrected by the cloud). */
  readonly corrected: number;
  readonly holes: ReadonlyArray<VerifyRange & { edge: number; cloud: number }>;
  /** Ranges re-sent and not yet found whole. */
  readonly pendingRepairs: number;
  /** False when the run stopped at its bound before the cursors: the next run goes on from where it stopped. */
  readonly complete: boolean;
}

interface Tally {
  ranges: number;
  items: number;
  missing: number;
  extra: number;
  resent: number;
  corrected: number;
  holes: Array<VerifyRange & { edge: number; cloud: number }>;
}

/** Requests in one run at most: what is left is checked by the next run, from where this one stopped. */
export const MAX_VERIFY_REQUESTS_PER_RUN = 8;
/** Alarm events or audit entries in one range at most: the cloud reads each as a document, the edge builds them as one batch. */
export const MAX_VERIFY_IDS = 2000;

export class Verifier {
  readonly #d: VerifierDeps;
  readonly #rows: OutboxRows;
  readonly #now: () => number;

  constructor(deps: VerifierDeps) {
    this.#d = deps;
    this.#rows = new OutboxRows(deps.db);
    this.#now = deps.now ?? Date.now;
  }

  /**
   * Checks what the cloud confirmed since the last run (or since `since`,
   * epoch ms), and re-sends holes. Bounded: at most
   * MAX_VERIFY_REQUESTS_PER_RUN requests of MAX_VERIFY_RANGES ranges, repairs
   * first (at most half of them), the event loop served between ranges, and
   * the point reached saved after each request, so that what is left (the
   * report is not `complete`) is checked by the next run, also after a restart.
   */
  async run(options: { since?: number } = {}): Promise<VerifyReport> {
    const { outbox } = this.#d;
    const now = this.#now();
    const cursors = outbox.cursors();
    const through: Record<VerifiableStream, number> = {
      readings: cursors.obs,
      alarms: cursors.alarms,
      audit: cursors.audit,
    };
    const reached = this.#startPoints(options.since);
    const waiting = this.#repairs();
    const repairsNow = waiting.slice(0, Math.ceil(MAX_VERIFY_REQUESTS_PER_RUN / 2) * MAX_VERIFY_RANGES);
    // Repairs not checked in this run stay, ahead of those checked now: each gets its turn.
    const later = waiting.slice(repairsNow.length);
    const tally: Tally = { ranges: 0, items: 0, missing: 0, extra: 0, resent: 0, corrected: 0, holes: [] };
    const checked: Repair[] = [];
    let requests = 0;
    for (;;) {
      const part: Array<{ range: VerifyRange; repair?: Repair }> = [];
      while (part.length < MAX_VERIFY_RANGES && repairsNow.length > 0) {
        const repair = repairsNow.shift()!;
        part.push({ range: { stream: repair.stream, lo: repair.lo, hi: repair.hi }, repair });
      }
      const taken = { ...reached };
      while (part.length < MAX_VERIFY_RANGES) {
        const range = nextRange(taken, through);
        if (!range) break;
        part.push({ range });
        taken[range.stream] = outboxThrough(range);
      }
      if (part.length === 0 || requests === MAX_VERIFY_REQUESTS_PER_RUN) {
        repairsNow.unshift(...part.flatMap((p) => (p.repair ? [p.repair] : [])));
        break;
      }
      const answers = await this.#askOnce(part.map((p) => p.range));
      requests++;
      const inFlight = new Set(outbox.batches().map((b) => b.id));
      const before = { ...tally, holes: tally.holes.length };
      for (const [k, { range, repair }] of part.entries()) {
        this.#compare(range, answers[k], repair, inFlight, now, tally, checked);
        // A range is a few thousand items at most: between two, whatever else waits on the loop runs.
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      Object.assign(reached, taken);
      this.#record(
        reached,
        [...later, ...repairsNow, ...checked],
        {
          items: tally.items - before.items,
          missing: tally.missing - before.missing,
          extra: tally.extra - before.extra,
          resent: tally.resent - before.resent,
          hole: tally.holes.length > before.holes,
        },
        now,
      );
    }
    // Complete: what was confirmed is checked up to the cursors (repairs beyond this run's share are checked again at the next runs, in turn).
    const complete = nextRange({ ...reached }, through) === undefined;
    // The marker of a run: also a run that asked nothing (the first, which only marks where the next starts).
    this.#record(
      reached,
      [...later, ...repairsNow, ...checked],
      { items: 0, missing: 0, extra: 0, resent: 0, hole: false },
      now,
      true,
    );
    const pendingRepairs = later.length + repairsNow.length + checked.length;
    const report: VerifyReport = { ...tally, pendingRepairs, complete };
    if (tally.holes.length > 0)
      this.#d.log.error(
        { holes: tally.holes.length, missing: tally.missing, resent: tally.resent },
        'items confirmed by the cloud are missing there; re-sent',
      );
    // The verify job's line says whether the run was complete; where it stopped is for debugging.
    if (!complete)
      this.#d.log.debug(
        { requests, reached },
        'verification stopped at its bound for one run; the next run goes on from here',
      );
    this.refreshAlarm();
    return report;
  }

  /** One range: the cloud's answer against the edge's items; a hole is re-sent and becomes a repair. */
  #compare(
    range: VerifyRange,
    cloud: VerifyAnswer['ranges'][number],
    repair: Repair | undefined,
    inFlight: ReadonlySet<string>,
    now: number,
    tally: Tally,
    pending: Repair[],
  ): void {
    const keys = this.#edgeKeys(range);
    tally.ranges++;
    tally.items += keys.length;
    tally.corrected += cloud.corrected;
    const whole = cloud.count === keys.length && cloud.digest === rangeDigest(keys);
    // Number by number where the cloud says which it holds: an item it holds twice, or one purged here, cannot make up for one it lacks.
    const exact = cloud.held ? compareHeld(keys, cloud.held, cloud.count) : undefined;
    // Rows of a hole gone from the edge before the cloud stored them again: the loss stays raised, it does not pass for whole.
    if (repair?.items !== undefined && keys.length < repair.items && (exact?.held ?? cloud.count) < repair.items) {
      if (!repair.lost) {
        this.#d.log.error(
          { ...range, items: repair.items, edge: keys.length, cloud: cloud.count },
          'items of a sync hole were lost before re-send: gone from the edge, not in the cloud',
        );
      }
      return void pending.push({ ...repair, lost: true });
    }
    if (whole || keys.length === 0) return;
    let lacking: number;
    if (exact) {
      if (exact.extra > 0) {
        tally.extra += exact.extra;
        this.#d.log.warn(
          { ...range, edge: keys.length, cloud: cloud.count, extra: exact.extra, missing: exact.missing },
          'the cloud holds more than the edge in a range (duplicates, or rows purged here)',
        );
      }
      if (exact.missing === 0) {
        // The same numbers on both sides and another digest: items that differ under one number, which a re-send would not change.
        if (exact.extra === 0)
          this.#d.log.error(
            { ...range, edge: keys.length, cloud: cloud.count },
            'the cloud holds other items than the edge under the same numbers',
          );
        return;
      }
      lacking = exact.missing;
    } else {
      // A cloud that does not say which numbers it holds: counts only.
      if (cloud.count > keys.length) {
        tally.extra += cloud.count - keys.length;
        this.#d.log.warn(
          { ...range, edge: keys.length, cloud: cloud.count },
          'the cloud holds more than the edge in a range (duplicates, or rows purged here)',
        );
        return;
      }
      lacking = Math.max(1, keys.length - cloud.count);
    }
    // A repair whose batches are still in flight is waiting for them, not a new hole.
    if (repair && repair.batches.some((id) => inFlight.has(id))) return void pending.push(repair);
    if (!repair) {
      tally.missing += lacking;
      tally.holes.push({ ...range, edge: keys.length, cloud: cloud.count });
    }
    const planned = this.#resend(range, now);
    tally.resent += planned.items;
    pending.push({ ...range, batches: planned.batches, items: repair?.items ?? keys.length });
  }

  /** Raises "sync hole" while a re-sent range waits to be found whole; clears it after. */
  refreshAlarm(): void {
    const repairs = this.#repairs();
    if (repairs.length === 0) return this.#d.alarms?.set('sync:hole', null);
    const totals = readVerifyTotals(this.#d.db);
    const lost = repairs.filter((r) => r.lost).length;
    this.#d.alarms?.set('sync:hole', {
      rule: 'sync-hole',
      priority: 'medium',
      message:
        `The cloud lacked items it had confirmed (${totals.missing} found since install); ${repairs.length} range(s) re-sent and awaiting verification` +
        (lost > 0
          ? `; ${lost} range(s) lost before re-send (gone from the gateway before the cloud stored them again)`
          : ''),
    });
  }

  /**
   * Where each stream's check starts (an outbox id: items above it): where the
   * last run ended; at the very first run, the cursors (what a cloud of an
   * earlier version stored cannot be verified: its segments lack the fields
   * the verification finds them by, and would be judged holes and stored twice).
   */
  #startPoints(since: number | undefined): Record<VerifiableStream, number> {
    const saved = this.#d.outbox.state('verify_through');
    if (since === undefined) {
      if (saved !== undefined) return JSON.parse(saved) as Record<VerifiableStream, number>;
      const cursors = this.#d.outbox.cursors();
      return { readings: cursors.obs, alarms: cursors.alarms, audit: cursors.audit };
    }
    const first = (stream: VerifiableStream) => {
      const id = this.#rows.firstWrittenFrom(outboxOf[stream], since);
      return id === null ? this.#d.outbox.cursors()[outboxOf[stream]] : id - 1;
    };
    return { readings: first('readings'), alarms: first('alarms'), audit: first('audit') };
  }

  #repairs(): Repair[] {
    const saved = this.#d.outbox.state('verify_repairs');
    return saved === undefined ? [] : (JSON.parse(saved) as Repair[]);
  }

  async #askOnce(ranges: readonly VerifyRange[]): Promise<VerifyAnswer['ranges']> {
    const client = {
      url: this.#d.url,
      secret: this.#d.secret,
      timeoutMs: this.#d.timeoutMs,
      now: this.#now,
      ...(this.#d.headers && { headers: this.#d.headers }),
      ...(this.#d.outbound && { outbound: this.#d.outbound }),
    };
    return (await postVerify(client, { v: 1, gateway: this.#d.gateway, ranges })).ranges;
  }

  /** The keys of the items the edge would send for a range of numbers. */
  #edgeKeys(range: VerifyRange): string[] {
    const batch = this.#d.builder.build(toOutboxRanges(range), this.#now()).batch;
    if (range.stream === 'readings')
      return batch.readings.filter((r) => r.n >= range.lo && r.n <= range.hi).map(readingKey);
    if (range.stream === 'alarms') return batch.alarms.map(alarmKey);
    return (batch.audit ?? []).map(auditKey);
  }

  /** Puts the range back in flight as batches (counted as no new readings: they were counted when first confirmed). */
  #resend(range: VerifyRange, now: number): { items: number; batches: string[] } {
    const stream = outboxOf[range.stream];
    const held = toOutboxRanges(range)[stream];
    const { after } = held;
    const sizes = this.#rows.sizesIn(stream, held);
    // Cut into batches of whole messages, at most REPAIR_ITEMS items each (a larger message alone).
    const chunks: Array<{ after: number; through: number }> = [];
    let first = after;
    let last = after;
    let count = 0;
    for (const row of sizes) {
      if (count > 0 && count + row.n > REPAIR_ITEMS) {
        chunks.push({ after: first, through: last });
        first = last;
        count = 0;
      }
      count += row.n;
      last = row.id;
    }
    if (count > 0) chunks.push({ after: first, through: last });
    const known = new Set(this.#d.outbox.batches().map((b) => b.id));
    const batches: string[] = [];
    let items = 0;
    for (const chunk of chunks) {
      const ranges = emptyRanges();
      ranges[stream] = chunk;
      const built = this.#d.builder.build(ranges, now);
      if (!known.has(built.batch.batchId)) this.#d.outbox.record(built.batch.batchId, ranges, built.items, 0, now);
      batches.push(built.batch.batchId);
      items += built.items;
    }
    return { items, batches };
  }

  /** Saves the point reached, the repairs and the figures: after every request, so that a restart goes on from there. */
  #record(
    reached: Record<VerifiableStream, number>,
    pending: readonly Repair[],
    delta: { items: number; missing: number; extra: number; resent: number; hole: boolean },
    now: number,
    endOfRun = false,
  ): void {
    const { outbox } = this.#d;
    const totals = readVerifyTotals(this.#d.db);
    writeTransaction(this.#d.db, () => {
      outbox.setState('verify_through', JSON.stringify(reached));
      outbox.setState('verify_repairs', JSON.stringify(pending));
      outbox.setState(
        'verify_totals',
        JSON.stringify({
          runs: totals.runs + (endOfRun ? 1 : 0),
          items: totals.items + delta.items,
          missing: totals.missing + delta.missing,
          extra: totals.extra + delta.extra,
          resent: totals.resent + delta.resent,
          lastRunTs: endOfRun ? now : totals.lastRunTs,
          lastHoleTs: delta.hole ? now : totals.lastHoleTs,
        } satisfies VerifyTotals),
      );
    })();
  }
}

/**
 * The edge's items of a range against the numbers the cloud holds (closed
 * intervals, ascending) and its count of items: how many of the edge's
 * numbers it lacks, how many items it holds beyond the edge's (numbers the
 * edge does not have, and items held twice), and how many distinct numbers it holds.
 */
export function compareHeld(
  keys: readonly string[],
  held: ReadonlyArray<readonly [number, number]>,
  count: number,
): { missing: number; extra: number; held: number } {
  let distinct = 0;
  for (const [lo, hi] of held) distinct += hi - lo + 1;
  const numbers = keys.map((k) => Number.parseInt(k, 10)).sort((a, b) => a - b);
  let missing = 0;
  let common = 0;
  let j = 0;
  for (const n of numbers) {
    while (j < held.length && held[j][1] < n) j++;
    if (j < held.length && held[j][0] <= n) common++;
    else missing++;
  }
  return { missing, extra: distinct - common + Math.max(0, count - distinct), held: distinct };
}

/**
 * The next range to check after `reached` (outbox ids per stream, checked up
 * to there), up to `through`: readings first, then alarm events, then audit
 * entries; a range never crosses a shard of the cloud's record, and holds at
 * most MAX_VERIFY_IDS alarm events or audit entries.
 */
function nextRange(
  reached: Record<VerifiableStream, number>,
  through: Record<VerifiableStream, number>,
): VerifyRange | undefined {
  for (const stream of verifiableStreams) {
    if (reached[stream] >= through[stream]) continue;
    const shardEnd = (n: number) => (Math.floor(n / VERIFY_RANGE_SPAN) + 1) * VERIFY_RANGE_SPAN - 1;
    if (stream === 'readings') {
      const lo = (reached.readings + 1) * READING_N_STRIDE;
      return { stream, lo, hi: Math.min(through.readings * READING_N_STRIDE + READING_N_STRIDE - 1, shardEnd(lo)) };
    }
    const lo = reached[stream] + 1;
    return { stream, lo, hi: Math.min(through[stream], lo + MAX_VERIFY_IDS - 1, shardEnd(lo)) };
  }
  return undefined;
}

/** The outbox id a range of numbers ends at (its last whole message, for readings). */
function outboxThrough(range: VerifyRange): number {
  return range.stream === 'readings' ? Math.floor((range.hi + 1) / READING_N_STRIDE) - 1 : range.hi;
}

/** The outbox ranges that hold a range of numbers. */
function toOutboxRanges(range: VerifyRange): Ranges {
  const ranges = emptyRanges();
  if (range.stream === 'readings') {
    ranges.obs = {
      after: Math.ceil(range.lo / READING_N_STRIDE) - 1,
      through: Math.floor(range.hi / READING_N_STRIDE),
    };
  } else {
    ranges[outboxOf[range.stream]] = { after: range.lo - 1, through: range.hi };
  }
  return ranges;
}

const emptyRanges = (): Ranges => ({
  alarms: { after: 0, through: 0 },
  obs: { after: 0, through: 0 },
  status: { after: 0, through: 0 },
  audit: { after: 0, through: 0 },
});
