// The alarm feature as one service of the daemon: the engine with its sinks
// (store first, then MQTT, log and webhook), technical conditions and alarm
// rules other features send over the bus, acknowledgements (MQTT and API,
// each audited here), and the per-bed vitals for ward displays.
import type { EventBus } from '../bus.js';
import type { GatewayConfig } from '../config/load.js';
import type { Logger } from '../log.js';
import type { Admissions } from '../patients/admissions.js';
import type { Service } from '../service.js';
import { AlarmStore } from '../store/alarmStore.js';
import { EpisodeStore } from '../store/episodeStore.js';
import type { Store } from '../store/store.js';
import { BedVitalsPublisher } from './bedVitalsPublisher.js';
import { AlarmEngine, type AlarmSink, type Clock } from './engine.js';
import { logAlarmSink, mqttAlarmSink, type Publisher } from './outputs.js';
import type { Alarm, AlarmEvent } from './types.js';
import { AlarmWebhook } from './webhook.js';
import type { Outbound } from '../net/outbound.js';

export interface AlarmServiceDeps {
  readonly config: GatewayConfig;
  readonly store: Store;
  /** Who lies in which bed: NEWS2 reads the patient's entries. */
  readonly admissions: Admissions;
  readonly bus: EventBus;
  readonly log: Logger;
  readonly publisher: Publisher;
  readonly env: NodeJS.ProcessEnv;
  /** How the webhook's requests go out (the web proxy, unless its host is in noProxy or on this box). */
  readonly outbound?: Outbound;
  readonly clock?: Clock;
  /** Counts alarm events by phase and priority. */
  readonly onEvent?: (phase: string, priority: string) => void;
  /** The disk failed to sync recorded alarm events: nothing after them can be trusted. */
  readonly onFatal?: (err: Error) => void;
}

export class AlarmService implements Service {
  readonly name = 'alarms';
  readonly #deps: AlarmServiceDeps;
  #engine: AlarmEngine | undefined;
  #webhook: AlarmWebhook | undefined;
  #vitals: BedVitalsPublisher | undefined;
  #store: AlarmStore | undefined;
  #episodes: EpisodeStore | undefined;
  #unsubscribe: Array<() => void> = [];
  readonly #now = () => (this.#deps.clock ?? { now: Date.now }).now();

  constructor(deps: AlarmServiceDeps) {
    this.#deps = deps;
  }

  /** The engine; the services that read it (API, dashboard) start after this one. */
  get engine(): AlarmEngine {
    if (!this.#engine) throw new Error('the alarm service is not started');
    return this.#engine;
  }

  /** Who lies in which bed. */
  get admissions(): Admissions {
    return this.#deps.admissions;
  }

  /** Recorded alarm events, newest first. */
  history(query: Parameters<AlarmStore['events']>[0]): AlarmEvent[] {
    if (!this.#store) throw new Error('the alarm service is not started');
    return this.#store.events(query);
  }

  /**
   * A person acknowledges an alarm (over MQTT, the API or the dashboard): the
   * engine's acknowledgement and its audit entry, in one place for every way
   * in. Undefined when no open alarm has that id.
   */
  acknowledge(alarmId: string, by: string, via: string): Alarm | undefined {
    const alarm = this.engine.acknowledge(alarmId, by);
    if (alarm)
      this.#deps.store.audit.record({
        ts: this.#now(),
        actor: by,
        action: 'acknowledge',
        target: `alarm:${alarm.id}`,
        detail: { via },
      });
    return alarm;
  }

