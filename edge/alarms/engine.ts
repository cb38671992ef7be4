// The local alarm engine: evaluates every committed reading against limit,
// rate-of-change and NEWS2 rules, watches devices for technical conditions,
// and runs the alarm lifecycle. It needs neither the WAN nor the disk to raise
// an alarm: persistence and outputs are sinks that follow each event.
import type { EventBus } from '../bus.js';
import type { CommittedItem, IngestItem, ObservationItem } from '../ingest/types.js';
import type { Logger } from '../log.js';
import type { Service } from '../service.js';
import { AlarmBook } from './alarmBook.js';
import {
  BedPatients,
  SPOT_METRICS,
  type AdmissionChange,
  type BedAdmissions,
  type BedEpisodes,
  type BedPatient,
} from './bedPatients.js';
import {
  bedNews2Inputs,
  sameNews2,
  scoreBedNews2,
  type News2InputsAt,
  type News2Snapshot,
  type PatientContext,
} from './bedNews2.js';
import { ConditionTimer } from './condition.js';
import type { AlarmConfig } from './config.js';
import { EvaluatedReadings } from './evaluated.js';
import { bedOverrides, limitsFor, type Limit } from './limits.js';
import { limitVerdict, news2Verdict, rateVerdict, type Location, type Verdict } from './rules.js';
import type { Alarm, AlarmEvent, ConditionReport } from './types.js';
import { BedVitals, type ValuePoint } from './vitals.js';

export interface Clock {
  now(): number;
  /** Calls `fn` every `ms`; returns a function that stops it. */
  every(ms: number, fn: () => void): () => void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  every: (ms, fn) => {
    const timer = setInterval(fn, ms);
    timer.unref();
    return () => clearInterval(timer);
  },
};

/** Receives every lifecycle event, in order: the store first, then the outputs. */
export interface AlarmSink {
  readonly name: string;
  onEvent(event: AlarmEvent, alarm: Alarm): void;
  /** When present, called instead of onEvent with all events of one evaluation (the store: one transaction). */
  onEvents?(events: ReadonlyArray<readonly [AlarmEvent, Alarm]>): void;
}

export interface WatchedDevice {
  readonly id: string;
  readonly bed?: string;
  /** Overrides alarms.technical.silentAfterMs; 0: never silent (spot devices). */
  readonly silentAfterMs?: number;
}

export interface PatientDirectory extends BedAdmissions {
  atBed(bed: string): PatientContext | undefined;
}

export interface AlarmEngineDeps {
  readonly config: AlarmConfig;
  readonly devices: readonly WatchedDevice[];
  readonly bus: EventBus;
  readonly patients: PatientDirectory;
  readonly sinks: readonly AlarmSink[];
  readonly log: Logger;
  readonly clock?: Clock;
  /** Alarms open when the daemon last stopped. */
  readonly restored?: readonly Alarm[];
  /** When each device was last heard from, before this start. */
  readonly lastSeen?: ReadonlyMap<string, number>;
  /** Where each bed's new episodes are kept across restarts; without it, the start knows of none. */
  readonly episodes?: BedEpisodes;
}

export interface BedSnapshot {
  readonly bed: string;
  readonly vitals: Record<string, ValuePoint>;
  readonly news2: News2Snapshot | null;
  readonly alarms: Alarm[];
}

/** How much history rate-of-change rules need. */
const keepFor = (config: AlarmConfig) => Math.max(0, ...config.rateOfChange.map((r) => r.windowMs));

/** A metric's limit in a scope, with its condition's key and delay timer. */
interface LimitCondition {
  readonly limit: Limit;
  readonly key: string;
  readonly timer: ConditionTimer;
}

/**
 * What evaluating a scope's readings needs, looked up once per observation
 * rather than per reading: its vitals, and per metric its limit, condition key
 * and timer (null: the metric has no limit), per rate rule its key. Strings
 * built anew for each reading would cost their allocation and their hashing.
 */
interface ScopeState {
  readonly vitals: BedVitals;
  /** The bed's patient as the engine follows it; undefined for a device bound to no bed. */
  readonly patient: BedPatient | undefined;
  /** Readings received before this (gateway time) were the bed's previous patient's: not recorded. */
  readonly since: number;
  readonly limits: Map<string, Limit>;
  readonly limit: Map<string, LimitCondition | null>;
  readonly rate: Map<AlarmConfig['rateOfChange'][number], string>;
}

