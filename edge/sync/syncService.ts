// The sync: drains the outbox to {cloud.url}/ingestBatch with several
// batches in flight, alarm events first, retrying 5xx/timeouts/network errors
// with backoff forever and quarantining 4xx answers (nothing is deleted).
// Exactly once in effect: a batch is written down before its first attempt,
// re-sent as the same items until the cloud confirms it, and the cloud stores
// each item at most once by its (stream, n) key.
import { encodeBatch, encodeBatchSized } from '../../shared/sync/codec.js';
import { MAX_BATCH_JSON_BYTES } from '../../shared/sync/wire.js';
import { validateBatch } from '../../shared/sync/validate.js';
import { parseHeads, type StreamHeads } from '../../shared/sync/verify.js';
import { isRejection } from '../../shared/timestamp.js';
import type { Outbound } from '../net/outbound.js';
import type { Logger } from '../log.js';
import type { Service } from '../service.js';
import type { Db } from '../store/database.js';
import { alarmEventsIn, oldestReceivedAbove } from '../store/outboxQueries.js';
import { backoffDelay } from './backoff.js';
import { BatchBuilder, type BuiltBatch, type Identity } from './batchBuilder.js';
import type { CloudConfig } from './config.js';
import { Outbox, type Ranges } from '../store/outbox.js';
import { DrainRate } from './progress.js';
import { raiseNumbering } from './numbering.js';
import { Pseudonyms } from './pseudonyms.js';
import { classify, Transport, type Attempt, type TokenSource } from './transport.js';
import type { TechnicalAlarms } from './technicalAlarms.js';
import { postVerify, VerifyRequestError } from './verifyClient.js';

export type SyncState = 'idle' | 'draining' | 'retrying' | 'paused';

export interface SyncMetricsSink {
  batch(outcome: 'synced' | 'duplicate' | 'retry' | 'quarantined', bytes: number): void;
  error(code: string): void;
  /** A stream's numbering was raised above the cloud's at start (numbering.ts). */
  numberingRaised?(stream: string): void;
  /** Items the cloud found under numbers it holds for other items (IngestAccepted.conflicts). */
  conflicts?(items: number): void;
}

export interface SyncDeps {
  readonly db: Db;
  readonly config: CloudConfig;
  readonly identity: Identity;
  /** Configured user names and device ids: the actors that travel by name (batchBuilder.ts). */
  readonly actors?: readonly string[];
  readonly secret: string;
  readonly wardSecret: string;
  readonly log: Logger;
  readonly alarms?: TechnicalAlarms;
  readonly metrics?: SyncMetricsSink;
  readonly tokens?: TokenSource;
  /** How requests go out (the hospital's web proxy); absent: directly. */
  readonly outbound?: Outbound;
  readonly now?: () => number;
  readonly random?: () => number;
}

interface Pending {
  readonly id: string;
  readonly ranges: Ranges;
  attempt: number;
  notBefore: number;
  active: boolean;
  /** The batch as built and compressed while planning, reused by the first attempt: building and gzip are most of a batch's cost. */
  planned?: { built: BuiltBatch; body: Buffer } | undefined;
}

/** sync_state key: the start from which rows may carry numbers the cloud holds, until the numbering is checked. */
const NUMBERING_SINCE = 'numbering_unchecked_since';

/** The cloud's validator allows item times this far ahead of its clock. */
const MAX_FUTURE_MS = 5 * 60_000;

export class SyncService implements Service {
  readonly name = 'sync';
  readonly #deps: SyncDeps;
  readonly #now: () => number;
  readonly #log: Logger;
  readonly #pending = new Map<string, Pending>();
  readonly #active = new Set<Promise<void>>();
  readonly #rate = new DrainRate();
  #outbox!: Outbox;
  #builder!: BatchBuilder;
  #transport!: Transport;
  #cancel = new AbortController();
  #timer: NodeJS.Timeout | undefined;
  #scheduled = false;
  #stopped = true;
  #state: SyncState | undefined;
  #failingSince: number | null = null;
  /** When this process built the sync, before the database opened: rows from then on are this process's own. */
  readonly #constructedAt: number;
  /** The numbering checked against the cloud's since start (numbering.ts): until then nothing is sent. */
  #numbering: 'unchecked' | 'checking' | 'waiting' | 'checked' = 'unchecked';
  #numberingAttempt = 0;
  /** Since when every answer has been a signature refusal (null: the last answer was not one). */
  #signatureRefusedSince: number | null = null;

