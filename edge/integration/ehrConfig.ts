// The `ehr` section: vitals to the patient's chart in the hospital's EHR, as
// IHE PCD-01 ORU^R01 over MLLP to its interface engine (docs/INTEGRATION.md,
// "Vitals to the EHR"). Absent: off.
import { z } from 'zod';
import { metricCodes } from '../../shared/codes.js';

const chartable = metricCodes.filter((m) => m.mdc !== 0).map((m) => m.code) as [string, ...string[]];
const USER = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export const ehrConfigSchema = z
  .strictObject({
    /** The interface engine's MLLP listener. */
    host: z.string().min(1),
    port: z.int().min(1).max(65535),
    /** Present: MLLP over TLS, the engine's certificate verified against `ca` (file paths). */
    tls: z
      .strictObject({
        ca: z.string().min(1).optional(),
        cert: z.string().min(1).optional(),
        key: z.string().min(1).optional(),
        servername: z.string().min(1).optional(),
      })
      .optional(),
    /** MSH-3 / MSH-4 of our messages; MSH-4 defaults to the ward. */
    sendingApplication: z.string().min(1).default('WARDGATE'),
    sendingFacility: z.string().min(1).optional(),
    /** MSH-5 / MSH-6: the EHR's interface names, as the site configured them. */
    receivingApplication: z.string().default(''),
    receivingFacility: z.string().default(''),
    /** PV1-3.1 point of care (default: the ward id) and PV1-3.4 facility. */
    pointOfCare: z.string().min(1).optional(),
    facility: z.string().default(''),
    /** MSH-11: P production; T training or D debugging for an EHR test system. */
    processingId: z.enum(['P', 'T', 'D']).default('P'),
    /** PID-3.5 identifier type code when the admission has none (HL7 table 0203). */
    identifierType: z.string().min(1).default('MR'),
    /** What to send: the metrics a nurse reviews and charts, in this order. */
    vitals: z
      .array(z.enum(chartable))
      .min(1)
      .default(['hr', 'pr', 'spo2', 'rr', 'nibp_sys', 'nibp_dia', 'nibp_map', 'temp']),
    /** Values older than this are not offered for review (and refused when sent). */
    maxAgeMs: z
      .int()
      .min(60_000)
      .default(4 * 3_600_000),
    /**
     * How each user is named as responsible observer (OBX-16, XCN): the staff id the EHR knows, and a
     * name. A user not listed is sent by their wardgate user name.
     */
    observers: z
      .record(
        z.string().regex(USER, 'expected a user name from users'),
        z.strictObject({ id: z.string().min(1), family: z.string().optional(), given: z.string().optional() }),
      )
      .default({}),
    /**
     * Unvalidated vitals sent periodically as preliminary results (OBX-11 / OBR-25), for wards whose EHR
     * wants them; absent: only what a nurse validates is sent.
     */
    unvalidated: z
      .strictObject({
        intervalMs: z.int().min(60_000),
        /** HL7 table 0085: P preliminary, R results entered, not verified. */
        status: z.enum(['P', 'R']).default('P'),
      })
      .optional(),
    connectTimeoutMs: z.int().min(100).default(5000),
    /** No ACK within this time: the link backs off and sends the same message (same MSH-10) again. */
    ackTimeoutMs: z.int().min(100).default(30_000),
    retryMinMs: z.int().min(10).default(1000),
    retryMaxMs: z.int().min(10).default(300_000),
    /** A technical alarm on the ward when no message got through for this long while some wait (0: never). */
    unreachableAlarmMs: z.int().min(0).default(900_000),
  })
  .superRefine((ehr, ctx) => {
    if (ehr.retryMaxMs < ehr.retryMinMs)
      ctx.addIssue({
        code: 'custom',
        path: ['retryMaxMs'],
        message: 'expected at least retryMinMs',
        input: ehr.retryMaxMs,
      });
    // A client certificate is its certificate and its key: one without the other cannot be presented.
    if (ehr.tls && (ehr.tls.cert === undefined) !== (ehr.tls.key === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: ['tls', ehr.tls.cert === undefined ? 'cert' : 'key'],
        message: 'cert and key go together',
        input: ehr.tls,
      });
    }
  });

export type EhrConfig = z.output<typeof ehrConfigSchema>;
