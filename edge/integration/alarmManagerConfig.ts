// The `alarmManager` section: the hospital's alarm manager (nurse call,
// phones, pagers) that the gateway reports alarms to as an IHE PCD Alarm
// Reporter (PCD-04 out, PCD-05 back). Absent: off; the signed webhook
// (alarms.webhook) stays for sites without one.
import { z } from 'zod';
import { priorities } from '../alarms/types.js';

export const reportedPhases = ['raised', 'updated', 'escalated', 'latched', 'acknowledged', 'cleared'] as const;

const port = z.int().min(1).max(65535);

export const alarmManagerConfigSchema = z
  .strictObject({
    /** Where the alarm manager listens for PCD-04 (MLLP). */
    host: z.string().min(1),
    port,
    /** Present: MLLP over TLS, the manager's certificate verified against `ca` (file paths). */
    tls: z
      .strictObject({
        ca: z.string().min(1).optional(),
        cert: z.string().min(1).optional(),
        key: z.string().min(1).optional(),
        servername: z.string().min(1).optional(),
      })
      .refine((tls) => (tls.cert === undefined) === (tls.key === undefined), {
        message: 'expected cert and key together (a client certificate needs its key)',
        path: ['key'],
      })
      .optional(),
    /** MSH-3 / MSH-4 of our reports; MSH-4 defaults to the ward. */
    sendingApplication: z.string().min(1).default('WARDGATE'),
    sendingFacility: z.string().min(1).optional(),
    /** MSH-5 / MSH-6: the manager's names, as the site configured them. */
    receivingApplication: z.string().default(''),
    receivingFacility: z.string().default(''),
    /** PV1-3.4 facility, and PV1-3.1 point of care (default: the ward id). */
    facility: z.string().default(''),
    pointOfCare: z.string().min(1).optional(),
    /** MSH-11: P production; T training and D debugging for a manager under test. */
    processingId: z.enum(['P', 'T', 'D']).default('P'),
    /** What to send: the lifecycle events, the lowest priority, physiological and/or technical alarms. */
    phases: z
      .array(z.enum(reportedPhases))
      .min(1)
      .default([...reportedPhases]),
    minPriority: z.enum(priorities).default('low'),
    kinds: z
      .array(z.enum(['physiological', 'technical']))
      .min(1)
      .default(['physiological', 'technical']),
    connectTimeoutMs: z.int().min(100).default(5000),
    /** No ACK within this time: the link backs off and sends the same message (same MSH-10) again. */
    ackTimeoutMs: z.int().min(100).default(10_000),
    retryMinMs: z.int().min(10).default(1000),
    retryMaxMs: z.int().min(10).default(60_000),
    /**
     * Events recorded while no report could be queued (the section was absent, the disk was full) and
     * older than this when the reporter gets to them are not reported: they would page people about
     * the past. Reports already queued are never dropped, however long the manager is down.
     */
    backlogMaxAgeMs: z.int().min(60_000).default(3_600_000),
    /** A technical alarm on the ward when no report got through for this long while some wait. */
    unreachableAlarmMs: z.int().min(0).default(30_000),
    /**
     * Where the gateway listens for the manager's PCD-05 status reports (ORA^R41): who received,
     * read, accepted the alarm. Absent: no status comes back; acknowledgements stay on the ward.
     */
    listen: z
      .strictObject({
        host: z.string().min(1).default('127.0.0.1'),
        port: z.int().min(0).max(65535),
        /** Source addresses allowed to connect; empty: any. */
        allowedAddresses: z.array(z.string().min(1)).default([]),
        /** The port speaks MLLP over TLS only (file paths); with `ca`, the manager must present a certificate it signed. */
        tls: z
          .strictObject({ cert: z.string().min(1), key: z.string().min(1), ca: z.string().min(1).optional() })
          .optional(),
      })
      .optional(),
  })
  .refine((c) => c.retryMaxMs >= c.retryMinMs, { message: 'expected at least retryMinMs', path: ['retryMaxMs'] });

export type AlarmManagerConfig = z.output<typeof alarmManagerConfigSchema>;