  constructor(deps: SyncDeps) {
    this.#deps = deps;
    this.#now = deps.now ?? Date.now;
    this.#log = deps.log.child({ module: 'sync' });
    this.#constructedAt = this.#now();
  }

  async start(): Promise<void> {
    const { db } = this.#deps;
    this.#outbox = new Outbox(db);
    this.#builder = new BatchBuilder(
      db,
      new Pseudonyms(db, this.#deps.wardSecret),
      this.#deps.identity,
      this.#deps.actors,
    );
    const { url, requestTimeoutMs } = this.#deps.config;
    this.#transport = new Transport({
      url,
      secret: this.#deps.secret,
      timeoutMs: requestTimeoutMs,
      now: this.#now,
      ...(this.#deps.tokens && { tokens: this.#deps.tokens }),
      ...(this.#deps.outbound && { outbound: this.#deps.outbound }),
    });
    this.#cancel = new AbortController();
    this.#stopped = false;
    const restored = this.#outbox.batches('inflight').length;
    if (restored) this.#log.info({ batches: restored }, 'resending batches planned before the last stop');
    this.#checkQuarantine();
    // The first start without an answer marks from when rows may carry numbers the cloud already holds; a later start keeps that mark.
    if (this.#outbox.state(NUMBERING_SINCE) === undefined) this.#outbox.setState(NUMBERING_SINCE, this.#constructedAt);
    this.#numbering = 'unchecked';
    this.#numberingAttempt = 0;
    this.kick();
  }

  /**
   * Asks the cloud for the highest number it holds per stream and raises the
   * numbering above it where it lies below (numbering.ts); retried with the
   * batches' backoff until answered. Then the sync starts sending.
   */
  async #checkNumbering(): Promise<void> {
    this.#numbering = 'checking';
    const client = {
      url: this.#deps.config.url,
      secret: this.#deps.secret,
      timeoutMs: this.#deps.config.requestTimeoutMs,
      now: this.#now,
      ...(this.#deps.tokens && { headers: () => this.#deps.tokens!.headers() }),
      ...(this.#deps.outbound && { outbound: this.#deps.outbound }),
    };
    let heads: StreamHeads | undefined;
    try {
      const answer = await postVerify(
        client,
        { v: 1, gateway: this.#deps.identity.gateway, ranges: [], heads: true },
        this.#cancel.signal,
      );
      heads = parseHeads(answer.heads);
      if (!heads)
        throw new VerifyRequestError(
          'verifyRange answered without the heads asked for',
          200,
          'WG_ERR_ANSWER',
          undefined,
        );
    } catch (err) {
      if (this.#stopped) return;
      const e = err as VerifyRequestError;
      // A cloud older than the question: 404 (no verifyRange) or 400 on the ranges it requires. It cannot answer; send unchecked.
      if (e.status === 404 || (e.status === 400 && e.field === 'ranges')) {
        this.#log.warn(
          { status: e.status, code: e.code },
          'the cloud cannot tell the numbers it holds (an older version): sending without checking the numbering',
        );
        return this.#numberingDone();
      }
      this.#deps.metrics?.error(e.code ?? 'numbering');
      const refusal =
        e.status === null
          ? undefined
          : classify(e.status, JSON.stringify({ error: { code: e.code, message: e.message } }), '');
      const waiting = refusal?.outcome === 'quarantine' && this.#awaitingSecret(refusal.code);
      if (refusal?.outcome === 'quarantine' && refusal.pause && !waiting) {
        // Credentials, clock, ward or a proxy that alters requests: every batch would be refused too. The operator's retry lifts the pause and asks again.
        this.#numbering = 'unchecked';
        this.#outbox.setState(
          'paused',
          `${refusal.status} ${refusal.code}: the numbering check was refused: ${e.message}`,
        );
        this.#setState('paused');
        this.#checkQuarantine();
        this.#log.error(
          { status: e.status, code: e.code, err: e.message },
          'the numbering check was refused; sync paused',
        );
        return;
      }
      this.#numberingAttempt++;
      const retryInMs = this.#delay(this.#numberingAttempt);
      this.#setState('retrying');
      this.#log.warn(
        { status: e.status, code: e.code, err: e.message, retryInMs },
        waiting
          ? 'the cloud refused the signature: retrying while it may not know this gateway yet (it reloads its secrets every 30 s); nothing is sent until it answers'
          : 'the numbering could not be checked with the cloud; nothing is sent until it is',
      );
      this.#numbering = 'waiting';
      clearTimeout(this.#timer);
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.#numbering = 'unchecked';
        this.kick();
      }, retryInMs);
      return;
    }
    if (this.#stopped) return;
    this.#signatureRefusedSince = null;
    const since = Number(this.#outbox.state(NUMBERING_SINCE) ?? this.#constructedAt);
    const raised = raiseNumbering(this.#deps.db, heads, { since, planned: this.#outbox.plannedThrough() });
    for (const r of raised) {
      this.#deps.metrics?.numberingRaised?.(r.stream);
      this.#log.error(
        { stream: r.stream, cloudRow: r.cloudRow, localRow: r.localRow, raisedTo: r.raisedTo, moved: r.moved },
        'the cloud holds numbers this database had not reached (restored from an older backup, or replaced): numbering raised above them',
      );
    }
    this.#numberingDone();
  }

  #numberingDone(): void {
    this.#outbox.clearState(NUMBERING_SINCE);
    this.#numbering = 'checked';
    this.kick();
  }

