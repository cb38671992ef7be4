// Wires the edge daemon: builds every feature from the config, starts them in
// order (store, MQTT, HTTP) and stops them in reverse. The only place that
// knows how the pieces fit; each piece gets what it needs and nothing else.
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AlarmService } from './alarms/alarmService.js';
import { createSessions, DashboardService, sessionLookup } from './dashboard/dashboardService.js';
import { Authenticator } from './auth/authenticator.js';
import { EventBus } from './bus.js';
import type { GatewayConfig } from './config/load.js';
import { HttpServer, sendJson } from './http/server.js';
import { CommitQueue } from './ingest/commitQueue.js';
import { Ingestor } from './ingest/ingestor.js';
import type { CommittedItem } from './ingest/types.js';
import { createLogger, type Logger } from './log.js';
import { createMetrics, type GatewayMetrics } from './metrics.js';
import { MqttBroker } from './mqtt/broker.js';
import type { Service } from './service.js';
import { openDatabase, type Db } from './store/database.js';
import { IngestStore, type DeclaredDevice } from './store/ingestStore.js';
import { WriterThread } from './store/writerThread.js';
import { DiskFullWatch } from './store/diskFull.js';
import { SerialService } from './serial/serialService.js';
import { Hl7Listener } from './hl7/listener.js';
import { HL7_STATUS_FILE } from './hl7/senderStatus.js';
import { oldestUnsyncedTs } from './store/statusQuery.js';
import { ReadingFlag } from '../shared/reading.js';
import { syncMetricSources, wireSync, type SyncWiring } from './sync/syncWiring.js';
import type { TechnicalAlarms } from './sync/technicalAlarms.js';

export const RUN_FILE = 'wardgate.run.json';

export interface RunInfo {
  pid: number;
  startedAt: string;
  ports: { mqtt?: number; mqtts?: number; http?: number; hl7?: number };
  /** Bearer token of the local command line (the run file is mode 0600: reading it is the credential). */
  token: string;
}

export class Gateway {
  readonly config: GatewayConfig;
  readonly log: Logger;
  readonly bus: EventBus;
  #db: Db | undefined;
  #queue: CommitQueue | undefined;
  #mqtt: MqttBroker | undefined;
  #http: HttpServer | undefined;
  #hl7: Hl7Listener | undefined;
  #metrics: GatewayMetrics | undefined;
  #started: Service[] = [];
  #stopping = false;
  #alarms: AlarmService | undefined;
  #dashboard: DashboardService | undefined;
  #sync: SyncWiring | undefined;
  readonly #token = randomBytes(32).toString('hex');
  readonly #env: NodeJS.ProcessEnv;
  readonly #onFatal: (err: Error) => void;

