// Prometheus metrics of one gateway (its own registry, so that tests and
// benchmarks can run several gateways in one process).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { eventLoopLagNames, registerEventLoopLag } from './eventLoopLag.js';

export interface MetricSources {
  /** Unsynced readings, from the counters table. */
  unsyncedReadings(): number;
  /** Age in seconds of the oldest unsynced reading, 0 when none. */
  oldestUnsyncedAgeSeconds(): number;
  mqttClients(): number;
  /** Open HL7 connections (absent when the listener is off). */
  hl7Connections?(): number;
  /** Sync: readings confirmed per second over the last minute, seconds since the last success (-1: never), quarantined batches. */
  syncDrainRate?(): number;
  syncLastSuccessAgeSeconds?(): number;
  syncQuarantinedBatches?(): number;
  /** Ranges re-sent after a verification found a hole, not yet found whole. */
  syncVerifyPendingRepairs?(): number;
  /** Bytes the database uses against its quota. */
  storageUsedBytes?(): number;
}

/** How often the event-loop lag is sampled, in ms. */
export const LAG_SAMPLE_MS = 100;

/** prom-client's own lag histogram cannot be turned off: it ticks once in 24 days instead, and is not exported. */
const UNUSED_SAMPLE_MS = 2 ** 31 - 1;

export type GatewayMetrics = ReturnType<typeof createMetrics>;

