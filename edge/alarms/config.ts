// The alarm section of the config: ward defaults for an adult general ward,
// each overridable, and per-bed overrides. See docs/ALARMS.md for the basis of
// every default.
import { z } from 'zod';
import { priorities } from './types.js';

const ms = z.int().min(0);
const priority = z.enum(priorities);

/** A limit: alarm when a value is <= low or >= high (NEWS2 bands are inclusive). */
export const limitSchema = z.strictObject({
  low: z.number().nullable().optional(),
  high: z.number().nullable().optional(),
  priority: priority.optional(),
  /** Condition delay: how long the breach must persist before it is an alarm. */
  delayMs: ms.optional(),
  /** How far back inside the limit a value must come before the condition clears. */
  hysteresis: z.number().min(0).optional(),
});
export type LimitOverride = z.infer<typeof limitSchema>;

export const alarmConfigSchema = z
  .strictObject({
    /** Metric -> limit, replacing the ward defaults field by field. */
    limits: z.record(z.string(), limitSchema).default({}),
    /** Bed -> metric -> limit, over the ward's limits. */
    beds: z.record(z.string(), z.strictObject({ limits: z.record(z.string(), limitSchema).default({}) })).default({}),
    rateOfChange: z
      .array(
        z.strictObject({
          metric: z.string(),
          /** Alarm when the value rose (positive) or fell (negative) by at least this much within the window. */
          change: z.number().refine((v) => v !== 0, 'expected a non-zero change'),
          windowMs: z.int().min(1000),
          priority: priority.default('low'),
          delayMs: ms.default(60_000),
        }),
      )
      .default([{ metric: 'pulse', change: 30, windowMs: 600_000, priority: 'low', delayMs: 60_000 }]),
    news2: z
      .strictObject({
        mediumAt: z.int().min(1).max(20).default(5),
        highAt: z.int().min(1).max(20).default(7),
        delayMs: ms.default(60_000),
        /** How old a value may be and still count: continuous (rr, spo2, pulse), spot (sbp, temp), nurse-entered consciousness. */
        freshness: z
          .strictObject({
            continuousMs: ms.default(300_000),
            spotMs: ms.default(14_400_000),
            consciousnessMs: ms.default(43_200_000),
          })
          .prefault({}),
      })
      .prefault({}),
    technical: z
      .strictObject({
        /** A device heard from before and silent this long raises "device silent"; 0 turns it off. Per device: devices[].silentAfterMs. */
        silentAfterMs: ms.default(60_000),
        sensorDelayMs: ms.default(10_000),
        batteryLowPercent: z.number().min(0).max(100).default(20),
      })
      .prefault({}),
    /** Unacknowledged alarms escalate after this long (0: never), then again every repeatMs, at most maxEscalations times. */
    escalation: z
      .strictObject({
        high: ms.default(60_000),
        medium: ms.default(180_000),
        low: ms.default(0),
        repeatMs: ms.default(120_000),
        maxEscalations: z.int().min(0).max(20).default(3),
      })
      .prefault({}),
    webhook: z
      .strictObject({
        url: z.url({ protocol: /^https?$/ }),
        /** Environment variable holding the HMAC secret that signs each POST. */
        secretEnv: z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'expected an environment variable name'),
        minPriority: priority.default('medium'),
        timeoutMs: z.int().min(100).default(5000),
        maxAttempts: z.int().min(1).max(100).default(10),
      })
      .optional(),
  })
  .prefault({});

export type AlarmConfig = z.output<typeof alarmConfigSchema>;