  /**
   * `onFatal`: the disk failed to sync the database. By default the gateway
   * stops; the daemon instead exits at once, without the commits a clean stop
   * would make, so that its restart recovers from what the disk really holds.
   */
  constructor(config: GatewayConfig, options: { log?: Logger; env?: NodeJS.ProcessEnv; onFatal?: (err: Error) => void } = {}) {
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
    };
  }

  get metrics(): GatewayMetrics | undefined {
    return this.#metrics;
  }

  get db(): Db | undefined {
    return this.#db;
  }

  /** The sync, the storage guard and the scheduled jobs. */
  get sync(): SyncWiring | undefined {
    return this.#sync;
  }

  /** The ward dashboard (page, sessions, live feed). */
  get dashboard(): DashboardService | undefined {
    return this.#dashboard;
  }

  /** The alarm engine, once started. */
  get alarms(): AlarmService | undefined {
    return this.#alarms;
  }

  async start(): Promise<void> {
    const { config, log } = this;
    log.info({ ward: config.ward, gateway: config.gateway.id, config: config.source, devices: config.devices.length }, 'starting');
    try {
      for (const service of this.#build()) {
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
    rmSync(join(this.config.gateway.dataDir, RUN_FILE), { force: true });
    this.log.info('stopped');
  }

  #build(): Service[] {
    const { config, log, bus } = this;
    let store: IngestStore;
    // Ingest writes run on a thread of their own (store/writerWorker.ts), so that
    // fsyncs and inserts never stall the broker; everything else writes here.
    const writer = new WriterThread(config.gateway.dataDir, {
      onExit: (err) => log.error({ err }, 'ingest writer thread stopped; its messages were not acknowledged; the next commit starts a new one'),
      onFatal: (err) => this.#diskFailed(err),
    });
    const storeService: Service = {
      name: 'store',
      start: async () => {
        this.#db = openDatabase(config.gateway.dataDir);
        store = new IngestStore(this.#db);
        store.declareDevices(declaredDevices(config));
        await writer.start();
      },
      stop: async () => {
        await this.#queue?.close();
        await writer.close();
        const db = this.#db;
        this.#db = undefined;
        if (db) {
          db.pragma('wal_checkpoint(TRUNCATE)');
          db.close();
        }
      },
    };
    const metrics = createMetrics({
      unsyncedReadings: () => this.#counter('readings_unsynced'),
      oldestUnsyncedAgeSeconds: () => this.#oldestUnsyncedAge(),
      mqttClients: () => this.#mqtt?.connectedClients ?? 0,
      hl7Connections: () => this.#hl7?.connections ?? 0,
      ...syncMetricSources(() => this.#db, () => this.#sync?.sync, config.storage.quotaBytes),
    });
    // Sync, storage guard and jobs raise technical alarms through the engine (cloud unreachable, quarantine, buffer filling).
    const technical: TechnicalAlarms = {
      set: (key, report) =>
        this.#alarms?.engine?.setTechnical(key, report && { bed: null, deviceId: null, metric: null, value: report.value ?? null, rule: report.rule, priority: report.priority, message: report.message }),
    };
    const diskFull = new DiskFullWatch({ alarms: technical, log, registry: metrics.registry, dataDir: config.gateway.dataDir });
    const sync = wireSync({
      config, env: this.#env, log, db: () => this.#db!, bus, alarms: technical, metrics,
      applyAlarms: (alarms) => this.#alarms?.engine?.updateConfig(alarms),
    });
    this.#sync = sync;
    this.#metrics = metrics;
    const queue = new CommitQueue(
      {
        commit: (items, done) => {
          // storage.onHardLimit 'refuse-new': at the quota a reading is not acknowledged, so the device keeps it.
          if (!sync.guard.admitsReadings() && items.some((i) => i.kind === 'obs')) return done(new Error('storage quota reached; new readings refused'));
          writer.commit(items, (err, results) => {
            diskFull.observe(err);
            return err ? done(err) : done(null, results!.map((result, i) => ({ item: items[i], result })));
          });
        },
      },
      {
        // Alarms evaluate what is accepted, without waiting for the commit and its fsync.
        onSubmitted: (item) => bus.emit('ingest.accepted', [item]),
        onCommitted: (committed, ms) => {
          recordCommit(metrics, committed, ms);
          bus.emit('ingest.committed', committed);
        },
        onError: (err, items) => {
          metrics.commitErrors.inc();
          log.error({ err, items }, 'group commit failed; retrying items one by one');
        },
        onListenerError: (err) => log.error({ err }, 'post-commit hook failed'),
      },
      { inFlight: 2 },
    );
    this.#queue = queue;
    const ingestor = new Ingestor(queue, { isDeclared: (id) => store.isDeclared(id) }, {
      maxFutureSkewMs: config.ingest.maxFutureSkewMs,
      acceptUnknownDevices: config.ingest.acceptUnknownDevices,
      maxMessageBytes: config.mqtt.maxMessageBytes,
    }, Date.now, (source, err) => {
      metrics.handlerErrors.inc({ source, stage: 'validate' });
      log.error({ code: 'WG_ERR_INTERNAL', source, err: err instanceof Error ? err.message : String(err) }, 'a validator failed; the message was dead-lettered');
    });
    const auth = new Authenticator([...config.devices, ...config.users]);
    this.#mqtt = new MqttBroker({ config, auth, ingestor, bus, metrics, log });
    const httpTls = config.http.tls && { cert: readFileSync(config.http.tls.cert), key: readFileSync(config.http.tls.key) };
    this.#http = new HttpServer({ host: config.http.host, port: config.http.port, log, ...(httpTls && { tls: httpTls }) });
    this.#http.route('GET', '/healthz', (_req, res) =>
      sendJson(res, this.#stopping ? 503 : 200, { status: this.#stopping ? 'stopping' : 'ok', uptimeSeconds: Math.round(process.uptime()) }),
    );
    this.#http.route('GET', '/metrics', async (_req, res) => {
      const body = await metrics.registry.metrics();
      res.writeHead(200, { 'content-type': metrics.registry.contentType });
      res.end(body);
    });
    const mqtt = this.#mqtt;
    const sessions = createSessions(config);
    this.#alarms = new AlarmService({
      config, bus, log, auth, env: this.#env, http: this.#http, localToken: this.#token, sessions: sessionLookup(sessions),
      db: () => this.#db!,
      onFatal: (err) => this.#diskFailed(err),
      publisher: { publish: (topic, payload, options) => mqtt.publish(topic, payload, options) },
      onEvent: (phase, priority) => {
        metrics.alarmEvents.inc({ phase, priority });
        // Alarm events go to the cloud ahead of routine readings, without waiting for the next tick.
        sync.sync?.kick();
      },
    });
    const sources = this.#deviceSources(ingestor, metrics, () => store);
    this.#dashboard = new DashboardService({ config, http: this.#http, auth, bus, log, db: () => this.#db!, alarms: this.#alarms, sessions });
    // Alarms start before any device can connect, and stop after every source has.
    // The sync starts after the alarms (its technical alarms need the engine) and stops before the store.
    // The dashboard registers its routes before the HTTP port opens.
    return [storeService, this.#alarms, ...sync.services, this.#mqtt, ...sources, this.#dashboard, this.#http];
  }

  /** The disk failed to write or sync the database (ingest or alarm events): the daemon stops for its restart to recover from the disk. */
  #diskFailed(err: Error): void {
    this.log.fatal({ err }, 'the disk failed to write or sync the database: no further message is acknowledged');
    this.#onFatal(err);
  }

  /** Ingest from devices that do not speak MQTT: serial ports and the HL7 listener, when configured. */
  #deviceSources(ingestor: Ingestor, metrics: GatewayMetrics, store: () => IngestStore): Service[] {
    const { config, log, bus } = this;
    const services: Service[] = [];
    if (config.serial.length) {
      const lastSeq = (deviceId: string) => store().lastSeq(deviceId);
      services.push(new SerialService({ ports: config.serial, ingestor, bus, metrics, log, lastSeq, maxFutureSkewMs: config.ingest.maxFutureSkewMs }));
    }
    if (config.hl7) {
      this.#hl7 = new Hl7Listener({
        config: config.hl7, ingestor, metrics, log, gatewayId: config.gateway.id, ward: config.ward, maxFutureSkewMs: config.ingest.maxFutureSkewMs,
        declared: declaredDevices(config), acceptUnknownSenders: config.ingest.acceptUnknownDevices,
        statusFile: join(config.gateway.dataDir, HL7_STATUS_FILE),
      });
      services.push(this.#hl7);
    }
    return services;
  }

  #counter(name: string): number {
    const row = this.#db?.prepare('SELECT value FROM counters WHERE name = ?').get(name) as { value: number } | undefined;
    return row?.value ?? 0;
  }

  #oldestUnsyncedAge(): number {
    const ts = this.#db ? oldestUnsyncedTs(this.#db) : null;
    return ts === null ? 0 : Math.max(0, (Date.now() - ts) / 1000);
  }

  #writeRunFile(): void {
    const info: RunInfo = { pid: process.pid, startedAt: new Date().toISOString(), ports: this.ports, token: this.#token };
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
    return { id: d.name, ...(bed !== undefined && { bed }), source: port ? 'serial' : hl7.has(d.name) ? 'hl7' : 'mqtt' };
  });
  const named = new Set(config.devices.map((d) => d.name));
  for (const p of config.serial) if (!named.has(p.deviceId)) devices.push({ id: p.deviceId, ...(p.bed !== undefined && { bed: p.bed }), source: 'serial' });
  return devices;
}

function recordCommit(metrics: GatewayMetrics, committed: readonly CommittedItem[], ms: number): void {
  const now = Date.now();
  metrics.commitBatch.observe(committed.length);
  metrics.commitSeconds.observe(ms / 1000);
  for (const { item, result } of committed) {
    metrics.messages.inc({ source: item.source, outcome: result.outcome });
    if (result.outcome === 'rejected') metrics.rejects.inc({ reason: result.rejection.code });
    if (item.kind !== 'obs') continue;
    metrics.ingestLatency.observe((now - item.receivedTs) / 1000);
    if (result.outcome !== 'stored') continue;
    metrics.readings.inc({ source: item.source }, item.readings.length);
    for (const r of item.readings) if (r.flags & ReadingFlag.artifact) metrics.artifacts.inc();
  }
}
