// The one config schema: source of the TypeScript type, the defaults and the
// error messages. Secrets are resolved afterwards (see load.ts).
import { z } from 'zod';

const DEVICE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const WARD_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$/;

const port = z.int().min(0).max(65535);
const host = z.string().min(1);

/** One of these names the credential; `wardgate passwd` makes the hash. */
const secretFields = {
  secretHash: z.string().min(1).optional(),
  secretHashEnv: z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'expected an environment variable name').optional(),
  secretHashFile: z.string().min(1).optional(),
};

export const roles = ['viewer', 'nurse', 'admin'] as const;
export type Role = (typeof roles)[number];

const device = z.strictObject({
  id: z.string().regex(DEVICE_ID, 'expected 1-64 letters, digits, dot, dash or underscore'),
  bed: z.string().min(1).max(32).optional(),
  ...secretFields,
});

const user = z.strictObject({
  name: z.string().regex(DEVICE_ID, 'expected 1-64 letters, digits, dot, dash or underscore'),
  role: z.enum(roles),
  ...secretFields,
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
  http: z.strictObject({ host: host.default('127.0.0.1'), port: port.default(8080) }).prefault({}),
  ingest: z
    .strictObject({
      /** How far ahead of the gateway clock a device timestamp may be. */
      maxFutureSkewMs: z.int().min(0).default(300_000),
      /** Lab use: store readings from devices not declared below instead of dead-lettering them. */
      acceptUnknownDevices: z.boolean().default(false),
    })
    .prefault({}),
  devices: z.array(device).default([]),
  users: z.array(user).default([]),
  log: z.strictObject({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info') }).prefault({}),
});

export type ConfigInput = z.input<typeof configSchema>;
export type ParsedConfig = z.output<typeof configSchema>;

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
];
