// Turns outbox rows into a wire batch (shared/sync/wire.ts): plans the next
// id ranges (alarm events first, then readings, then device status, then
// audit entries, within the item bound) and builds the batch of a range, the same batch every time
// it is built from the same rows. Identifiers are pseudonymized here, before
// anything is encoded.
import { lookupCode } from '../../shared/codes.js';
import { buildBatch } from '../../shared/sync/codec.js';
import {
  limitSides,
  MAX_AUDIT_DETAIL_KEYS,
  type SyncAlarmEvent,
  type SyncAlarmLimit,
  type SyncAuditEntry,
  type SyncBatch,
  type SyncDeviceStatus,
  type SyncReading,
} from '../../shared/sync/wire.js';
import { sensorStates, type SensorState } from '../../shared/reading.js';
import { isWireBed, isWireTarget, isWireWord, NO_BED, WITHHELD } from '../../shared/sync/wardText.js';
import type { Db } from '../store/database.js';
import type { Ranges, OutboxStream } from '../store/outbox.js';
import { OutboxRows, type AlarmEventRow } from '../store/outboxRows.js';
import type { Pseudonyms } from './pseudonyms.js';

/**
 * A reading's outbox number: observation id x 1024 + its index in the message.
 * Observations hold at most 64 readings (shared/observation.ts), so numbers
 * never collide, only grow, and are stable: the same reading always has the same n.
 */
export const READING_N_STRIDE = 1024;

export { NO_BED };

/**
 * Most alarm events and most audit entries in one batch, whatever
 * cloud.batch.maxItems allows (up to 20,000). An audit entry may be a
 * kilobyte of JSON that compresses to almost nothing (the same detail again
 * and again), and every alarm event and audit entry is a Firestore document
 * of its own, written in the batch's one transaction: 20,000 of them
 * inflated past the cloud's 16 MiB bound (413, quarantined) and past what one
 * Firestore commit takes. A thousand of each keeps the largest batch the
 * edge can build well inside both (test/edge/sync/largestBatch.test.ts).
 */
export const MAX_BATCH_ALARMS = 1000;
export const MAX_BATCH_AUDIT = 1000;

export interface Identity {
  readonly gateway: string;
  readonly ward: string;
}

export interface BuiltBatch {
  readonly batch: SyncBatch;
  readonly ranges: Ranges;
  readonly items: number;
  readonly readings: number;
}

const ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const BED = /^[A-Za-z0-9][A-Za-z0-9 ._-]{0,31}$/;

/** A bed label in the wire's alphabet: the same label always maps to the same value. */
export function wireBed(bed: string | null): string {
  if (bed === null || bed === '') return NO_BED;
  if (BED.test(bed)) return bed;
  const cleaned = bed.replace(/[^A-Za-z0-9 ._-]/g, '_');
  return (/^[A-Za-z0-9]/.test(cleaned) ? cleaned : `b${cleaned}`).slice(0, 32);
}

const wireId = (value: string) => (ID.test(value) ? value : `x${value.replace(/[^A-Za-z0-9._-]/g, '_')}`.slice(0, 64));

/**
 * Actors the gateway itself writes: storage drops (`wardgate`), config pulls
 * (`cloud`), the local API token (`local-admin`) and an anonymous MQTT client.
 */
// 'adt': the hospital's ADT feed, which admits, moves and discharges (edge/patients/adtRecorder.ts).
const GATEWAY_ACTORS = ['wardgate', 'cloud', 'local-admin', 'anonymous', 'adt'];

export class BatchBuilder {
  readonly #rows: OutboxRows;
  readonly #pseudonyms: Pseudonyms;
  readonly #identity: Identity;
  readonly #actors: ReadonlySet<string>;

  /** `actors`: the configured user names and device ids; any other actor is text someone typed (a failed login's user name) and leaves as `withheld`. */
  constructor(db: Db, pseudonyms: Pseudonyms, identity: Identity, actors: Iterable<string> = []) {
    this.#rows = new OutboxRows(db);
    this.#pseudonyms = pseudonyms;
    this.#identity = identity;
    this.#actors = new Set([...GATEWAY_ACTORS, ...actors]);
  }