  /** Abandons attempts in flight (their batches stay planned and are re-sent at the next start). */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#cancel.abort();
    await Promise.allSettled([...this.#active]);
    this.#pending.clear();
  }

  /** Looks for work soon: a new alarm event, a tick of the sync job, an operator's retry. */
  kick(): void {
    if (this.#scheduled || this.#stopped) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      this.#pump();
    });
  }

  /** New rows were committed: look for a batch unless every slot is busy or routine data is waiting out its age bound. */
  dataCommitted(): void {
    if (this.#active.size < this.#deps.config.concurrency && this.#timer === undefined) this.kick();
  }

  /** Readings per second confirmed over the last minute. */
  drainRate(): number {
    return this.#rate.rate(this.#now());
  }

  get state(): SyncState {
    return this.#state ?? 'idle';
  }

  #pump(): void {
    if (this.#stopped) return;
    const now = this.#now();
    if (this.#outbox.state('paused') !== undefined) return this.#setState('paused');
    if (this.#numbering !== 'checked') {
      if (this.#numbering === 'unchecked') void this.#checkNumbering();
      return;
    }
    this.#refreshPending();
    const { concurrency } = this.#deps.config;
    let wake = Infinity;
    for (const entry of this.#pending.values()) {
      if (this.#active.size >= concurrency) break;
      if (entry.active) continue;
      if (entry.notBefore > now) wake = Math.min(wake, entry.notBefore);
      else this.#launch(entry);
    }
    while (this.#active.size < concurrency && this.#pending.size < concurrency) {
      const planned = this.#planNext(now);
      if (planned === null) break;
      if (typeof planned === 'number') {
        wake = Math.min(wake, planned);
        break;
      }
      this.#launch(planned);
    }
    if (this.#pending.size === 0) this.#setState('idle');
    if (wake !== Infinity) {
      clearTimeout(this.#timer);
      this.#timer = setTimeout(
        () => {
          this.#timer = undefined;
          this.kick();
        },
        Math.max(0, wake - now),
      );
    }
  }

  /** Batches in flight in the database but not yet known here: planned before a restart, or retried by an operator. */
  #refreshPending(): void {
    const rows = this.#outbox.batches('inflight');
    const ids = new Set(rows.map((r) => r.id));
    for (const [id, entry] of this.#pending) if (!ids.has(id) && !entry.active) this.#pending.delete(id);
    for (const row of rows) {
      if (!this.#pending.has(row.id))
        this.#pending.set(row.id, { id: row.id, ranges: row.ranges, attempt: 0, notBefore: 0, active: false });
    }
  }

  /** Plans and records the next batch; a number is when routine data becomes due (the age bound); null when nothing waits. */
  #planNext(now: number): Pending | number | null {
    const { maxItems, maxBytes, maxAgeMs } = this.#deps.config.batch;
    const from = this.#outbox.plannedThrough();
    let limit = maxItems;
    let alarmsAlone = false;
    for (;;) {
      const plan = this.#builder.plan(from, limit);
      if (!plan) return null;
      const hasAlarms = plan.ranges.alarms.through > plan.ranges.alarms.after;
      // A batch the next device message would not fit in is full: waiting would not make it fuller.
      if (!alarmsAlone && !plan.full) {
        const due = this.#oldestReceived(plan.ranges) + maxAgeMs;
        if (due > now && !hasAlarms) return due;
        if (due > now) {
          // Alarm events go at once, and alone: routine data not yet due keeps waiting for company, since
          // each batch costs the cloud a fixed handful of writes however few readings it holds (docs/PERFORMANCE.md).
          alarmsAlone = true;
          limit = this.#alarmEventsIn(plan.ranges.alarms);
          continue;
        }
      }
      const built = this.#builder.build(plan.ranges, now);
      const { body, jsonBytes } = encodeBatchSized(built.batch);
      const bytes = body.length;
      // Both bounds: what is sent, and what the cloud inflates it to (JSON that compresses well can be many times larger).
      if ((bytes > maxBytes || jsonBytes > MAX_BATCH_JSON_BYTES) && limit > 1) {
        limit = Math.max(1, Math.floor(limit / 2));
        continue;
      }
      this.#outbox.record(built.batch.batchId, plan.ranges, plan.items, plan.readings, now);
      const entry: Pending = {
        id: built.batch.batchId,
        ranges: plan.ranges,
        attempt: 0,
        notBefore: 0,
        active: false,
        planned: { built, body },
      };
      this.#pending.set(entry.id, entry);
      return entry;
    }
  }

  /** Alarm events in (after, through]: planned with that many items, a batch holds them and nothing else (they are planned first). */
  #alarmEventsIn(range: { after: number; through: number }): number {
    return alarmEventsIn(this.#deps.db, range);
  }

  #oldestReceived(ranges: Ranges): number {
    return oldestReceivedAbove(this.#deps.db, {
      obs: ranges.obs.after,
      status: ranges.status.after,
      audit: ranges.audit.after,
    });
  }

  #launch(entry: Pending): void {
    entry.active = true;
    const run = this.#attempt(entry)
      .catch((err: Error) => {
        // A local fault (a disk error while building): keep the batch, try again later.
        this.#log.error({ err, batchId: entry.id }, 'sync attempt failed locally');
        entry.attempt++;
        entry.notBefore = this.#now() + this.#delay(entry.attempt);
      })
      .finally(() => {
        entry.active = false;
        this.#active.delete(run);
        this.kick();
      });
    this.#active.add(run);
  }

  async #attempt(entry: Pending): Promise<void> {
    const now = this.#now();
    const planned = entry.planned;
    entry.planned = undefined;
    // A retry rebuilds from the rows: the same items, so the same batch id.
    const built = planned?.built ?? this.#builder.build(entry.ranges, now);
    const invalid = validateBatch(built.batch, { now, maxFutureMs: MAX_FUTURE_MS });
    if (isRejection(invalid)) {
      // The cloud would refuse it the same way: quarantine without sending, with the reason.
      return this.#quarantined(entry, built, 0, {
        outcome: 'quarantine',
        status: 0,
        code: invalid.code,
        message: `refused before sending: ${invalid.field ?? ''} ${invalid.message}`,
        pause: false,
      });
    }
    const body = planned?.body ?? encodeBatch(built.batch);
    this.#outbox.attempted(entry.id, now);
    const result = await this.#transport.send(built.batch, body, this.#cancel.signal);
    if (this.#stopped) return;
    if (result.outcome === 'synced') {
      if (result.conflicts > 0) {
        this.#deps.metrics?.conflicts?.(result.conflicts);
        this.#log.error(
          { batchId: entry.id, conflicts: result.conflicts },
          'the cloud holds other items under numbers of this batch; they were not stored there',
        );
      }
      return this.#synced(entry, built, body.length, result.duplicate);
    }
    if (result.outcome === 'quarantine') {
      // A cloud that does not know this gateway yet refuses its signature until it reloads its secrets: wait for that.
      if (this.#awaitingSecret(result.code)) return this.#retry(entry, body.length, { ...result, outcome: 'retry' });
      return this.#quarantined(entry, built, body.length, result);
    }
    if (result.status !== null) this.#signatureRefusedSince = null;
    this.#retry(entry, body.length, result);
  }

