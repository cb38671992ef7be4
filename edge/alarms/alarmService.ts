// The alarm feature as one service of the daemon: the engine with its sinks
// (store first, then MQTT, log and webhook), admissions, acknowledgements from
// MQTT, the per-bed vitals for ward displays, and the edge API.
import type { Authenticator } from '../auth/authenticator.js';
import type { EventBus } from '../bus.js';
import type { GatewayConfig } from '../config/load.js';
import { registerApi } from '../http/api.js';
import type { SessionLookup } from '../http/auth.js';
import type { HttpServer } from '../http/server.js';
import type { Logger } from '../log.js';
import { Admissions } from '../patients/admissions.js';
import type { Service } from '../service.js';
import { AlarmStore } from '../store/alarmStore.js';
import { AuditLog } from '../store/auditLog.js';
import type { Db } from '../store/database.js';
import { BedVitalsPublisher } from './bedVitalsPublisher.js';
import { AlarmEngine, type AlarmSink, type Clock } from './engine.js';
import { logAlarmSink, mqttAlarmSink, type Publisher } from './outputs.js';
import { AlarmWebhook } from './webhook.js';

export interface AlarmServiceDeps {
  readonly config: GatewayConfig;
  readonly db: () => Db;
  readonly bus: EventBus;
  readonly log: Logger;
  readonly publisher: Publisher;
  readonly auth: Authenticator;
  readonly http: HttpServer;
  readonly localToken: string;
  readonly env: NodeJS.ProcessEnv;
  readonly clock?: Clock;
  /** Counts alarm events by phase and priority. */
  readonly onEvent?: (phase: string, priority: string) => void;
  /** Dashboard sessions, accepted by the API beside Basic credentials. */
  readonly sessions?: SessionLookup;
  /** The disk failed to sync recorded alarm events: nothing after them can be trusted. */
  readonly onFatal?: (err: Error) => void;
}

export class AlarmService implements Service {
  readonly name = 'alarms';
  readonly #deps: AlarmServiceDeps;
  #engine: AlarmEngine | undefined;
  #admissions: Admissions | undefined;
  #webhook: AlarmWebhook | undefined;
  #vitals: BedVitalsPublisher | undefined;
  #store: AlarmStore | undefined;
  #unsubscribe: Array<() => void> = [];

  constructor(deps: AlarmServiceDeps) {
    this.#deps = deps;
  }

  get engine(): AlarmEngine | undefined {
    return this.#engine;
  }

  /** Who lies in which bed, once started. */
  get admissions(): Admissions | undefined {
    return this.#admissions;
  }

  async start(): Promise<void> {
    const { config, bus, log, publisher } = this.#deps;
    const db = this.#deps.db();
    const store = new AlarmStore(db, this.#deps.onFatal ? { onSyncFailed: this.#deps.onFatal } : {});
    this.#store = store;
    const audit = new AuditLog(db);
    const now = () => (this.#deps.clock ?? { now: Date.now }).now();
    const admissions = new Admissions(db, audit, now);
    this.#admissions = admissions;
    const sinks: AlarmSink[] = [
      // The store comes first: an event is committed (and queued for the cloud) before anyone is told,
      // and on disk one WAL sync later, started at once off the event loop (AlarmStore.record).
      { name: 'store', onEvent: (event, alarm) => store.record([[event, alarm]]), onEvents: (events) => store.record(events) },
      mqttAlarmSink(config.ward, publisher, (bed) => engine.openAlarms().filter((a) => a.bed === bed)),
      logAlarmSink(log),
      { name: 'metrics', onEvent: (event) => this.#deps.onEvent?.(event.phase, event.priority) },
      { name: 'bus', onEvent: (event, alarm) => bus.emit('alarm.events', [[event, alarm]]), onEvents: (events) => bus.emit('alarm.events', events) },
    ];
    const hook = config.alarms.webhook;
    if (hook) {
      this.#webhook = new AlarmWebhook({
        url: hook.url, secret: this.#deps.env[hook.secretEnv] ?? '', minPriority: hook.minPriority, timeoutMs: hook.timeoutMs,
        maxAttempts: hook.maxAttempts, ward: config.ward, gateway: config.gateway.id, log,
      });
      sinks.push(this.#webhook);
    }
    const engine = new AlarmEngine({
      config: config.alarms,
      devices: config.devices.map((d) => ({ id: d.name, ...(d.bed !== undefined && { bed: d.bed }), ...(d.silentAfterMs !== undefined && { silentAfterMs: d.silentAfterMs }) })),
      bus,
      patients: admissions,
      sinks,
      log,
      restored: store.open(),
      lastSeen: store.lastSeen(),
      ...(this.#deps.clock && { clock: this.#deps.clock }),
    });
    this.#engine = engine;
    await engine.start();

    // Retained latest vitals and NEWS2 per bed, for ward displays, after the engine has seen the readings.
    const vitals = new BedVitalsPublisher(config.ward, engine, publisher);
    this.#vitals = vitals;
    this.#unsubscribe.push(
      bus.on('ingest.committed', (items) => {
        for (const { item, result } of items) if (item.kind === 'obs' && result.outcome === 'stored' && result.bed) vitals.changed(result.bed);
      }),
      // The retained bed state carries NEWS2, which the patient's entries change.
      bus.on('patient.changed', ({ bed }) => vitals.changed(bed)),
      bus.on('alarm.ack', ({ alarmId, by, via }) => {
        const alarm = engine.acknowledge(alarmId, by);
        if (!alarm) return log.warn({ alarmId, by, via }, 'acknowledgement for no open alarm');
        audit.record({ ts: now(), actor: by, action: 'acknowledge', target: `alarm:${alarmId}`, detail: { via } });
      }),
    );
    const beds = [...new Set(config.devices.flatMap((d) => (d.bed === undefined ? [] : [d.bed])))];
    registerApi({
      http: this.#deps.http, auth: this.#deps.auth, localToken: this.#deps.localToken, engine, admissions, bus, alarms: store, audit, db: this.#deps.db, beds, now,
      ...(this.#deps.sessions && { sessions: this.#deps.sessions }),
    });
  }

  async stop(): Promise<void> {
    for (const off of this.#unsubscribe) off();
    this.#unsubscribe = [];
    this.#webhook?.stop();
    this.#vitals?.stop();
    await this.#engine?.stop();
    // The WAL's descriptor: one more with every start and stop otherwise.
    this.#store?.close();
    this.#store = undefined;
  }
}