const NEWS2_INPUTS = new Set(['rr', 'spo2', 'pulse', 'nibp_sys', 'temp', 'fio2', 'o2_flow']);
const TICK_MS = 1000;
/** What a physiological alarm says once the bed's admission is no longer its own (cleared, or latched until acknowledged). */
export const PATIENT_LEFT = 'the patient left the bed';
export { NEW_EPISODE_GAP_MS } from './bedPatients.js';

export class AlarmEngine implements Service {
  readonly name = 'alarms';
  readonly #deps: AlarmEngineDeps;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #book: AlarmBook;
  readonly #timers = new Map<string, ConditionTimer>();
  readonly #pending = new Map<string, { report: ConditionReport; delayMs: number }>();
  readonly #beds = new Map<string, BedVitals>();
  readonly #news2 = new Map<string, News2Snapshot>();
  /** What each bed's NEWS2 was last scored from: inputs that score the same points are not scored again. */
  readonly #news2Inputs = new Map<string, News2InputsAt>();
  readonly #limits = new Map<string, Map<string, Limit>>();
  readonly #rateCheckedAt = new Map<string, number>();
  /** Per scope (a bed, or an unbound device), rebuilt after a config update. */
  readonly #scopes = new Map<string, ScopeState>();
  /** Each device's silent condition key, built once: every observation clears it. As many as #lastSeen. */
  readonly #silentKeys = new Map<string, string>();
  readonly #devices: Map<string, WatchedDevice>;
  readonly #lastSeen: Map<string, number>;
  #config: AlarmConfig;
  #keepMs: number;
  /**
   * The metrics whose history is kept, for rate rules: those of every config
   * in force since the start (a rule pulled on a new metric has its history
   * from then on in the beds already seen).
   */
  readonly #rateMetrics = new Set<string>();
  #stopTicks: (() => void) | undefined;
  #unsubscribe: Array<() => void> = [];
  /** Observations evaluated when accepted, before their commit: not evaluated again once committed. */
  readonly #evaluatedEarly = new WeakSet<IngestItem>();
  /** The bed the store last gave an undeclared device's readings (HL7 equipment), for evaluating the next before it is stored. */
  readonly #committedBeds = new Map<string, string>();
  /**
   * Seqs and reading times already evaluated per device: a resend or duplicate is not evaluated again. Kept
   * when a bed's patient changes: it knows the device's messages, not the patient, and a resend of a message
   * taken from the previous patient must not be taken as the next one's.
   */
  readonly #evaluated = new EvaluatedReadings();
  /** Which admission each bed's values and alarms belong to. */
  readonly #patients: BedPatients;