  #synced(entry: Pending, built: BuiltBatch, bytes: number, duplicate: boolean): void {
    const now = this.#now();
    this.#signatureRefusedSince = null;
    this.#outbox.acknowledge(entry.id, now);
    this.#pending.delete(entry.id);
    this.#rate.record(now, built.readings);
    this.#outbox.setState('drain_rate', this.#rate.rate(now).toFixed(1));
    this.#deps.metrics?.batch(duplicate ? 'duplicate' : 'synced', bytes);
    if (this.#failingSince !== null) this.#log.info({ downForMs: now - this.#failingSince }, 'cloud reachable again');
    this.#failingSince = null;
    this.#deps.alarms?.set('sync:unreachable', null);
    this.#setState('draining');
    this.#log.debug({ batchId: entry.id, items: built.items, bytes, duplicate }, 'batch synced');
  }

  #retry(entry: Pending, bytes: number, result: Extract<Attempt, { outcome: 'retry' }>): void {
    const now = this.#now();
    entry.attempt++;
    entry.notBefore = now + this.#delay(entry.attempt);
    this.#deps.metrics?.batch('retry', bytes);
    this.#deps.metrics?.error(result.code);
    this.#failingSince ??= now;
    const lastSuccess = Number(this.#outbox.state('last_success_ts') ?? 0);
    const since = Math.max(this.#failingSince, lastSuccess);
    if (now - since >= this.#deps.config.unreachableAlarmAfterMs) {
      this.#deps.alarms?.set('sync:unreachable', {
        rule: 'cloud-unreachable',
        priority: 'low',
        message: `Cloud unreachable for ${Math.round((now - since) / 60_000)} min (${result.code}); data is buffered`,
      });
    }
    this.#setState('retrying');
    this.#log.warn(
      {
        batchId: entry.id,
        attempt: entry.attempt,
        status: result.status,
        code: result.code,
        reason: result.message,
        retryInMs: entry.notBefore - now,
      },
      'batch not accepted; will retry',
    );
  }

  #quarantined(
    entry: Pending,
    built: BuiltBatch,
    bytes: number,
    result: Extract<Attempt, { outcome: 'quarantine' }>,
  ): void {
    const now = this.#now();
    this.#outbox.quarantine(entry.id, result.status || null, result.code, result.message, now);
    this.#pending.delete(entry.id);
    this.#deps.metrics?.batch('quarantined', bytes);
    this.#deps.metrics?.error(result.code);
    if (result.pause) {
      // Credentials, clock or ward are wrong: every batch would be refused. Stop until the operator retries.
      this.#outbox.setState('paused', `${result.status} ${result.code}: ${result.message}`);
      this.#setState('paused');
    }
    this.#log.error(
      { batchId: entry.id, items: built.items, status: result.status, code: result.code, reason: result.message },
      'batch quarantined',
    );
    this.#checkQuarantine();
  }

  #checkQuarantine(): void {
    const quarantined = this.#outbox.batches('quarantined');
    const paused = this.#outbox.state('paused');
    if (quarantined.length === 0 && paused === undefined) return this.#deps.alarms?.set('sync:quarantine', null);
    const first = quarantined[0];
    this.#deps.alarms?.set('sync:quarantine', {
      rule: 'sync-quarantine',
      priority: 'medium',
      message: `${quarantined.length} sync batch(es) refused by the cloud${first ? ` (${first.httpStatus ?? '-'} ${first.errorCode})` : ''}${paused ? '; sync paused' : ''}: fix the cause, then run wardgate sync --retry-quarantined`,
    });
  }

  /** Called by the sync job: clears the quarantine alarm once an operator's retry has gone through. */
  tick(): void {
    if (this.#stopped) return;
    this.#checkQuarantine();
    this.kick();
  }

  /**
   * A signature refusal (401 WG_ERR_SIGNATURE) to retry rather than pause on: within signatureGraceMs of the first
   * of a run of them. The cloud gives one answer for an unknown gateway and a wrong secret (a prober cannot tell
   * them apart), and a gateway added to its secret file is unknown until the next reload.
   */
  #awaitingSecret(code: string): boolean {
    if (code !== 'WG_ERR_SIGNATURE') return false;
    const now = this.#now();
    this.#signatureRefusedSince ??= now;
    return now - this.#signatureRefusedSince < this.#deps.config.signatureGraceMs;
  }

  #delay(attempt: number): number {
    const { initialMs, maxMs } = this.#deps.config.backoff;
    return backoffDelay(attempt - 1, initialMs, maxMs, this.#deps.random);
  }

  #setState(state: SyncState): void {
    if (state === this.#state) return;
    this.#state = state;
    this.#outbox.setState('state', state);
  }
}
