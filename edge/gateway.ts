// Wires the edge daemon: opens the store, builds every feature from the
// config with it, starts them in order (alarms, sync, MQTT, HTTP) and stops
// them in reverse, then closes the store. The only place that knows how the
// pieces fit; each piece gets what it needs and nothing else. Features talk
// to each other over the bus (bus.ts), never through this file.
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AlarmService } from './alarms/alarmService.js';
import { technicalAlarmsOverBus } from './alarms/technicalOverBus.js';
import { createSessions, DashboardService, sessionLookup } from './dashboard/dashboardService.js';
import { Authenticator } from './auth/authenticator.js';
import { EventBus } from './bus.js';
import type { GatewayConfig } from './config/load.js';
import { ApiService } from './http/apiService.js';
import { HttpServer, sendJson } from './http/server.js';
import { Ingestor } from './ingest/ingestor.js';
import { ingestQueue } from './ingest/ingestQueue.js';
import { createLogger, type Logger } from './log.js';
import { createMetrics, type GatewayMetrics } from './metrics.js';
import { MqttBroker } from './mqtt/broker.js';
import { Outbound, outboundSettings } from './net/outbound.js';
import { Admissions } from './patients/admissions.js';
import type { Service } from './service.js';
import type { Db } from './store/database.js';
import type { DeclaredDevice } from './store/ingestStore.js';
import { ingestCommitter } from './store/ingestCommitter.js';
import { Store } from './store/store.js';
import { DiskFullWatch } from './store/diskFull.js';
import { SerialService } from './serial/serialService.js';
import { Hl7Listener } from './hl7/listener.js';
import { HL7_STATUS_FILE } from './hl7/senderStatus.js';
import { wireAlarmManager, type AlarmManagerWiring } from './integration/alarmManagerWiring.js';
import { EhrService } from './integration/ehrService.js';
import { apiRouter } from './http/api.js';
import { AdtListener } from './integration/adtListener.js';
import { ADT_STATUS_FILE } from './integration/adtStatus.js';
import { counterValue, oldestUnsyncedAgeSeconds } from './store/statusQuery.js';
import { jobList } from './jobs/jobList.js';
import { Scheduler } from './jobs/scheduler.js';
import { StorageGuard } from './store/storageGuard.js';
import type { SyncService } from './sync/syncService.js';
import { syncMetricSources, wireSync } from './sync/syncWiring.js';

export const RUN_FILE = 'wardgate.run.json';

export interface RunInfo {
  pid: number;
  startedAt: string;
  ports: { mqtt?: number; mqtts?: number; http?: number; hl7?: number; adt?: number; alarmStatus?: number };
  /** Bearer token of the local command line (the run file is mode 0600: reading it is the credential). */
  token: string;
}

export class Gateway {
  readonly config: GatewayConfig;
  readonly log: Logger;
  readonly bus: EventBus;
  #store: Store | undefined;
  #mqtt: MqttBroker | undefined;
  #http: HttpServer | undefined;
  #hl7: Hl7Listener | undefined;
  #alarmManager: AlarmManagerWiring | undefined;
  #adt: AdtListener | undefined;
  #metrics: GatewayMetrics | undefined;
  #started: Service[] = [];
  #stopping = false;
  #alarms: AlarmService | undefined;
  #dashboard: DashboardService | undefined;
  #jobs: GatewayJobs | undefined;
  #outbound: Outbound | undefined;
  readonly #token = randomBytes(32).toString('hex');
  readonly #env: NodeJS.ProcessEnv;
  readonly #onFatal: (err: Error) => void;

  /**
   * `onFatal`: the disk failed to sync the database. By default the gateway
   * stops; the daemon instead exits at once, without the commits a clean stop
   * would make, so that its restart recovers from what the disk really holds.
   */
  constructor(
    config: GatewayConfig,
    options: { log?: Logger; env?: NodeJS.ProcessEnv; onFatal?: (err: Error) => void } = {},
  ) {
    this.config = config;
    this.#env = options.env ?? process.env;
    this.#onFatal = options.onFatal ?? (() => void this.stop());
    this.log = options.log ?? createLogger(config.log.level);
    this.bus = new EventBus(this.log);
  }