  async start(): Promise<void> {
    const { config, bus, log, publisher, admissions } = this.#deps;
    const store = new AlarmStore(this.#deps.store.db, {
      ...(this.#deps.onFatal && { onSyncFailed: this.#deps.onFatal }),
      onDeferredFailed: (err) => log.error({ err }, 'alarm events could not be recorded'),
    });
    this.#store = store;
    const episodes = new EpisodeStore(this.#deps.store.db, {
      onFailed: (err) => log.error({ err }, 'the start of a new episode could not be recorded'),
    });
    this.#episodes = episodes;
    const sinks: AlarmSink[] = [
      // The store comes first: an event is committed (and queued for the cloud) before anyone is told,
      // and on disk one WAL sync later, started at once off the event loop (AlarmStore.record). While the
      // ingest writer holds the write lock the store does not wait for it: the event is committed moments later.
      {
        name: 'store',
        onEvent: (event, alarm) => store.record([[event, alarm]]),
        onEvents: (events) => store.record(events),
      },
      mqttAlarmSink(config.ward, publisher, (bed) => engine.openAlarms().filter((a) => a.bed === bed)),
      logAlarmSink(log),
      { name: 'metrics', onEvent: (event) => this.#deps.onEvent?.(event.phase, event.priority) },
      {
        name: 'bus',
        onEvent: (event, alarm) => bus.emit('alarm.events', [[event, alarm]]),
        onEvents: (events) => bus.emit('alarm.events', events),
      },
    ];
    const hook = config.alarms.webhook;
    if (hook) {
      this.#webhook = new AlarmWebhook({
        url: hook.url,
        secret: this.#deps.env[hook.secretEnv] ?? '',
        minPriority: hook.minPriority,
        timeoutMs: hook.timeoutMs,
        maxAttempts: hook.maxAttempts,
        ward: config.ward,
        gateway: config.gateway.id,
        log,
        ...(this.#deps.outbound && { outbound: this.#deps.outbound }),
      });
      sinks.push(this.#webhook);
    }
    const engine = new AlarmEngine({
      config: config.alarms,
      devices: config.devices.map((d) => ({
        id: d.name,
        ...(d.bed !== undefined && { bed: d.bed }),
        ...(d.silentAfterMs !== undefined && { silentAfterMs: d.silentAfterMs }),
      })),
      bus,
      patients: admissions,
      sinks,
      log,
      restored: store.open(),
      lastSeen: store.lastSeen(),
      episodes,
      ...(this.#deps.clock && { clock: this.#deps.clock }),
    });
    this.#engine = engine;
    await engine.start();

    // Retained latest vitals and NEWS2 per bed, for ward displays, after the engine has seen the readings.
    const vitals = new BedVitalsPublisher(config.ward, engine, publisher);
    this.#vitals = vitals;
    this.#unsubscribe.push(
      bus.on('ingest.committed', (items) => {
        for (const { item, result } of items)
          if (item.kind === 'obs' && result.outcome === 'stored' && result.bed) vitals.changed(result.bed);
      }),
      // The retained bed state carries NEWS2, which the patient's entries change.
      bus.on('patient.changed', ({ bed }) => vitals.changed(bed)),
      bus.on('alarm.ack', ({ alarmId, by, via }) => {
        if (!this.acknowledge(alarmId, by, via)) log.warn({ alarmId, by, via }, 'acknowledgement for no open alarm');
      }),
      // Conditions of the sync, the storage guard and the disk (cloud unreachable, buffer filling, disk full).
      bus.on('alarm.technical', ({ key, report }) =>
        engine.setTechnical(
          key,
          report && {
            bed: null,
            deviceId: null,
            metric: null,
            value: report.value ?? null,
            rule: report.rule,
            priority: report.priority,
            message: report.message,
          },
        ),
      ),
      // Rules and limits pulled from the cloud, in force from the next reading.
      bus.on('alarm.config', (alarms) => engine.updateConfig(alarms)),
    );
  }

  async stop(): Promise<void> {
    for (const off of this.#unsubscribe) off();
    this.#unsubscribe = [];
    this.#webhook?.stop();
    this.#vitals?.stop();
    await this.#engine?.stop();
    // Before the alarm store: what it still writes is in the WAL when the alarm store records what waits and syncs.
    this.#episodes?.close();
    this.#episodes = undefined;
    // The WAL's descriptor: one more with every start and stop otherwise.
    this.#store?.close();
    this.#store = undefined;
  }
}
