// `hl7.adt`: the hospital's ADT feed in (HL7 v2 ADT over MLLP). Off when
// absent. A port of its own, as hospital interface teams expect one inbound
// interface per message stream; closed to every sender not listed; the ward's
// locations (PV1-3) say which of the hospital's beds are this ward's.
import { z } from 'zod';

/** A bed id that can travel in an MQTT topic level (the same rule as edge/config/schema.ts HL7_BED_ID). */
const BED_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$/;

const adtSender = z.strictObject({
  /** MSH-3 sending application (namespace id). */
  application: z.string().min(1),
  /** MSH-4 sending facility (namespace id); absent: any. */
  facility: z.string().min(1).optional(),
  /** Source addresses it connects from; absent: any. */
  addresses: z.array(z.string().min(1)).min(1).optional(),
});

/** One PV1-3 location of this ward (point of care ^ room ^ bed) and its bed id here; absent room or bed: any. */
const adtLocation = z.strictObject({
  pointOfCare: z.string().min(1),
  room: z.string().min(1).optional(),
  bed: z.string().min(1).optional(),
  wardBed: z.string().regex(BED_ID, 'expected 1-32 letters, digits, dot, dash or underscore').optional(),
});

export const adtConfigSchema = z.strictObject({
  host: z.string().min(1).default('127.0.0.1'),
  port: z.int().min(0).max(65535).default(2576),
  /** The port speaks MLLP over TLS only; with `ca`, the sender must present a certificate it signed. */
  tls: z.strictObject({ cert: z.string().min(1), key: z.string().min(1), ca: z.string().min(1).optional() }).optional(),
  /** Who may send ADT; empty: nobody (the port answers every message AR). */
  senders: z.array(adtSender).default([]),
  /** Our names in the ACK (MSH-3 / MSH-4); absent: gateway.id and ward. */
  application: z.string().min(1).optional(),
  facility: z.string().min(1).optional(),
  /** This ward's PV1-3 locations, first match wins; empty: hl7.locations. One of the two must list some. */
  locations: z.array(adtLocation).default([]),
  /** Which PID-3 repetition is the patient: its identifier type code (CX-5) and, when set, assigning authority (CX-4). */
  identifier: z
    .strictObject({ typeCode: z.string().min(1).default('MR'), authority: z.string().min(1).optional() })
    .prefault({}),
  maxMessageBytes: z.int().min(1024).max(16_777_216).default(1_048_576),
  maxConnections: z.int().min(1).max(64).default(4),
  /**
   * A new connection that completes no message in this time is closed (0: never). An interface engine
   * connects and may wait hours for the first event of a quiet night, so by default it is never closed;
   * a silent connection gives way instead when all maxConnections are taken.
   */
  firstMessageTimeoutMs: z.int().min(0).default(0),
  /** An ADT link is held open for days between messages: by default never closed for being idle (0). */
  idleTimeoutMs: z.int().min(0).default(0),
  /** Applied messages are remembered this long for duplicates (a resend after a lost ACK comes within minutes). */
  rememberDays: z.int().min(1).max(365).default(30),
});

export type AdtConfig = z.output<typeof adtConfigSchema>;
export type AdtLocationConfig = AdtConfig['locations'][number];
