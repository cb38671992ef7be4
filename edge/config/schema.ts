// The one config schema: source of the TypeScript type, the defaults and the
// error messages. Secrets are resolved afterwards (see load.ts).
import { z } from 'zod';
import { isTimeZone } from '../hl7/dtm.js';
import { alarmConfigSchema } from '../alarms/config.js';
import { dashboardConfigSchema } from '../dashboard/config.js';
import { ehrConfigSchema } from '../integration/ehrConfig.js';
import { adtConfigSchema } from '../integration/adtConfig.js';
import { alarmManagerConfigSchema } from '../integration/alarmManagerConfig.js';
import { jobsConfigSchema } from '../jobs/config.js';
import { storageConfigSchema } from '../store/config.js';
import { cloudConfigSchema } from '../sync/config.js';
import { proxyConfigSchema } from '../net/config.js';

const DEVICE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const WARD_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$/;

const port = z.int().min(0).max(65535);
const host = z.string().min(1);

/** One of these names the credential; `wardgate passwd` makes the hash. */
const secretFields = {
  secretHash: z.string().min(1).optional(),
  secretHashEnv: z
    .string()
    .regex(/^[A-Z_][A-Z0-9_]*$/, 'expected an environment variable name')
    .optional(),
  secretHashFile: z.string().min(1).optional(),
};

export const roles = ['viewer', 'nurse', 'admin'] as const;
export type Role = (typeof roles)[number];

const device = z.strictObject({
  id: z.string().regex(DEVICE_ID, 'expected 1-64 letters, digits, dot, dash or underscore'),
  bed: z.string().min(1).max(32).optional(),
  /** How long this device may be silent before "device silent" (alarms.technical.silentAfterMs by default; 0: never, for spot devices). */
  silentAfterMs: z.int().min(0).optional(),
  ...secretFields,
});

const user = z.strictObject({
  name: z.string().regex(DEVICE_ID, 'expected 1-64 letters, digits, dot, dash or underscore'),
  role: z.enum(roles),
  ...secretFields,
});

export const serialDrivers = [
  'masimo-ascii',
  'nonin-ascii',
  'nonin-binary-1',
  'nonin-binary-2',
  'nonin-binary-7',
  'nonin-binary-8',
  'jsonl',
] as const;
export type SerialDriverName = (typeof serialDrivers)[number];

/** One RS-232 / USB serial port with one device on it. Defaults are the vendors' (9600 8N1). */
const serialPort = z.strictObject({
  path: z.string().min(1),
  driver: z.enum(serialDrivers),
  deviceId: z.string().regex(DEVICE_ID, 'expected 1-64 letters, digits, dot, dash or underscore'),
  bed: z.string().min(1).max(32).optional(),
  baudRate: z.int().min(50).max(4_000_000).default(9600),
  dataBits: z.literal([5, 6, 7, 8]).default(8),
  parity: z.enum(['none', 'even', 'odd', 'mark', 'space']).default('none'),
  /** Nonin 7500 sends 1 stop bit, some models 2 (DOMAIN.md section 6). */
  stopBits: z.literal([1, 1.5, 2]).default(1),
  /** How the device clock in a line is read: local time, UTC, or not at all (a device whose clock is unset). */
  deviceClock: z.enum(['local', 'utc', 'ignore']).default('local'),
  /** Longer lines are counted and skipped up to the next line end. */
  maxLineBytes: z.int().min(64).max(65_536).default(1024),
  /** No valid line for this long while the port is open raises device-silent. */
  silentAfterMs: z.int().min(1000).default(10_000),
  /** Reopen backoff after a failure: doubles from the first to the second. */
  reopenMinMs: z.int().min(10).default(500),
  reopenMaxMs: z.int().min(10).default(30_000),
});

/** A bed id that can travel in an MQTT topic level: no `/`, `+`, `#`, spaces or control characters. */
export const HL7_BED_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$/;

/**
 * One HL7 sender: who it is (MSH-3, optionally MSH-4 and its addresses) and
 * what it may report. A device declared for MQTT or a serial port is never
 * accepted over HL7, whatever is listed here (edge/hl7/senderPolicy.ts).
 */