  get ports(): RunInfo['ports'] {
    return {
      ...this.#mqtt?.ports,
      ...(this.#http?.port !== undefined && { http: this.#http.port }),
      ...(this.#hl7?.port !== undefined && { hl7: this.#hl7.port }),
      ...(this.#adt?.port !== undefined && { adt: this.#adt.port }),
      ...(this.#alarmManager?.reporter.statusPort !== undefined && {
        alarmStatus: this.#alarmManager.reporter.statusPort,
      }),
    };
  }

  get metrics(): GatewayMetrics | undefined {
    return this.#metrics;
  }

  /** The store's database while the gateway runs. */
  get db(): Db | undefined {
    return this.#store?.db;
  }

  /** The sync (when a cloud is configured), the storage guard and the scheduled jobs. */
  get sync(): GatewayJobs | undefined {
    return this.#jobs;
  }

  /** The ward dashboard (page, sessions, live feed). */
  get dashboard(): DashboardService | undefined {
    return this.#dashboard;
  }

  /** The alarm manager's link and reporter (config alarmManager). */
  get alarmManager(): AlarmManagerWiring | undefined {
    return this.#alarmManager;
  }

  /** The alarm engine, once started. */
  get alarms(): AlarmService | undefined {
    return this.#alarms;
  }

  async start(): Promise<void> {
    const { config, log } = this;
    log.info(
      { ward: config.ward, gateway: config.gateway.id, config: config.source, devices: config.devices.length },
      'starting',
    );
    try {
      // The store opens first: every feature is built with it open, and it closes after all of them have stopped.
      this.#store = await Store.open({
        dataDir: config.gateway.dataDir,
        devices: declaredDevices(config),
        onExit: (err) =>
          log.error(
            { err },
            'ingest writer thread stopped; its messages were not acknowledged; the next commit starts a new one',
          ),
        onFatal: (err) => this.#diskFailed(err),
      });
      for (const service of this.#build(this.#store)) {
        // Listed before it starts: a service that fails half-way is stopped too.
        this.#started.push(service);
        await service.start();
      }
    } catch (err) {
      await this.stop();
      throw err;
    }
    this.#writeRunFile();
    log.info({ ports: this.ports }, 'started');
  }

  /** Stops accepting, finishes pending commits, closes everything; safe to call twice. */
  async stop(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    for (const service of this.#started.reverse()) {
      try {
        await service.stop();
      } catch (err) {
        this.log.error({ err, service: service.name }, 'stop failed');
      }
    }
    this.#started = [];
    // Every sender has stopped: a proxy connection still open (a CONNECT the proxy never answers) would hold the process.
    await this.#outbound?.destroy();
    this.#outbound = undefined;
    const store = this.#store;
    this.#store = undefined;
    try {
      await store?.close();
    } catch (err) {
      this.log.error({ err, service: 'store' }, 'stop failed');
    }
    rmSync(join(this.config.gateway.dataDir, RUN_FILE), { force: true });
    this.log.info('stopped');
  }

