// The edge-to-cloud sync wire contract (PRODUCT.md, "Edge to cloud sync"):
// what the edge POSTs to {cloud.url}/ingestBatch and what the cloud answers.
// The edge builds these types, the cloud validates them (validate.ts). An
// optional field or value may be added without changing `SYNC_VERSION` (a batch
// valid before stays valid), but an older cloud refuses it: docs/DEPLOY.md and
// docs/SYNC.md ("Upgrading to this version") say which side to upgrade first.
// Anything else, a required field or a changed meaning, changes the version.
import type { CanonicalUnit } from '../codes.js';
import type { SensorState } from '../reading.js';

/** Version of the batch body; the cloud refuses any other. */
export const SYNC_VERSION = 1 as const;

/** HTTP header names, lower-cased as Node presents them. */
export const SyncHeader = {
  gateway: 'x-wardgate-gateway',
  batch: 'x-wardgate-batch',
  /** Unix time in whole milliseconds, decimal ASCII, of the moment the request was signed; new for every attempt. */
  timestamp: 'x-wardgate-timestamp',
  /** `v1=<64 lower-case hex>`: HMAC-SHA256(secret, timestamp + "." + body bytes). */
  signature: 'x-wardgate-signature',
} as const;

/**
 * The request body is a gzip member (RFC 1952) holding UTF-8 JSON of a `SyncBatch`,
 * sent with this content type and NO Content-Encoding header: the signature covers
 * the exact compressed bytes, and the cloud decompresses them itself with a bound
 * (a Content-Encoding would make HTTP middleware inflate the body, unbounded,
 * before the signature could be checked).
 */
export const SYNC_CONTENT_TYPE = 'application/gzip';

/** The window within which a signed timestamp is accepted, either side of the cloud clock. */
export const SIGNATURE_WINDOW_SECONDS = 300;
/** Largest compressed body the cloud accepts (413 above). */
export const MAX_BATCH_BYTES = 1024 * 1024;
/** Largest decompressed JSON the cloud accepts (413 above): a bound on gzip bombs. */
export const MAX_BATCH_JSON_BYTES = 16 * 1024 * 1024;
/** Most items (readings + alarms + statuses + audit entries) in one batch. */
export const MAX_BATCH_ITEMS = 20_000;

/**
 * The three ordered streams of a gateway's outbox. Every item carries `n`, its
 * outbox number: a positive integer assigned by the gateway, unique and never
 * reused within (gateway, stream), and increasing in the order the items are
 * sent. (gateway, stream, n) is the item's idempotency key: the cloud stores an
 * item at most once however often, or in whatever batch, it arrives.
 */
export const syncStreams = ['readings', 'alarms', 'statuses', 'audit'] as const;
export type SyncStream = (typeof syncStreams)[number];

/** One reading: one value of one metric (an entry of an observation's `obs`). */
export interface SyncReading {
  readonly n: number;
  readonly device: string;
  /** The device's own sequence number of the observation message. */
  readonly seq: number;
  /** Short metric name from shared/codes.ts (`spo2`). */
  readonly code: string;
  /** Value in the metric's canonical unit. */
  readonly value: number;
  /** The metric's canonical UCUM unit (must match the code registry). */
  readonly unit: CanonicalUnit;
  /** Observation time, epoch ms. */
  readonly ts: number;
  /** ReadingFlag bits (shared/reading.ts). */
  readonly flags: number;
  readonly bed: string;
  /** Keyed pseudonym of the patient (pseudonym.ts), never the clear identifier. */
  readonly patient?: string;
}

/**
 * The edge engine's lifecycle (edge/alarms/types.ts): besides raised,
 * escalated, acknowledged and cleared, `updated` (the condition's value or
 * priority changed while open) and `latched` (a high-priority alarm whose
 * condition ended, held until acknowledged, IEC 60601-1-8). Added without a
 * version change: a batch valid before is valid now.
 */
export const alarmPhases = ['raised', 'updated', 'escalated', 'latched', 'acknowledged', 'cleared'] as const;
export type AlarmPhase = (typeof alarmPhases)[number];
export const alarmPriorities = ['high', 'medium', 'low'] as const;
export type AlarmPriority = (typeof alarmPriorities)[number];
/** IEC 60601-1-8: physiological (patient values) or technical (equipment) alarm. */
export const alarmKinds = ['physiological', 'technical'] as const;
export type AlarmKind = (typeof alarmKinds)[number];