const hl7Sender = z.strictObject({
  /** MSH-3 sending application (its namespace id, HD component 1). */
  application: z.string().min(1),
  /** MSH-4 sending facility (namespace id); absent: any. */
  facility: z.string().min(1).optional(),
  /** Source addresses it connects from; absent: any (hl7.allowedAddresses still applies). */
  addresses: z.array(z.string().min(1)).min(1).optional(),
  /** Device ids it may report (OBX-18, else MSH-3); absent: equipment no other source or sender owns. */
  devices: z
    .array(z.string().regex(DEVICE_ID, 'expected 1-64 letters, digits, dot, dash or underscore'))
    .min(1)
    .optional(),
  /** Beds it may name in PV1-3; absent: the beds declared in the config. */
  beds: z
    .array(z.string().regex(HL7_BED_ID, 'expected 1-32 letters, digits, dot, dash or underscore'))
    .min(1)
    .optional(),
  /**
   * IANA time zone of its clock (Europe/Paris), for a sender whose times carry no UTC offset, MSH-7's
   * included; absent: such times are refused (WG_ERR_HL7_TIMEZONE), never read in the gateway's zone.
   */
  timeZone: z.string().refine(isTimeZone, 'expected an IANA time zone such as Europe/Paris').optional(),
});

/**
 * One PV1-3 location (point of care ^ room ^ bed) the ward owns, and the ward's bed id for it. An
 * absent room or bed matches any; absent `wardBed`: PV1-3's bed component is the bed id.
 */
const hl7Location = z.strictObject({
  pointOfCare: z.string().min(1),
  room: z.string().min(1).optional(),
  bed: z.string().min(1).optional(),
  wardBed: z.string().regex(HL7_BED_ID, 'expected 1-32 letters, digits, dot, dash or underscore').optional(),
});

const hl7 = z
  .strictObject({
    host: host.default('127.0.0.1'),
    port: port.default(2575),
    /** Who may send and what each may report; empty: nobody, unless ingest.acceptUnknownDevices (lab use). */
    senders: z.array(hl7Sender).default([]),
    /** PV1-3 locations the ward owns, first match wins; empty: PV1-3's bed component is the bed, whatever the unit. */
    locations: z.array(hl7Location).default([]),
    /** A PV1-3 location that no entry of `locations` matches (when there are any): refuse the message, or keep its readings without a bed. */
    otherLocations: z.enum(['refuse', 'no-bed']).default('refuse'),
    /** MSH-3 sending applications (namespace id) allowed to send; empty: any. */
    allowedApplications: z.array(z.string().min(1)).default([]),
    /** Source IP addresses allowed to connect; empty: any. */
    allowedAddresses: z.array(z.string().min(1)).default([]),
    /** Larger MLLP frames are refused with AR and dead-lettered (head only). */
    maxMessageBytes: z.int().min(1024).max(16_777_216).default(1_048_576),
    /** Messages with more segments are refused with AR (a PCD-01 report holds tens to a few hundred). */
    maxSegmentsPerMessage: z.int().min(16).max(100_000).default(2000),
    maxConnections: z.int().min(1).max(1024).default(64),
    /** Connections open at once from one address (a monitor needs one, a central station a few). */
    maxConnectionsPerAddress: z.int().min(1).max(1024).default(8),
    /**
     * A new connection that completes no message within this time is closed (0: never). Longer than
     * the typical 1-minute PCD-01 reporting period (IHE PCD TF-2), so a monitor that connects and then
     * waits for its first report keeps its connection; an idle socket holds a slot no longer.
     */
    firstMessageTimeoutMs: z.int().min(0).default(90_000),
    /** A connection that sends nothing for this long is closed (0: never). */
    idleTimeoutMs: z.int().min(0).default(600_000),
    /** The hospital's ADT feed in, on a port of its own (edge/integration/adtConfig.ts); absent: off. */
    adt: adtConfigSchema.optional(),
  })
  .superRefine((h, ctx) => {
    // A hospital's ADT feed names every ward's beds: without the ward's locations every admission would land here.
    if (h.adt && h.adt.locations.length === 0 && h.locations.length === 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['adt', 'locations'],
        message: "expected this ward's PV1-3 locations (hl7.adt.locations or hl7.locations)",
        input: h.adt.locations,
      });
    }
  });