  #build(store: Store): Service[] {
    const { config, log, bus } = this;
    const metrics = createMetrics({
      unsyncedReadings: () => counterValue(store.db, 'readings_unsynced'),
      oldestUnsyncedAgeSeconds: () => oldestUnsyncedAgeSeconds(store.db),
      mqttClients: () => mqtt.connectedClients,
      hl7Connections: () => this.#hl7?.connections ?? 0,
      ...syncMetricSources(store.db, () => cloud?.sync.drainRate() ?? 0, config.storage.quotaBytes),
    });
    this.#metrics = metrics;
    // The sync, the storage guard, the jobs and the disk watch raise technical alarms (cloud unreachable, quarantine, buffer filling) over the bus.
    const technical = technicalAlarmsOverBus(bus);
    const diskFull = new DiskFullWatch({
      alarms: technical,
      log,
      registry: metrics.registry,
      dataDir: config.gateway.dataDir,
    });
    const guard = new StorageGuard(store.db, config.storage, technical);
    // One way out for the sync, ID tokens and the alarm webhook: the hospital's web proxy where one is set.
    // Built only when something goes out: a box with neither never reads the proxy variables, and a
    // malformed machine-wide HTTPS_PROXY does not keep its alarms from starting.
    const timeouts = [config.cloud?.requestTimeoutMs, config.alarms.webhook?.timeoutMs].filter(
      (ms): ms is number => ms !== undefined,
    );
    const outbound =
      timeouts.length > 0
        ? new Outbound(outboundSettings(config.proxy, this.#env), { proxyTimeoutMs: Math.min(...timeouts) })
        : undefined;
    this.#outbound = outbound;
    if (outbound?.proxied)
      log.info(
        {
          ...(config.cloud && { cloud: outbound.describe(config.cloud.url) }),
          ...(config.alarms.webhook && { webhook: outbound.describe(config.alarms.webhook.url) }),
        },
        'requests out and the web proxy',
      );
    const cloud = wireSync({ config, env: this.#env, log, db: store.db, bus, alarms: technical, metrics, outbound });
    const scheduler = new Scheduler({
      // The checkpoint runs on the ingest writer thread: its fsyncs never hold up an alarm.
      jobs: jobList({
        config,
        log,
        db: store.db,
        guard,
        bus,
        cloud,
        metrics,
        checkpoint: () => store.writer.checkpoint(),
      }),
      log,
      onRun: (job, outcome) => metrics.jobRuns.inc({ job, outcome }),
    });
    this.#jobs = { sync: cloud?.sync, guard, scheduler };
    const queue = ingestQueue(
      ingestCommitter({ writer: store.writer, admitsReadings: () => guard.admitsReadings(), diskFull }),
      { bus, metrics, log },
      config.ingest.groupCommitMs,
    );
    const ingestor = new Ingestor(
      queue,
      { isDeclared: (id) => store.devices.isDeclared(id) },
      {
        maxFutureSkewMs: config.ingest.maxFutureSkewMs,
        acceptUnknownDevices: config.ingest.acceptUnknownDevices,
        maxMessageBytes: config.mqtt.maxMessageBytes,
      },
      Date.now,
      (source, err) => {
        metrics.handlerErrors.inc({ source, stage: 'validate' });
        log.error(
          { code: 'WG_ERR_INTERNAL', source, err: err instanceof Error ? err.message : String(err) },
          'a validator failed; the message was dead-lettered',
        );
      },
    );
    const auth = new Authenticator([...config.devices, ...config.users]);
    const mqtt = new MqttBroker({ config, auth, ingestor, bus, metrics, log });
    this.#mqtt = mqtt;
    const httpTls = config.http.tls && {
      cert: readFileSync(config.http.tls.cert),
      key: readFileSync(config.http.tls.key),
    };
    const http = new HttpServer({
      host: config.http.host,
      port: config.http.port,
      log,
      ...(httpTls && { tls: httpTls }),
    });
    this.#http = http;
    http.route('GET', '/healthz', (_req, res) =>
      sendJson(res, this.#stopping ? 503 : 200, {
        status: this.#stopping ? 'stopping' : 'ok',
        uptimeSeconds: Math.round(process.uptime()),
      }),
    );
    http.route('GET', '/metrics', async (_req, res) => {
      const body = await metrics.registry.metrics();
      res.writeHead(200, { 'content-type': metrics.registry.contentType });
      res.end(body);
    });
    // Who lies in which bed: one record, read by the alarms (NEWS2) and changed through the API.
    const admissions = new Admissions(store.db, store.audit);
    const alarms = new AlarmService({
      config,
      store,
      admissions,
      bus,
      log,
      env: this.#env,
      outbound,
      onFatal: (err) => this.#diskFailed(err),
      publisher: { publish: (topic, payload, options) => mqtt.publish(topic, payload, options) },
      onEvent: (phase, priority) => metrics.alarmEvents.inc({ phase, priority }),
    });
    this.#alarms = alarms;
    const sessions = createSessions(config);
    const api = new ApiService({
      http,
      auth,
      localToken: this.#token,
      alarms,
      admissions,
      bus,
      store,
      beds: configuredBeds(config),
      sessions: sessionLookup(sessions),
    });
    // Vitals to the EHR (config ehr): its routes go under /api with the API's authentication.
    const ehr = config.ehr
      ? [
          new EhrService({
            config: config.ehr,
            ward: config.ward,
            db: store.db,
            audit: store.audit,
            admissions,
            alarms: technical,
            log,
            registry: metrics.registry,
            route: apiRouter({ http, auth, localToken: this.#token, sessions: sessionLookup(sessions) }),
          }),
        ]
      : [];
    // Alarms to the hospital's alarm manager (config alarmManager): it reads the alarms' events and acknowledges through them.
    const alarmManager =
      config.alarmManager &&
      wireAlarmManager({
        config: config.alarmManager,
        ward: config.ward,
        gatewayId: config.gateway.id,
        store,
        bus,
        log,
        alarms,
        technical,
        registry: metrics.registry,
      });
    this.#alarmManager = alarmManager || undefined;
    const sources = this.#deviceSources(ingestor, metrics, store);
    const adt = this.#adtFeed(store, admissions);
    this.#dashboard = new DashboardService({ config, http, auth, bus, log, store, alarms, sessions });
    // The queue stops after every source of items (and the alarms that hear its commits), before the store closes.
    // Alarms start before any device can connect, and stop after every source has.
    // The API registers its routes right after the alarms it serves are up.
    // The sync and the jobs start after the alarms (their technical alarms go to the engine) and stop before them.
    // The EHR link starts after the alarms (its technical alarms) and stops before them and the store.
    // The dashboard registers its routes before the HTTP port opens.
    // The alarm manager's reporter and link start after the alarms and stop before them.
    return [
      queue,
      alarms,
      api,
      ...ehr,
      ...(alarmManager ? alarmManager.services : []),
      ...(cloud ? cloud.services : []),
      scheduler,
      mqtt,
      ...sources,
      ...adt,
      this.#dashboard,
      http,
    ];
  }

  /** The disk failed to write or sync the database (ingest or alarm events): the daemon stops for its restart to recover from the disk. */
  #diskFailed(err: Error): void {
    this.log.fatal({ err }, 'the disk failed to write or sync the database: no further message is acknowledged');
    this.#onFatal(err);
  }

  /** Ingest from devices that do not speak MQTT: serial ports and the HL7 listener, when configured. */
  #deviceSources(ingestor: Ingestor, metrics: GatewayMetrics, store: Store): Service[] {
    const { config, log, bus } = this;
    const services: Service[] = [];
    if (config.serial.length) {
      const lastSeq = (deviceId: string) => store.devices.lastSeq(deviceId);
      services.push(
        new SerialService({
          ports: config.serial,
          ingestor,
          bus,
          metrics,
          log,
          lastSeq,
          maxFutureSkewMs: config.ingest.maxFutureSkewMs,
        }),
      );
    }
    if (config.hl7) {
      this.#hl7 = new Hl7Listener({
        config: config.hl7,
        ingestor,
        metrics,
        log,
        gatewayId: config.gateway.id,
        ward: config.ward,
        maxFutureSkewMs: config.ingest.maxFutureSkewMs,
        declared: declaredDevices(config),
        acceptUnknownSenders: config.ingest.acceptUnknownDevices,
        statusFile: join(config.gateway.dataDir, HL7_STATUS_FILE),
      });
      services.push(this.#hl7);
    }
    return services;
  }

  /** The hospital's ADT feed (hl7.adt), when configured: it changes the admissions the alarms and screens read. */
  #adtFeed(store: Store, admissions: Admissions): Service[] {
    const { config, log, bus } = this;
    const adt = config.hl7?.adt;
    if (!config.hl7 || !adt) return [];
    this.#adt = new AdtListener({
      config: adt,
      locations: adt.locations.length ? adt.locations : config.hl7.locations,
      db: store.db,
      audit: store.audit,
      admissions,
      bus,
      log,
      gatewayId: config.gateway.id,
      ward: config.ward,
      statusFile: join(config.gateway.dataDir, ADT_STATUS_FILE),
    });
    return [this.#adt];
  }

  #writeRunFile(): void {
    const info: RunInfo = {
      pid: process.pid,
      startedAt: new Date().toISOString(),
      ports: this.ports,
      token: this.#token,
    };
    writeFileSync(join(this.config.gateway.dataDir, RUN_FILE), `${JSON.stringify(info)}\n`, { mode: 0o600 });
  }
}