/** One step in an alarm's lifecycle on the ward. */
export interface SyncAlarmEvent {
  readonly n: number;
  /** The gateway's id of the alarm; all phases of one alarm share it. */
  readonly alarmId: string;
  readonly phase: AlarmPhase;
  readonly priority: AlarmPriority;
  readonly kind: AlarmKind;
  /** The rule that raised it, as the edge names it (`limit`, `rate`, `news2`, `device-silent`). */
  readonly condition: string;
  /** Epoch ms of this phase. */
  readonly ts: number;
  readonly bed?: string;
  readonly device?: string;
  readonly patient?: string;
  /** Metric short name, for physiological alarms on one metric. */
  readonly code?: string;
  /** The value that triggered it, canonical unit. */
  readonly value?: number;
  /**
   * The limit a physiological limit alarm crossed, as the edge recorded it with
   * the event: `low` (the value at or below it) or `high` (at or above it), and
   * the bound in force, in the canonical unit of `code` (NEWS2 scale 2 and a
   * config pull move it). Absent for any other alarm (technical, NEWS2, rate of
   * change) and for events recorded before the edge kept limits; never null.
   * Only with `code` (the cloud refuses a limit without one): so the edge's
   * pulse limit alarm, whose metric `pulse` (`hr` or `pr`, whichever came
   * last) is not a registry code, travels without its limit as it travels
   * without a code, a known gap. Added without a version change: a batch
   * valid before is valid now.
   */
  readonly limit?: SyncAlarmLimit;
  /** User name that acknowledged (phase `acknowledged`). */
  readonly by?: string;
}

export const limitSides = ['low', 'high'] as const;
export interface SyncAlarmLimit {
  readonly side: (typeof limitSides)[number];
  readonly value: number;
}

/** One device status report (`wardgate/devices/{id}/status`). */
export interface SyncDeviceStatus {
  readonly n: number;
  readonly device: string;
  readonly ts: number;
  readonly bed?: string;
  readonly online?: boolean;
  readonly battery?: number;
  readonly sensor?: SensorState;
}

/** Bounds of an audit entry's free detail, so that the trail cannot carry bulk data. */
export const MAX_AUDIT_DETAIL_KEYS = 16;
export const MAX_AUDIT_TEXT = 128;

/**
 * One entry of the ward's audit trail (HIPAA 164.312(b)): who acknowledged,
 * admitted, discharged, logged in or changed what, and when. User names and
 * actions only: a target names a bed or an alarm, never a patient, and the
 * detail is a flat object of short scalars (an admission number, `via`).
 * Added without a version change: the stream is optional, and a batch
 * without it is valid as before.
 */
export interface SyncAuditEntry {
  readonly n: number;
  readonly ts: number;
  /** The user name, or `wardgate`/`cloud` for the gateway's own actions. */
  readonly actor: string;
  readonly action: string;
  /** `bed:3`, `alarm:a-17`, `alarms`. */
  readonly target?: string;
  readonly detail?: Readonly<Record<string, string | number | boolean | null>>;
}

/** The JSON inside the gzip body. */
export interface SyncBatch {
  readonly v: typeof SYNC_VERSION;
  readonly gateway: string;
  readonly ward: string;
  /** batchIdOf(gateway, items): see batchId.ts. Equals the X-Wardgate-Batch header. */
  readonly batchId: string;
  /** When the edge built the batch, epoch ms. */
  readonly created: number;
  readonly readings: readonly SyncReading[];
  readonly alarms: readonly SyncAlarmEvent[];
  readonly statuses: readonly SyncDeviceStatus[];
  /** Absent when no audit entry travels (and so from gateways that predate the stream). */
  readonly audit?: readonly SyncAuditEntry[];
}

/** 2xx answer of ingestBatch. `duplicate` means nothing new was stored (a retry). */
export interface IngestAccepted {
  readonly ok: true;
  readonly batchId: string;
  /** Items stored by this request, per stream. */
  readonly stored: {
    readonly readings: number;
    readonly alarms: number;
    readonly statuses: number;
    readonly audit?: number;
  };
  /** Items already stored by an earlier request (retries and overlapping batches). */
  readonly skipped: number;
  /** Nothing new was stored and nothing conflicted: a retry. */
  readonly duplicate: boolean;
  /**
   * Skipped items that differ from the items the cloud holds under the same
   * numbers: the gateway numbered new items with numbers it had used before.
   * They are not stored. Absent when there is none.
   */
  readonly conflicts?: number;
}

/** 4xx/5xx answer of every cloud function. 4xx: quarantine, do not retry; 5xx: retry. */
export interface CloudErrorBody {
  readonly ok: false;
  readonly error: { readonly code: string; readonly message: string; readonly field?: string };
}

/** What edgeConfig answers: rule and limit overrides for the gateway's config pull. */
export interface EdgeConfigDocument {
  readonly gateway: string;
  readonly ward: string;
  /** Increases with every change; 0 means "no overrides have ever been set". */
  readonly version: number;
  readonly updated: number | null;
  /** Overrides, merged by the edge over its YAML (the edge validates them with its config schema). */
  readonly config: Readonly<Record<string, unknown>>;
}