export const configSchema = z.strictObject({
  ward: z.string().regex(WARD_ID, 'expected 1-32 letters, digits, dash or underscore').default('ward'),
  gateway: z
    .strictObject({
      id: z.string().regex(DEVICE_ID, 'expected 1-64 letters, digits, dot, dash or underscore').default('gateway'),
      dataDir: z.string().min(1).default('./data'),
    })
    .prefault({}),
  mqtt: z
    .strictObject({
      host: host.default('127.0.0.1'),
      port: port.default(1883),
      allowAnonymous: z.boolean().default(false),
      /** Larger messages are dead-lettered; much larger packets close the connection. */
      maxMessageBytes: z.int().min(256).max(1_048_576).default(16_384),
      tls: z
        .strictObject({
          host: host.optional(),
          port: port.default(8883),
          cert: z.string().min(1),
          key: z.string().min(1),
          ca: z.string().min(1).optional(),
        })
        .optional(),
    })
    .prefault({}),
  http: z
    .strictObject({
      host: host.default('127.0.0.1'),
      port: port.default(8080),
      /** The port then speaks HTTPS only; the command line pins this certificate. */
      tls: z.strictObject({ cert: z.string().min(1), key: z.string().min(1) }).optional(),
    })
    .prefault({}),
  ingest: z
    .strictObject({
      /** How far ahead of the gateway clock a device timestamp may be. */
      maxFutureSkewMs: z.int().min(0).default(300_000),
      /** Lab use: store readings from devices not declared below instead of dead-lettering them. */
      acceptUnknownDevices: z.boolean().default(false),
      /**
       * How long a reading that finds the disk idle waits for others to share
       * its commit and fsync, while readings arrive on average less than twice
       * this apart (a busy floor): less CPU, that much later a PUBACK. A quiet
       * ward's readings never wait. Alarms never wait for it. 0: off
       * (docs/PERFORMANCE.md).
       */
      groupCommitMs: z.int().min(0).max(20).default(3),
    })
    .prefault({}),
  devices: z.array(device).default([]),
  users: z.array(user).default([]),
  serial: z
    .array(serialPort)
    .default([])
    .superRefine((ports, ctx) => {
      for (const key of ['path', 'deviceId'] as const) {
        const first = new Map<string, number>();
        ports.forEach((p, i) => {
          const at = first.get(p[key]);
          if (at === undefined) first.set(p[key], i);
          else
            ctx.addIssue({
              code: 'custom',
              path: [i, key],
              message: `'${p[key]}' is already used by serial[${at}]`,
              input: p[key],
            });
        });
      }
      ports.forEach((p, i) => {
        if (p.reopenMaxMs < p.reopenMinMs)
          ctx.addIssue({
            code: 'custom',
            path: [i, 'reopenMaxMs'],
            message: 'expected at least reopenMinMs',
            input: p.reopenMaxMs,
          });
      });
    }),
  /** HL7 v2 / MLLP listener (IHE PCD-01); absent: off. */
  hl7: hl7.optional(),
  /** Vitals to the patient's chart in the hospital's EHR, ORU^R01 over MLLP (edge/integration/ehrConfig.ts); absent: off. */
  ehr: ehrConfigSchema.optional(),
  /** Alarms to the hospital's alarm manager, IHE PCD-04 out and PCD-05 back (edge/integration/alarmManagerConfig.ts); absent: off. */
  alarmManager: alarmManagerConfigSchema.optional(),
  /** Local alarm rules, escalation and the paging webhook (edge/alarms/config.ts). */
  alarms: alarmConfigSchema,
  /** Edge-to-cloud sync (edge/sync/config.ts); absent: sync off, everything stays buffered. */
  cloud: cloudConfigSchema.optional(),
  /** The hospital's web proxy for every request out (edge/net/config.ts); absent: HTTPS_PROXY, HTTP_PROXY, NO_PROXY from the environment. */
  proxy: proxyConfigSchema.optional(),
  storage: storageConfigSchema,
  jobs: jobsConfigSchema,
  /** The ward dashboard's sessions (edge/dashboard/config.ts). */
  dashboard: dashboardConfigSchema,
  log: z
    .strictObject({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info') })
    .prefault({}),
});

export type ConfigInput = z.input<typeof configSchema>;
export type ParsedConfig = z.output<typeof configSchema>;
export type SerialPortConfig = ParsedConfig['serial'][number];
export type Hl7Config = NonNullable<ParsedConfig['hl7']>;

/** Environment variables that override a config value (applied before validation). */
export const envOverrides: ReadonlyArray<{ env: string; path: readonly string[]; type: 'string' | 'number' }> = [
  { env: 'WARDGATE_WARD', path: ['ward'], type: 'string' },
  { env: 'WARDGATE_GATEWAY_ID', path: ['gateway', 'id'], type: 'string' },
  { env: 'WARDGATE_DATA_DIR', path: ['gateway', 'dataDir'], type: 'string' },
  { env: 'WARDGATE_MQTT_HOST', path: ['mqtt', 'host'], type: 'string' },
  { env: 'WARDGATE_MQTT_PORT', path: ['mqtt', 'port'], type: 'number' },
  { env: 'WARDGATE_HTTP_HOST', path: ['http', 'host'], type: 'string' },
  { env: 'WARDGATE_HTTP_PORT', path: ['http', 'port'], type: 'number' },
  { env: 'WARDGATE_LOG_LEVEL', path: ['log', 'level'], type: 'string' },
  { env: 'WARDGATE_CLOUD_URL', path: ['cloud', 'url'], type: 'string' },
];