  /** Who did it, for the wire: a configured name or one of the gateway's own, else the withheld marker. */
  #actor(name: string): string {
    return this.#actors.has(name) ? wireId(name) : WITHHELD;
  }

  /** A bed label for the wire: as it is when it fits the vocabulary that cannot hold a name or an MRN, else its keyed stand-in. */
  #bed(label: string | null): string {
    const wire = wireBed(label);
    return isWireBed(wire) ? wire : this.#pseudonyms.forBedLabel(label!);
  }

  /**
   * The next ranges above `from`, at most `maxItems` items, alarm events first; null when nothing waits.
   * `full`: no more items would fit, because the bound is reached or the next device message is larger than what is left.
   */
  plan(
    from: Record<OutboxStream, number>,
    maxItems: number,
  ): { ranges: Ranges; items: number; readings: number; full: boolean } | null {
    let budget = maxItems;
    const alarmIds = this.#rows.idsAbove('alarms', from.alarms, Math.min(budget, MAX_BATCH_ALARMS));
    budget -= alarmIds.length;
    let obsThrough = from.obs;
    let readings = 0;
    let crowded = false;
    if (budget > 0) {
      for (const row of this.#rows.observationSizesAbove(from.obs, budget)) {
        // A message larger than the whole budget still goes, alone: otherwise the stream would stall behind it.
        if (row.n > budget && obsThrough !== from.obs) {
          crowded = true;
          break;
        }
        budget -= row.n;
        readings += row.n;
        obsThrough = row.id;
      }
    }
    const statusIds = budget > 0 ? this.#rows.idsAbove('status', from.status, budget) : [];
    budget -= statusIds.length;
    const auditIds = budget > 0 ? this.#rows.idsAbove('audit', from.audit, Math.min(budget, MAX_BATCH_AUDIT)) : [];
    budget -= auditIds.length;
    const items = maxItems - budget;
    if (items === 0) return null;
    return {
      items,
      readings,
      // A stream at its own bound is full too: more of it waits for the next batch, not for company.
      full: budget <= 0 || crowded || alarmIds.length === MAX_BATCH_ALARMS || auditIds.length === MAX_BATCH_AUDIT,
      ranges: {
        alarms: { after: from.alarms, through: alarmIds.at(-1) ?? from.alarms },
        obs: { after: from.obs, through: obsThrough },
        status: { after: from.status, through: statusIds.at(-1) ?? from.status },
        audit: { after: from.audit, through: auditIds.at(-1) ?? from.audit },
      },
    };
  }

  /** The wire batch of these ranges, from the rows still stored in them. */
  build(ranges: Ranges, now: number): BuiltBatch {
    this.#pseudonyms.refresh();
    const alarms = this.#alarms(ranges.alarms);
    const readings = this.#readings(ranges.obs);
    const statuses = this.#statuses(ranges.status);
    const audit = this.#audit(ranges.audit);
    // No audit field when there is none: such a batch is valid for a cloud that predates the stream.
    const batch = buildBatch({
      ...this.#identity,
      created: now,
      readings,
      alarms,
      statuses,
      ...(audit.length > 0 && { audit }),
    });
    return {
      batch,
      ranges,
      items: alarms.length + readings.length + statuses.length + audit.length,
      readings: readings.length,
    };
  }

  #readings(range: { after: number; through: number }): SyncReading[] {
    if (range.through <= range.after) return [];
    const rows = this.#rows.observations(range);
    const out: SyncReading[] = [];
    for (const row of rows) {
      const entries = JSON.parse(row.readings) as Array<[string, number, number, number?]>;
      const bed = this.#bed(row.bed);
      entries.forEach(([code, value, flags, ts], i) => {
        const at = ts ?? row.ts;
        const patient = this.#pseudonyms.forReading(row.patient, row.bed, at);
        const unit = lookupCode(code)?.unit;
        if (unit === undefined) throw new Error(`stored reading has a code outside the registry: ${code}`);
        out.push({
          n: row.id * READING_N_STRIDE + i,
          device: row.device,
          seq: row.seq,
          code,
          value,
          unit,
          ts: at,
          flags,
          bed,
          ...(patient !== undefined && { patient }),
        });
      });
    }
    return out;
  }

  #alarms(range: { after: number; through: number }): SyncAlarmEvent[] {
    if (range.through <= range.after) return [];
    const rows = this.#rows.alarmEvents(range);
    return rows.map((r) => {
      const patient = this.#alarmPatient(r);
      const code = r.metric !== null && lookupCode(r.metric)?.code === r.metric ? r.metric : undefined;
      return {
        n: r.id,
        alarmId: wireId(r.alarm_id),
        // As the alarm engine stored them: its phases, priorities and kinds are the wire's.
        phase: r.phase as SyncAlarmEvent['phase'],
        priority: r.priority as SyncAlarmEvent['priority'],
        kind: r.kind as SyncAlarmEvent['kind'],
        condition: wireId(r.rule),
        ts: r.ts,
        ...(r.bed !== null && { bed: this.#bed(r.bed) }),
        ...(r.device_id !== null && { device: r.device_id }),
        ...(patient !== undefined && { patient }),
        ...(code !== undefined && { code }),
        ...(r.value !== null && Number.isFinite(r.value) && { value: r.value }),
        ...wireLimit(r, code),
        ...(r.by !== null && { by: this.#actor(r.by) }),
      };
    });
  }

  /**
   * A physiological alarm is its recorded patient's, for every event (the end of one comes as or after they
   * left), or nobody's (the bed only); one recorded before that and not backfilled, the patient in its bed when
   * it was raised. A technical one is the device's, filed under whoever is in its bed at the event.
   */
  #alarmPatient(r: AlarmEventRow): string | undefined {
    if (r.kind === 'physiological' && r.unrecorded_raised_at === null)
      return r.patient === null ? undefined : this.#pseudonyms.ofPatient(r.patient);
    if (r.bed === null) return undefined;
    return this.#pseudonyms.forReading(null, r.bed, r.unrecorded_raised_at ?? r.ts);
  }

  #statuses(range: { after: number; through: number }): SyncDeviceStatus[] {
    if (range.through <= range.after) return [];
    const rows = this.#rows.deviceStatuses(range);
    return rows.map((r) => ({
      n: r.id,
      device: r.device,
      ts: r.ts,
      ...(r.bed !== null && { bed: this.#bed(r.bed) }),
      ...(r.online !== null && { online: r.online === 1 }),
      ...(r.battery !== null && { battery: r.battery }),
      ...(r.sensor !== null && sensorStates.includes(r.sensor as SensorState) && { sensor: r.sensor as SensorState }),
    }));
  }

  #audit(range: { after: number; through: number }): SyncAuditEntry[] {
    if (range.through <= range.after) return [];
    const rows = this.#rows.auditEntries(range);
    return rows.map((r) => {
      const target = r.target === null ? undefined : wireTarget(r.target, (label) => this.#bed(label));
      const detail = r.detail === null ? undefined : wireDetail(r.detail);
      return {
        n: r.id,
        ts: r.ts,
        actor: this.#actor(r.actor),
        action: wireId(r.action),
        ...(target !== undefined && { target }),
        ...(detail !== undefined && { detail }),
      };
    });
  }
}

/**
 * The limit a limit alarm's event crossed, as the store recorded it. Only a
 * physiological limit alarm's, only a whole one, and only beside the event's
 * wire `code`: the bound is in that metric's unit. The cloud refuses anything
 * else (shared/sync/validate.ts), and a refused batch is quarantined. A pulse
 * limit alarm (metric `pulse`, no registry code) so goes without its limit,
 * as it goes without a code.
 */
function wireLimit(r: AlarmEventRow, code: string | undefined): { limit: SyncAlarmLimit } | undefined {
  const side = limitSides.find((s) => s === r.limit_side);
  if (code === undefined || r.kind !== 'physiological' || r.rule !== 'limit') return undefined;
  if (side === undefined || r.limit_value === null || !Number.isFinite(r.limit_value)) return undefined;
  return { limit: { side, value: r.limit_value } };
}

/** An audit target for the wire: `bed:<label>` with the bed's wire label; anything else that could hold a name or an identifier is withheld. */
function wireTarget(value: string, bed: (label: string) => string): string {
  if (value.startsWith('bed:')) return `bed:${bed(value.slice(4))}`;
  return isWireTarget(value) ? value : WITHHELD;
}

/** The stored detail as the wire's flat object of short scalars; nested values travel as the withheld marker, not as content. */
function wireDetail(text: string): SyncAuditEntry['detail'] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { unparsed: true };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
  const out: Record<string, string | number | boolean | null> = {};
  for (const [key, value] of Object.entries(parsed as Record<string, unknown>).slice(0, MAX_AUDIT_DETAIL_KEYS)) {
    if (!/^[A-Za-z][A-Za-z0-9_]{0,31}$/.test(key)) continue;
    if (value === null || typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value)))
      out[key] = value;
    else if (typeof value === 'string')
      out[key] = isWireWord(value) ? value : WITHHELD; // free text stays in the ward's own trail
    else out[key] = WITHHELD; // an object or array: records stay on the ward, and '[object]' is no word the cloud accepts
  }
  return out;
}