  constructor(deps: AlarmEngineDeps) {
    this.#deps = deps;
    this.#clock = deps.clock ?? systemClock;
    this.#log = deps.log.child({ module: 'alarms' });
    this.#devices = new Map(deps.devices.map((d) => [d.id, d]));
    this.#lastSeen = new Map(deps.lastSeen ?? []);
    this.#config = deps.config;
    this.#keepMs = keepFor(deps.config);
    for (const rule of deps.config.rateOfChange) this.#rateMetrics.add(rule.metric);
    this.#patients = new BedPatients(deps.patients, this.#clock.now(), deps.episodes);
    this.#book = new AlarmBook(
      deps.config.escalation,
      (event, alarm) => this.#dispatch(event, alarm),
      deps.restored ?? [],
      // Asked once per alarm raised, not per reading.
      (report) =>
        report.kind === 'physiological' && report.bed !== null ? this.#patients.of(report.bed).admission : null,
    );
  }

  async start(): Promise<void> {
    const { bus } = this.#deps;
    // 'state' listeners: whoever else hears these events reads what the engine made of them (bus.ts).
    this.#unsubscribe = [
      bus.on('ingest.accepted', (items) => this.onAccepted(items), 'state'),
      bus.on('ingest.committed', (items) => this.onCommitted(items), 'state'),
      // Serial ports say at once when a device is gone, without waiting for its silence limit.
      bus.on(
        'device.silent',
        ({ deviceId, reason, since }) =>
          this.#evaluation(() => this.#silent(deviceId, reason, since, this.#clock.now())),
        'state',
      ),
      bus.on(
        'device.resumed',
        ({ deviceId }) =>
          this.#evaluation(() => this.#apply({ state: 'clear', key: `device:${deviceId}:silent` }, this.#clock.now())),
        'state',
      ),
      bus.on(
        'device.sensor',
        ({ deviceId, sensor }) => this.#evaluation(() => this.#status(deviceId, sensor, undefined, this.#clock.now())),
        'state',
      ),
      // From the API and from the ADT feed alike: the one place a bed's patient reaches the engine.
      bus.on('patient.changed', ({ bed }) => this.patientChanged(bed), 'state'),
    ];
    const now = this.#clock.now();
    this.#patients.start(now);
    this.#evaluation(() => this.#leaveOthers(now));
    this.#stopTicks = this.#clock.every(TICK_MS, () => this.tick());
  }

  async stop(): Promise<void> {
    this.#stopTicks?.();
    for (const off of this.#unsubscribe) off();
    this.#unsubscribe = [];
  }

  /**
   * Rules and limits pulled from the cloud, in force from the next reading
   * without a restart: limits are rebuilt per bed, open alarms run their
   * lifecycle against the new values. Escalation timing stays as started
   * (the alarm book keeps it) and beds already tracked keep their rate history
   * length; both follow the new config at the next start. A rate rule on a
   * metric no rule watched before has that metric's history from the update.
   */
  updateConfig(config: AlarmConfig): void {
    this.#config = config;
    this.#keepMs = keepFor(config);
    for (const rule of config.rateOfChange) this.#rateMetrics.add(rule.metric);
    this.#limits.clear();
    this.#news2Inputs.clear();
    this.#scopes.clear();
    this.#log.info({ limits: Object.keys(config.limits), beds: Object.keys(config.beds) }, 'alarm config updated');
  }

  /** Open alarms, highest priority first. */
  openAlarms(): Alarm[] {
    return this.#book.open();
  }

  bed(bed: string): BedSnapshot {
    const vitals = this.#beds.get(bed);
    return {
      bed,
      vitals: Object.fromEntries(vitals?.latest ?? []),
      news2: this.#news2.get(bed) ?? null,
      alarms: this.#book.open().filter((a) => a.bed === bed),
    };
  }

  /** A bed's latest values and NEWS2, without its alarms (the retained bed vitals, once a second per bed). */
  vitalsOf(bed: string): { readonly latest: ReadonlyMap<string, ValuePoint>; readonly news2: News2Snapshot | null } {
    return {
      latest: this.#beds.get(bed)?.latest ?? new Map<string, ValuePoint>(),
      news2: this.#news2.get(bed) ?? null,
    };
  }

  /** Acknowledgement by a person (MQTT or API). Undefined when no open alarm has that id. */
  acknowledge(alarmId: string, by: string): Alarm | undefined {
    return this.#evaluation(() => this.#book.acknowledge(alarmId, by, this.#clock.now()));
  }

  /** Technical conditions reported by other features (buffer filling, cloud unreachable): a report raises, null clears. */
  setTechnical(key: string, report: Omit<ConditionReport, 'key' | 'kind'> | null): void {
    const now = this.#clock.now();
    this.#evaluation(() =>
      report ? this.#book.hold({ ...report, key, kind: 'technical' }, now) : this.#book.release(key, now),
    );
  }

  /**
   * The bed's patient or their NEWS2 entries changed (an admission, discharge,
   * transfer or merge, the nurse's oxygen, scale or consciousness): NEWS2 is
   * scored again. The same admission (a new name, a merged identifier, the
   * nurse's entries, an admission adopted by the ADT feed) changes nothing
   * else. Another one (a patient left, came, or both: BedPatients.changed)
   * decides what the bed keeps and which of its alarms leave
   * (#admissionChanged).
   */
  patientChanged(bed: string): void {
    const admission = this.#deps.patients.get(bed)?.admission ?? null;
    this.#evaluation(() => {
      const now = this.#clock.now();
      const change = this.#patients.changed(bed, admission, now);
      if (change !== undefined) this.#admissionChanged(change, now);
      this.#news2Inputs.delete(bed);
      this.#scoreNews2(bed, now);
    });
  }

  /**
   * The bed's admission is another than it had (BedPatients.changed): the bed
   * forgets what that says (#forget, #forgetSpot), and its alarms that the
   * change does not keep leave (#leaveOthers).
   */
  #admissionChanged(change: AdmissionChange, now: number): void {
    if (change.forget === 'everything') this.#forget(change.bed);
    else if (change.forget === 'spot') this.#forgetSpot(change.bed);
    this.#leaveOthers(now, change);
  }

  /**
   * Open physiological alarms leave (AlarmBook.leave): none is ever given to
   * another patient; a left one stays left. At a change of a bed's admission,
   * those of the bed the change does not keep (AdmissionChange.keeps: an
   * alarm of no admission about values the admission keeps stays). At the
   * start, alarms restored from the last run that BedPatients.keepsAtStart
   * does not keep, in every bed: those whose patient left while the daemon
   * was down (one of an admission the bed no longer has; one of no admission
   * raised before the bed's last departure), and one of no admission in a
   * bed with a patient who is not its first that the admission did not keep
   * (no new episode before it, or one the start does not know of).
   */
  #leaveOthers(now: number, change?: AdmissionChange): void {
    for (const alarm of this.#book.open()) {
      if (alarm.bed === null || alarm.kind !== 'physiological' || alarm.left) continue;
      if (change !== undefined && alarm.bed !== change.bed) continue;
      const stays = change ? change.keeps(alarm) : this.#patients.keepsAtStart(alarm.bed, alarm);
      if (!stays) this.#book.leave(alarm, now, PATIENT_LEFT);
    }
  }

  /**
   * The bed forgets what it holds: its values, rate history, NEWS2 and
   * condition timers go. What comes next starts as a bed never seen. Its
   * alarms are left to #admissionChanged: technical ones are the device's.
   */
  #forget(bed: string): void {
    this.#beds.delete(bed);
    this.#scopes.delete(bed);
    this.#news2.delete(bed);
    this.#news2Inputs.delete(bed);
    this.#forgetConditions(bed, () => true);
  }

  /** The bed forgets its spot values (SPOT_METRICS) and their conditions; NEWS2 is scored again by the caller. */
  #forgetSpot(bed: string): void {
    const vitals = this.#beds.get(bed);
    for (const metric of SPOT_METRICS) vitals?.forget(metric);
    // Built again with the bed's new `since`.
    this.#scopes.delete(bed);
    this.#news2Inputs.delete(bed);
    this.#forgetConditions(bed, (metric) => metric !== null && SPOT_METRICS.includes(metric));
  }

  /** Clears the delays, pending reports and rate checks of the bed's own conditions whose metric `of` takes. */
  #forgetConditions(bed: string, of: (metric: string | null) => boolean): void {
    // The bed's own conditions (rules.ts keys: news2, limit:<metric>, rate:<metric>:<change>): not a device's,
    // nor those of a bed whose id starts with this one's.
    const prefix = `${bed}:`;
    const ofBed = (key: string) => {
      if (!key.startsWith(prefix)) return false;
      const rest = key.slice(prefix.length);
      if (rest === 'news2') return of(null);
      if (rest.startsWith('limit:')) return of(rest.slice('limit:'.length));
      return rest.startsWith('rate:') && of(rest.split(':')[1]);
    };
    for (const [key, timer] of this.#timers) if (ofBed(key)) timer.clear();
    for (const key of this.#pending.keys()) if (ofBed(key)) this.#pending.delete(key);
    for (const key of this.#rateCheckedAt.keys()) if (ofBed(key)) this.#rateCheckedAt.delete(key);
  }

  /**
   * Valid observations handed to the store, not yet on disk: their readings are
   * evaluated now, so that an alarm never waits for the disk (a slow SD card, a
   * full one). What the commit then says only keeps the device's last-seen
   * time. An observation whose bed is not known yet waits for its commit. One
   * already evaluated (resent after a failed commit, a duplicate) is not
   * evaluated again, now or at its commit.
   */
  onAccepted(items: readonly IngestItem[]): void {
    const early: CommittedItem[] = [];
    for (const item of items) {
      if (item.kind !== 'obs') continue;
      // The bed the store files it under (IngestStore: the message's bed, else the device's), and so its patient.
      const bed = item.bed ?? this.#devices.get(item.deviceId)?.bed ?? this.#committedBeds.get(item.deviceId);
      if (bed === undefined) continue;
      this.#evaluatedEarly.add(item);
      if (!this.#evaluated.firstTime(item)) continue;
      early.push({ item, result: { outcome: 'stored', readings: item.readings.length, bed } });
    }
    if (early.length) this.#evaluation(() => this.#onCommitted(early, true));
  }

  onCommitted(items: readonly CommittedItem[]): void {
    this.#evaluation(() => this.#onCommitted(items, false));
  }

  #onCommitted(items: readonly CommittedItem[], accepted: boolean): void {
    const now = this.#clock.now();
    let news2Beds: string[] | undefined;
    for (const { item, result } of items) {
      if (item.deviceId === undefined) continue;
      if (
        !accepted &&
        item.kind === 'obs' &&
        result.outcome === 'stored' &&
        result.bed &&
        !this.#devices.get(item.deviceId)?.bed
      )
        this.#committedBeds.set(item.deviceId, result.bed);
      if (!accepted && this.#evaluatedEarly.has(item)) {
        if (result.outcome === 'stored' || result.outcome === 'duplicate' || result.outcome === 'empty') {
          this.#lastSeen.set(item.deviceId, now);
          this.#release(this.#silentKey(item.deviceId), now);
        }
        continue;
      }
      // Only usable observations mean the device is monitoring its patient: a device whose every
      // message is refused (a reused seq, a wrong unit), or that only connects, is still silent.
      if (
        item.kind === 'obs' &&
        (result.outcome === 'stored' || result.outcome === 'duplicate' || result.outcome === 'empty')
      ) {
        this.#lastSeen.set(item.deviceId, now);
        this.#release(this.#silentKey(item.deviceId), now);
      }
      if (item.kind === 'status') this.#status(item.deviceId, item.status.sensor, item.status.battery, now);
      if (item.kind !== 'obs' || result.outcome !== 'stored') continue;
      if (!accepted && !this.#evaluated.firstTime(item)) continue;
      const bed = result.bed ?? null;
      if (this.#readings(item, bed, now) && bed) {
        news2Beds ??= [];
        if (!news2Beds.includes(bed)) news2Beds.push(bed);
      }
    }
    if (news2Beds) for (const bed of news2Beds) this.#scoreNews2(bed, now);
  }

  /** Records and evaluates an observation's current readings; true when a NEWS2 input was updated. */
  #readings(item: ObservationItem, bed: string | null, now: number): boolean {
    const scope = bed ?? `device:${item.deviceId}`;
    let state = this.#scope(scope, bed);
    // Received before the bed's patient changed, evaluated only at its commit: the previous patient's.
    if (item.receivedTs < state.since) return false;
    const { patient } = state;
    if (patient !== undefined && this.#patients.startsEpisode(patient, now)) state = this.#newEpisode(bed!, scope);
    const at: Location = { bed, deviceId: item.deviceId, scope };
    const { vitals } = state;
    // Metrics in the order first updated; hr and pr both update pulse, evaluated once.
    const updated: string[] = [];
    for (const r of item.readings) {
      if (!this.#evaluated.current(item.deviceId, r.code, r.ts, item.receivedTs, now)) continue;
      for (const m of vitals.record(r.code, { value: r.value, ts: now, deviceId: item.deviceId, flags: r.flags }))
        if (!updated.includes(m)) updated.push(m);
    }
    let news2 = false;
    for (const metric of updated) {
      this.#evaluate(at, metric, state, now);
      if (!news2 && NEWS2_INPUTS.has(metric)) news2 = true;
    }
    return news2;
  }

  /**
   * A reading starts a new episode at the bed (BedPatients.startsEpisode):
   * what it held was the departed patient's and goes (#forget); the scope is
   * built again for this reading and those after it.
   */
  #newEpisode(bed: string, scope: string): ScopeState {
    this.#forget(bed);
    return this.#scope(scope, bed);
  }

  /** Once a second: delays that ran out, silent devices, stale NEWS2 inputs, escalation. */
  tick(): void {
    this.#evaluation(() => this.#tick());
  }

  #tick(): void {
    const now = this.#clock.now();
    for (const [key, { report, delayMs }] of this.#pending) {
      if (this.#timer(key).elapse(now, delayMs)) {
        this.#pending.delete(key);
        this.#book.hold(report, now);
      }
    }
    const silentAfter = this.#config.technical.silentAfterMs;
    for (const [deviceId, seen] of this.#lastSeen) {
      const after = this.#devices.get(deviceId)?.silentAfterMs ?? silentAfter;
      if (after > 0 && now - seen >= after) this.#silent(deviceId, 'no-data', seen, now);
    }
    for (const bed of this.#news2.keys()) this.#scoreNews2(bed, now);
    this.#book.tick(now);
  }

  #evaluate(at: Location, metric: string, state: ScopeState, now: number): void {
    const { vitals } = state;
    const condition = this.#limitCondition(at.scope, metric, state);
    if (condition) {
      // The patient's NEWS2 scale moves the SpO2 limits only.
      const spo2 = metric === 'spo2' && at.bed !== null;
      const patient = spo2 ? this.#deps.patients.atBed(at.bed) : undefined;
      const bedSpo2 = spo2 && bedOverrides(this.#config, at.bed)?.limits.spo2 !== undefined;
      const { key, limit, timer } = condition;
      const verdict = limitVerdict(at, key, metric, limit, vitals, timer.on, patient, bedSpo2);
      // A normal value with nothing pending, on or open (#release): the usual case, without looking the timer up.
      if (verdict && (verdict.state !== 'clear' || timer.on || timer.pending || this.#book.openFor(key)))
        this.#apply(verdict, now);
    }
    for (const rule of this.#config.rateOfChange) {
      if (rule.metric !== metric) continue;
      let key = state.rate.get(rule);
      if (key === undefined) {
        key = `${at.scope}:rate:${rule.metric}:${rule.change}`;
        state.rate.set(rule, key);
      }
      // Rate rules look at minutes: once a second is often enough, however fast the device sends.
      if (now - (this.#rateCheckedAt.get(key) ?? -Infinity) < 1000) continue;
      this.#rateCheckedAt.set(key, now);
      const verdict = rateVerdict(at, key, rule, vitals, now, this.#timer(key).on);
      if (verdict) this.#apply(verdict, now);
    }
  }

  /** A metric's limit condition in a scope, null when the metric has no limit there. */
  #limitCondition(scope: string, metric: string, state: ScopeState): LimitCondition | null {
    let condition = state.limit.get(metric);
    if (condition === undefined) {
      const limit = state.limits.get(metric);
      const key = `${scope}:limit:${metric}`;
      condition = limit ? { limit, key, timer: this.#timer(key) } : null;
      state.limit.set(metric, condition);
    }
    return condition;
  }

  #scoreNews2(bed: string, now: number): void {
    const vitals = this.#beds.get(bed);
    if (!vitals) return;
    const inputs = bedNews2Inputs(vitals, this.#deps.patients.atBed(bed), this.#config.news2, now);
    // The same points from every input: the same score, parts and gaps, so the same verdict as last time.
    const last = this.#news2Inputs.get(bed);
    if (last && sameNews2(last, inputs)) return;
    this.#news2Inputs.set(bed, inputs);
    const snapshot = scoreBedNews2(inputs, now);
    this.#news2.set(bed, snapshot);
    this.#apply(news2Verdict(bed, snapshot, this.#config.news2, this.#timer(`${bed}:news2`).on), now);
  }

  #silent(deviceId: string, reason: 'disconnected' | 'no-data', since: number, now: number): void {
    const what = reason === 'disconnected' ? 'disconnected' : 'silent';
    this.#apply(
      {
        state: 'breach',
        delayMs: 0,
        report: {
          key: `device:${deviceId}:silent`,
          bed: this.#devices.get(deviceId)?.bed ?? null,
          deviceId,
          kind: 'technical',
          rule: 'device-silent',
          metric: null,
          priority: 'medium',
          message: `Device ${deviceId} ${what} for ${Math.round((now - since) / 1000)} s`,
          value: null,
        },
      },
      now,
    );
  }

  #status(deviceId: string, sensor: string | undefined, battery: number | undefined, now: number): void {
    const bed = this.#devices.get(deviceId)?.bed ?? null;
    const { sensorDelayMs, batteryLowPercent } = this.#config.technical;
    const base = { bed, deviceId, kind: 'technical' as const, metric: null };
    if (sensor !== undefined) {
      const key = `device:${deviceId}:sensor`;
      if (sensor === 'ok') this.#apply({ state: 'clear', key }, now);
      else {
        const what =
          sensor === 'off' ? 'sensor off' : sensor === 'absent' ? 'no sensor or cable' : 'sensor or cable fault';
        this.#apply(
          {
            state: 'breach',
            delayMs: sensorDelayMs,
            report: {
              ...base,
              key,
              rule: 'sensor',
              priority: 'medium',
              message: `Device ${deviceId}: ${what}`,
              value: null,
            },
          },
          now,
        );
      }
    }
    if (battery !== undefined) {
      const key = `device:${deviceId}:battery`;
      if (battery <= batteryLowPercent) {
        this.#apply(
          {
            state: 'breach',
            delayMs: 0,
            report: {
              ...base,
              key,
              rule: 'battery',
              priority: 'low',
              message: `Device ${deviceId}: battery ${Math.round(battery)} %`,
              value: battery,
            },
          },
          now,
        );
      } else if (battery > batteryLowPercent + 5 || !this.#timer(key).on) {
        this.#apply({ state: 'clear', key }, now);
      }
    }
  }

  #apply(verdict: Verdict, now: number): void {
    if (verdict.state === 'hold') return;
    if (verdict.state === 'clear') return this.#release(verdict.key, now);
    const { report, delayMs } = verdict;
    if (this.#timer(report.key).breach(now, delayMs)) {
      this.#pending.delete(report.key);
      this.#book.hold(report, now);
    } else {
      this.#pending.set(report.key, { report, delayMs });
    }
  }

  /** The condition under `key` is over. */
  #release(key: string, now: number): void {
    const timer = this.#timers.get(key);
    // Nothing pending, nothing on, nothing open: the usual case for a normal value.
    if ((!timer || (!timer.on && !timer.pending)) && !this.#book.openFor(key)) return;
    timer?.clear();
    this.#pending.delete(key);
    this.#book.release(key, now);
  }

  #silentKey(deviceId: string): string {
    let key = this.#silentKeys.get(deviceId);
    if (key === undefined) {
      key = `device:${deviceId}:silent`;
      this.#silentKeys.set(deviceId, key);
    }
    return key;
  }

  /** Events of the evaluation under way; delivered together when it ends. */
  #batch: Array<readonly [AlarmEvent, Alarm]> | undefined;

  #dispatch(event: AlarmEvent, alarm: Alarm): void {
    // Sinks get a snapshot: the alarm object changes again in later phases.
    const entry = [event, { ...alarm }] as const;
    if (this.#batch) this.#batch.push(entry);
    else this.#deliver([entry]);
  }

  /** Runs one evaluation and hands its events to every sink in one go (one store transaction, then the outputs). */
  #evaluation<T>(work: () => T): T {
    if (this.#batch) return work();
    this.#batch = [];
    try {
      return work();
    } finally {
      const events = this.#batch;
      this.#batch = undefined;
      if (events.length) this.#deliver(events);
    }
  }

  #deliver(events: ReadonlyArray<readonly [AlarmEvent, Alarm]>): void {
    for (const sink of this.#deps.sinks) {
      try {
        if (sink.onEvents) sink.onEvents(events);
        else for (const [event, alarm] of events) sink.onEvent(event, alarm);
      } catch (err) {
        // A failing sink (a full disk, say) must not keep the alarm from the others.
        this.#log.error({ err, sink: sink.name, alarms: events.map(([e]) => e.alarmId) }, 'alarm sink failed');
      }
    }
  }

  #scope(scope: string, bed: string | null): ScopeState {
    let state = this.#scopes.get(scope);
    if (!state) {
      state = {
        vitals: this.#vitals(scope),
        patient: bed === null ? undefined : this.#patients.of(bed),
        since: bed === null ? -Infinity : this.#patients.since(bed),
        limits: this.#limitsFor(bed),
        limit: new Map(),
        rate: new Map(),
      };
      this.#scopes.set(scope, state);
    }
    return state;
  }

  #timer(key: string): ConditionTimer {
    let timer = this.#timers.get(key);
    if (!timer) {
      timer = new ConditionTimer();
      this.#timers.set(key, timer);
    }
    return timer;
  }

  #vitals(scope: string): BedVitals {
    let vitals = this.#beds.get(scope);
    if (!vitals) {
      vitals = new BedVitals(this.#keepMs, this.#rateMetrics);
      this.#beds.set(scope, vitals);
    }
    return vitals;
  }

  #limitsFor(bed: string | null): Map<string, Limit> {
    const key = bed ?? '';
    let limits = this.#limits.get(key);
    if (!limits) {
      limits = limitsFor(this.#config, bed);
      this.#limits.set(key, limits);
    }
    return limits;
  }
}