export function createMetrics(sources: MetricSources) {
  const registry = new Registry();
  // The event-loop lag is sampled on a timer: prom-client's default, every 10 ms, woke an idle daemon 100 times a
  // second (about a point of a core on a small box); every 100 ms still sees a loop held for longer. prom-client's
  // lag statistics report the sampling interval as lag (eventLoopLag.ts): ours replace them, same names. Its
  // nodejs_eventloop_lag_seconds (a setImmediate timed at each scrape) stays.
  collectDefaultMetrics({
    register: registry,
    prefix: 'wardgate_process_',
    eventLoopMonitoringPrecision: UNUSED_SAMPLE_MS,
  });
  for (const name of eventLoopLagNames('wardgate_process_')) registry.removeSingleMetric(name);
  registerEventLoopLag(registry, 'wardgate_process_', LAG_SAMPLE_MS);
  const registers = [registry];
  return {
    registry,
    messages: new Counter({
      name: 'wardgate_ingest_messages_total',
      help: 'Device messages by source and outcome (stored, duplicate, status, rejected).',
      labelNames: ['source', 'outcome'] as const,
      registers,
    }),
    readings: new Counter({
      name: 'wardgate_ingest_readings_total',
      help: 'Readings committed, by source.',
      labelNames: ['source'] as const,
      registers,
    }),
    rejects: new Counter({
      name: 'wardgate_ingest_rejects_total',
      help: 'Rejected (dead-lettered) messages by error code.',
      labelNames: ['reason'] as const,
      registers,
    }),
    artifacts: new Counter({
      name: 'wardgate_ingest_artifacts_total',
      help: 'Readings stored with the artifact flag (outside plausibility gates).',
      registers,
    }),
    commitBatch: new Histogram({
      name: 'wardgate_commit_batch_items',
      help: 'Items per group-commit transaction.',
      buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000],
      registers,
    }),
    commitSeconds: new Histogram({
      name: 'wardgate_commit_duration_seconds',
      help: 'Duration of one group-commit transaction, fsync included.',
      buckets: [0.0001, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.05, 0.1, 0.5],
      registers,
    }),
    ingestLatency: new Histogram({
      name: 'wardgate_ingest_latency_seconds',
      help: 'From receipt of a message to its durable commit.',
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5, 1],
      registers,
    }),
    alarmEvents: new Counter({
      name: 'wardgate_alarm_events_total',
      help: 'Alarm lifecycle events by phase and priority.',
      labelNames: ['phase', 'priority'] as const,
      registers,
    }),
    commitErrors: new Counter({
      name: 'wardgate_commit_errors_total',
      help: 'Failed group-commit transactions.',
      registers,
    }),
    authFailures: new Counter({
      name: 'wardgate_mqtt_auth_failures_total',
      help: 'Refused MQTT connections (connect, client_id, busy), publishes, subscriptions, deliveries (forward) and oversized packets (oversize, oversize_unauthenticated).',
      labelNames: ['kind'] as const,
      registers,
    }),
    handlerErrors: new Counter({
      name: 'wardgate_handler_errors_total',
      help: 'Exceptions caught while handling one message or request (stage: where); the message was refused, the daemon went on.',
      labelNames: ['source', 'stage'] as const,
      registers,
    }),
    bufferDepth: new Gauge({
      name: 'wardgate_buffer_readings',
      help: 'Readings stored and not yet confirmed by the cloud.',
      registers,
      collect() {
        this.set(sources.unsyncedReadings());
      },
    }),
    oldestUnsynced: new Gauge({
      name: 'wardgate_buffer_oldest_age_seconds',
      help: 'Age of the oldest reading not yet confirmed by the cloud.',
      registers,
      collect() {
        this.set(sources.oldestUnsyncedAgeSeconds());
      },
    }),
    // Serial ports (label `port`: the configured path) and the HL7 listener.
    serialLines: new Counter({
      name: 'wardgate_serial_lines_total',
      help: 'Serial lines by result: reading, header (skipped banner), garbage (not the driver format), error (its handling failed: refused), overlong, partial (cut by a port loss).',
      labelNames: ['port', 'result'] as const,
      registers,
    }),
    serialJunkBytes: new Counter({
      name: 'wardgate_serial_junk_bytes_total',
      help: 'Bytes dropped by serial framing: control or non-ASCII bytes and the damaged partial lines before them.',
      labelNames: ['port'] as const,
      registers,
    }),
    serialPortUp: new Gauge({
      name: 'wardgate_serial_port_up',
      help: 'Whether a configured serial port is open (1) or unavailable and being retried (0).',
      labelNames: ['port'] as const,
      registers,
    }),
    serialReopens: new Counter({
      name: 'wardgate_serial_port_retries_total',
      help: 'Failed opens or losses of a serial port, each followed by a retry after backoff.',
      labelNames: ['port'] as const,
      registers,
    }),
    hl7Messages: new Counter({
      name: 'wardgate_hl7_messages_total',
      help: 'HL7 messages answered, by acknowledgment code (AA, AE, AR); refused-connection counts connections from addresses not allowed.',
      labelNames: ['ack'] as const,
      registers,
    }),
    hl7FrameErrors: new Counter({
      name: 'wardgate_hl7_frame_errors_total',
      help: 'MLLP framing faults: junk outside a frame, a frame restarted before its end, an over-long frame, a frame cut by a closed connection.',
      labelNames: ['fault'] as const,
      registers,
    }),
    hl7ObxSkipped: new Counter({
      name: 'wardgate_hl7_obx_skipped_total',
      help: 'OBX rows not turned into readings: hierarchy rows, codes outside the registry, non-numeric values, statuses that carry no result.',
      labelNames: ['reason'] as const,
      registers,
    }),
    hl7ObxUnmapped: new Counter({
      name: 'wardgate_hl7_obx_unmapped_total',
      help: 'OBX rows whose code (OBX-3) the gateway does not map, by code (at most 256 distinct codes; later ones as "other").',
      labelNames: ['code'] as const,
      registers,
    }),
    hl7DemoRows: new Counter({
      name: 'wardgate_hl7_demo_rows_total',
      help: 'OBX rows of demo or test data (MSH-11 D or T, OBX-8 demo-data/test-data), by sender: never stored as patient data.',
      labelNames: ['sender'] as const,
      registers,
    }),
    hl7ClockOffset: new Gauge({
      name: 'wardgate_hl7_sender_clock_offset_seconds',
      help: "A sender's clock against the gateway's at its last message: MSH-7 minus the arrival time (negative: behind, or transit time).",
      labelNames: ['sender'] as const,
      registers,
    }),
    hl7HandlerFailures: new Counter({
      name: 'wardgate_hl7_handler_failures_total',
      help: 'HL7 messages on which the handler failed unexpectedly; each was refused with AE (WG_ERR_INTERNAL) and dead-lettered.',
      registers,
    }),
    hl7ConnectionsRefused: new Counter({
      name: 'wardgate_hl7_connections_refused_total',
      help: 'HL7 connections refused or closed early, by reason: address (not in hl7.allowedAddresses), full (hl7.maxConnections), per-address (hl7.maxConnectionsPerAddress), first-message (nothing complete within hl7.firstMessageTimeoutMs), evicted (a silent connection closed to make room for a new one).',
      labelNames: ['reason'] as const,
      registers,
    }),
    hl7Connections: new Gauge({
      name: 'wardgate_hl7_connections',
      help: 'Open HL7 (MLLP) connections.',
      registers,
      collect() {
        this.set(sources.hl7Connections?.() ?? 0);
      },
    }),
    syncVerifyRuns: new Counter({
      name: 'wardgate_sync_verify_runs_total',
      help: 'Verifications of what the cloud holds (the verify job), by outcome: whole, holes (items missing and re-sent), failed.',
      labelNames: ['outcome'] as const,
      registers,
    }),
    syncVerifyItems: new Counter({
      name: 'wardgate_sync_verify_items_total',
      help: 'Items (readings, alarm events, audit entries) compared with the cloud.',
      registers,
    }),
    syncVerifyMissing: new Counter({
      name: 'wardgate_sync_verify_missing_items_total',
      help: 'Items the cloud had confirmed but did not hold when verified.',
      registers,
    }),
    syncVerifyResent: new Counter({
      name: 'wardgate_sync_verify_resent_items_total',
      help: 'Items put back in flight to fill holes found by verification.',
      registers,
    }),
    syncVerifyPendingRepairs: new Gauge({
      name: 'wardgate_sync_verify_pending_repairs',
      help: 'Ranges re-sent after a hole was found and not yet verified whole (the "sync hole" alarm is raised meanwhile).',
      registers,
      collect() {
        this.set(sources.syncVerifyPendingRepairs?.() ?? 0);
      },
    }),
    syncBatches: new Counter({
      name: 'wardgate_sync_batches_total',
      help: 'Sync attempts by outcome: synced, duplicate (the cloud had it already), retry (5xx, timeout, network), quarantined (4xx).',
      labelNames: ['outcome'] as const,
      registers,
    }),
    syncBytes: new Counter({
      name: 'wardgate_sync_bytes_total',
      help: 'Compressed batch bytes sent, every attempt counted.',
      registers,
    }),
    syncErrors: new Counter({
      name: 'wardgate_sync_errors_total',
      help: 'Failed sync attempts by error code (WG_ERR_... from the cloud, HTTP_5xx, timeout, ECONNREFUSED, ...).',
      labelNames: ['code'] as const,
      registers,
    }),
    syncNumberingRaised: new Counter({
      name: 'wardgate_sync_numbering_raised_total',
      help: 'Streams whose outbox numbering was raised at start above the numbers the cloud holds (a database restored from an older backup, or replaced).',
      labelNames: ['stream'] as const,
      registers,
    }),
    syncConflicts: new Counter({
      name: 'wardgate_sync_conflict_items_total',
      help: 'Items the cloud did not store because it holds other items under their numbers.',
      registers,
    }),
    syncDrainRate: new Gauge({
      name: 'wardgate_sync_drain_rate_readings_per_second',
      help: 'Readings confirmed by the cloud per second over the last minute.',
      registers,
      collect() {
        this.set(sources.syncDrainRate?.() ?? 0);
      },
    }),
    syncLastSuccessAge: new Gauge({
      name: 'wardgate_sync_last_success_age_seconds',
      help: 'Seconds since the cloud last confirmed a batch; -1 when it never has.',
      registers,
      collect() {
        this.set(sources.syncLastSuccessAgeSeconds?.() ?? -1);
      },
    }),
    syncQuarantined: new Gauge({
      name: 'wardgate_sync_quarantined_batches',
      help: 'Batches refused by the cloud (4xx), kept until wardgate sync --retry-quarantined.',
      registers,
      collect() {
        this.set(sources.syncQuarantinedBatches?.() ?? 0);
      },
    }),
    storageUsed: new Gauge({
      name: 'wardgate_storage_used_bytes',
      help: 'Bytes the database uses (pages in use and WAL), against storage.quotaBytes.',
      registers,
      collect() {
        this.set(sources.storageUsedBytes?.() ?? 0);
      },
    }),
    jobRuns: new Counter({
      name: 'wardgate_job_runs_total',
      help: 'Scheduled job runs by job and outcome (ok, failed, skipped: the previous run was still busy).',
      labelNames: ['job', 'outcome'] as const,
      registers,
    }),
    mqttClients: new Gauge({
      name: 'wardgate_mqtt_clients',
      help: 'Connected MQTT clients.',
      registers,
      collect() {
        this.set(sources.mqttClients());
      },
    }),
  };
}