/** Devices from `devices:` (MQTT, or HL7 when an hl7 sender lists them) and from `serial:` ports, with the source they are heard on. */
function declaredDevices(config: GatewayConfig): DeclaredDevice[] {
  const serial = new Map(config.serial.map((p) => [p.deviceId, p]));
  const hl7 = new Set(config.hl7?.senders.flatMap((s) => s.devices ?? []));
  const devices: DeclaredDevice[] = config.devices.map((d) => {
    const port = serial.get(d.name);
    const bed = d.bed ?? port?.bed;
    return {
      id: d.name,
      ...(bed !== undefined && { bed }),
      source: port ? 'serial' : hl7.has(d.name) ? 'hl7' : 'mqtt',
    };
  });
  const named = new Set(config.devices.map((d) => d.name));
  for (const p of config.serial)
    if (!named.has(p.deviceId))
      devices.push({ id: p.deviceId, ...(p.bed !== undefined && { bed: p.bed }), source: 'serial' });
  return devices;
}

/** What the gateway runs beside its features: the sync (with a cloud), the storage guard, the scheduled jobs. */
export interface GatewayJobs {
  readonly sync: SyncService | undefined;
  readonly guard: StorageGuard;
  readonly scheduler: Scheduler;
}

/** Beds the config binds a device to. */
function configuredBeds(config: GatewayConfig): string[] {
  return [...new Set(config.devices.flatMap((d) => (d.bed === undefined ? [] : [d.bed])))];
}
