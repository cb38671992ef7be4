// Vitals to the patient's chart: what the nurse reviews (the bed's latest
// stored value of each configured vital since the patient's admission), and
// what is sent once they confirm, correct or enter values (a PCD-01 ORU^R01
// with result status F and the nurse as responsible observer). Optionally,
// unvalidated values go out periodically as preliminary results.
//
// Safety rules, enforced here and not only on the screen:
//   - a value is charted for the patient admitted to the bed now, and only if
//     it was measured after that admission (never the previous patient's);
//   - a device value is named by its stored observation, so the server knows
//     what the device said: a different value is a correction, audited with
//     both numbers; a value with no observation is one the nurse entered;
//   - a reading already charted (final) is charted again only with another
//     value, and then as a correction of the charted result (OBX-11 C, the
//     same measurement time), audited with the charted and the new value;
//     sending it again unchanged is refused (it is in the chart already);
//     a value the nurse entered is corrected the same way, named by the
//     message that charted it (the last one entered for that vital);
//   - an artifact (outside the plausibility gates) is never charted as
//     measured; a value the nurse gives must itself be plausible;
//   - the message and the audit entry are written in one transaction.
// Messages are queued per patient on the EHR link (outboundLink.ts), so a
// patient's charted vitals reach the EHR in the order they were validated.
import { randomBytes } from 'node:crypto';
import { metric } from '../../shared/codes.js';
import { WardgateError } from '../../shared/errors.js';
import { isPlausible } from '../../shared/plausibility.js';
import { ReadingFlag } from '../../shared/reading.js';
import type { Admission, Admissions } from '../patients/admissions.js';
import type { AuditLog } from '../store/auditLog.js';
import {
  chartedValues,
  latestReadings,
  patientIdentity,
  readingOf,
  type ChartedValue,
  type StoredReading,
} from '../store/chartQuery.js';
import { writeTransaction, type Db } from '../store/database.js';
import type { EhrConfig } from './ehrConfig.js';
import { buildVitalsReport, type ChartValue, type Observer, type ResultStatus } from './oruBuilder.js';

/** What the charting needs of the EHR link. */
export interface ChartLink {
  enqueue(message: { orderKey: string; controlId: string; message: string }): number;
}

export interface ChartingDeps {
  readonly config: EhrConfig;
  readonly ward: string;
  readonly db: Db;
  readonly admissions: Admissions;
  readonly audit: AuditLog;
  readonly link: ChartLink;
  readonly now?: () => number;
}

export interface ReviewRow {
  readonly metric: string;
  readonly label: string;
  readonly unit: string;
  /** The stored value (canonical unit) and where it comes from; null when none since admission within maxAgeMs. */
  readonly value: number | null;
  readonly measuredAt: string | null;
  readonly deviceId: string | null;
  readonly observation: number | null;
  /** Outside the plausibility gate: it cannot be confirmed as it is. */
  readonly artifact: boolean;
  /** The device flagged it unreliable or preliminary. */
  readonly unreliable: boolean;
  /**
   * This reading is in the chart already: the value charted last for it, by whom, when, in which message.
   * With no device reading (`observation` null), the value a nurse entered last for this vital, if any:
   * a new value for it names that message (`amends`).
   */
  readonly charted: {
    readonly value: number;
    readonly by: string;
    readonly at: string;
    readonly controlId: string;
  } | null;
}

export interface Review {
  readonly bed: string;
  readonly patient: { readonly label: string; readonly admittedAt: string };
  readonly vitals: readonly ReviewRow[];
}

/**
 * One value the nurse sends: a device value confirmed or corrected (its observation named), one entered,
 * or a correction of the value entered last for the vital (`amends`: the control id that charted it).
 */
export interface SubmittedValue {
  readonly metric: string;
  readonly value: number;
  readonly observation?: number;
  readonly amends?: string;
}

export interface ChartReceipt {
  readonly controlId: string;
  readonly confirmed: readonly string[];
  readonly corrected: ReadonlyArray<{ metric: string; from: number; to: number }>;
  readonly entered: readonly string[];
  /** Readings charted before, now charted with another value (OBX-11 C). */
  readonly amended: ReadonlyArray<{ metric: string; from: number; to: number; controlId: string }>;
}

const DEVICE_CAUTION = ReadingFlag.unreliable | ReadingFlag.preliminary;
/** How far before a reading's measurement time its charting is looked for (device clock ahead, clock steps). */
const CHARTED_MARGIN_MS = 15 * 60_000;

export class VitalsCharting {
  readonly #deps: ChartingDeps;
  readonly #now: () => number;
  /** Per bed, the newest measurement time already sent unvalidated (so a quiet bed is not sent again). */
  readonly #unvalidatedUpTo = new Map<string, number>();

  constructor(deps: ChartingDeps) {
    this.#deps = deps;
    this.#now = deps.now ?? Date.now;
  }

  /** The bed's current values for the nurse to review. */
  review(bed: string): Review {
    const admission = this.#admitted(bed);
    const found = this.#latest(bed, admission, this.#deps.config.vitals);
    const charted = this.#charted(bed, this.#offeredSince(admission));
    return {
      bed,
      patient: {
        label: admission.displayName ?? `Adm-${String(admission.admission).padStart(4, '0')}`,
        admittedAt: new Date(admission.admittedAt).toISOString(),
      },
      vitals: this.#deps.config.vitals.map((code) => {
        const m = metric(code);
        const r = found.get(code);
        const chartedNow = r ? charted.readings.get(chartKey(code, r.observation)) : charted.entered.get(code);
        return {
          metric: code,
          label: m.label,
          unit: m.unit,
          value: r?.value ?? null,
          measuredAt: r ? new Date(r.ts).toISOString() : null,
          deviceId: r?.deviceId ?? null,
          observation: r?.observation ?? null,
          artifact: r ? (r.flags & ReadingFlag.artifact) !== 0 : false,
          unreliable: r ? (r.flags & DEVICE_CAUTION) !== 0 : false,
          charted: chartedView(chartedNow),
        };
      }),
    };
  }

  /** Validates what the nurse sends, queues the ORU^R01 (status F) and audits it, in one transaction. */
  send(bed: string, values: readonly SubmittedValue[], nurse: string): ChartReceipt {
    const admission = this.#admitted(bed);
    const now = this.#now();
    if (values.length === 0) throw new WardgateError('WG_ERR_SCHEMA', 'expected at least one value to chart', 'values');
    const seen = new Set<string>();
    const chart: ChartValue[] = [];
    const observations = new Map<string, number>();
    const receipt = {
      confirmed: [] as string[],
      corrected: [] as Array<{ metric: string; from: number; to: number }>,
      entered: [] as string[],
      amended: [] as Array<{ metric: string; from: number; to: number; controlId: string }>,
    };
    const charted = this.#charted(bed, this.#offeredSince(admission));
    values.forEach((v, i) => {
      const field = `values[${i}]`;
      if (!this.#deps.config.vitals.includes(v.metric))
        throw new WardgateError(
          'WG_ERR_SCHEMA',
          `not a vital this ward charts (${this.#deps.config.vitals.join(', ')})`,
          `${field}.metric`,
        );
      if (seen.has(v.metric)) throw new WardgateError('WG_ERR_SCHEMA', `${v.metric} is given twice`, `${field}.metric`);
      seen.add(v.metric);
      if (!Number.isFinite(v.value) || !isPlausible(v.metric, v.value)) {
        throw new WardgateError(
          'WG_ERR_SCHEMA',
          `${v.value} ${metric(v.metric).unit} is not a plausible ${metric(v.metric).label}`,
          `${field}.value`,
        );
      }
      if (v.observation === undefined && v.amends !== undefined) {
        const entry = charted.entered.get(v.metric);
        if (!entry || entry.controlId !== v.amends)
          throw new WardgateError(
            'WG_ERR_CONFLICT',
            `message ${v.amends} is not the last ${metric(v.metric).label} entered for this patient within ehr.maxAgeMs`,
            `${field}.amends`,
          );
        if (round2(entry.value) === round2(v.value))
          throw new WardgateError(
            'WG_ERR_CONFLICT',
            `this ${metric(v.metric).label} is charted already as ${entry.value} (message ${entry.controlId}); change the value to correct it`,
            `${field}.value`,
          );
        chart.push({ code: v.metric, value: v.value, ts: entry.ts, deviceId: null, method: 'nurse', correction: true });
        receipt.amended.push({ metric: v.metric, from: entry.value, to: v.value, controlId: entry.controlId });
        return;
      }
      if (v.observation === undefined) {
        chart.push({ code: v.metric, value: v.value, ts: now, deviceId: null, method: 'nurse' });
        receipt.entered.push(v.metric);
        return;
      }
      const stored = this.#storedValue(bed, admission, v.observation, v.metric, now, field);
      const corrected = round2(stored.value) !== round2(v.value);
      const before = charted.readings.get(chartKey(v.metric, v.observation));
      if (before && round2(before.value) === round2(v.value)) {
        throw new WardgateError(
          'WG_ERR_CONFLICT',
          `this ${metric(v.metric).label} is charted already as ${before.value} (message ${before.controlId}); change the value to correct it`,
          `${field}.value`,
        );
      }
      if (!corrected && stored.flags & ReadingFlag.artifact) {
        throw new WardgateError(
          'WG_ERR_SCHEMA',
          `the device's ${metric(v.metric).label} is an artifact; enter the measured value instead`,
          `${field}.value`,
        );
      }
      chart.push({
        code: v.metric,
        value: v.value,
        ts: stored.ts,
        deviceId: stored.deviceId,
        method: corrected ? 'nurse' : 'device',
        ...(before && { correction: true }),
      });
      observations.set(v.metric, v.observation);
      if (before)
        receipt.amended.push({ metric: v.metric, from: before.value, to: v.value, controlId: before.controlId });
      else if (corrected) receipt.corrected.push({ metric: v.metric, from: stored.value, to: v.value });
      else receipt.confirmed.push(v.metric);
    });
    const observer = this.#observer(nurse);
    const controlId = newControlId('V');
    const message = this.#report(admission, controlId, 'F', chart, now, observer);
    writeTransaction(this.#deps.db, () => {
      this.#deps.link.enqueue({ orderKey: patientKey(admission), controlId, message });
      this.#deps.audit.record({
        ts: now,
        actor: nurse,
        action: 'chart-vitals',
        target: `bed:${bed}`,
        detail: {
          controlId,
          status: receipt.amended.length > 0 ? 'C' : 'F',
          ...receipt,
          // What went to the chart, row by row: what a later send is held against (a correction, or the same again).
          values: chart.map((c) => ({
            metric: c.code,
            value: c.value,
            ts: c.ts,
            observation: observations.get(c.code) ?? null,
          })),
        },
      });
    })();
    return { controlId, ...receipt };
  }

  /**
   * Queues each admitted bed's values measured since the last run as a
   * preliminary report (ehr.unvalidated); returns how many were queued.
   */
  sendUnvalidated(): number {
    const options = this.#deps.config.unvalidated;
    if (!options) return 0;
    const now = this.#now();
    let queued = 0;
    for (const admission of this.#deps.admissions.current()) {
      const after = Math.max(this.#unvalidatedUpTo.get(admission.bed) ?? 0, now - options.intervalMs);
      // A reading a nurse charted final never goes again as preliminary: the EHR would take it as a downgrade.
      const charted = this.#charted(admission.bed, after).readings;
      const found = [...this.#latest(admission.bed, admission, this.#deps.config.vitals).values()].filter(
        (r) => r.ts > after && (r.flags & ReadingFlag.artifact) === 0 && !charted.has(chartKey(r.code, r.observation)),
      );
      if (found.length === 0) continue;
      const chart = this.#deps.config.vitals
        .flatMap((code) => found.filter((r) => r.code === code))
        .map((r): ChartValue => ({ code: r.code, value: r.value, ts: r.ts, deviceId: r.deviceId, method: 'device' }));
      const controlId = newControlId('P');
      this.#deps.link.enqueue({
        orderKey: patientKey(admission),
        controlId,
        message: this.#report(admission, controlId, options.status, chart, now),
      });
      this.#unvalidatedUpTo.set(admission.bed, Math.max(...chart.map((c) => c.ts)));
      queued++;
    }
    return queued;
  }

  #admitted(bed: string): Admission {
    const admission = this.#deps.admissions.get(bed);
    if (!admission)
      throw new WardgateError(
        'WG_ERR_CONFLICT',
        `no patient is admitted to bed ${bed}: vitals are charted for an admitted patient only`,
        'bed',
      );
    return admission;
  }

  /** The earliest measurement time a reading offered for review (or accepted) may have. */
  #offeredSince(admission: Admission): number {
    return Math.max(admission.admittedAt, this.#now() - this.#deps.config.maxAgeMs);
  }

  /**
   * What nurses charted at the bed of the readings measured since `measuredSince`, the last value per
   * reading. A reading is charted after it is measured, so the audit is read back to that time only,
   * less a margin for a device clock ahead of the gateway's (ingest.maxFutureSkewMs) or a clock step.
   */
  #charted(
    bed: string,
    measuredSince: number,
  ): { readings: Map<string, ChartedValue>; entered: Map<string, ChartedValue> } {
    const readings = new Map<string, ChartedValue>();
    const entered = new Map<string, ChartedValue>();
    for (const c of chartedValues(this.#deps.db, { bed, since: measuredSince - CHARTED_MARGIN_MS })) {
      if (c.observation !== null) readings.set(chartKey(c.metric, c.observation), c);
      else if (c.ts >= measuredSince) entered.set(c.metric, c);
    }
    return { readings, entered };
  }

  #latest(bed: string, admission: Admission, codes: readonly string[]): Map<string, StoredReading> {
    const since = Math.max(admission.admittedAt, this.#now() - this.#deps.config.maxAgeMs);
    // Heart rate and pulse rate share a LOINC code but are kept apart, as the device sent them.
    return latestReadings(this.#deps.db, { bed, since, codes });
  }

  #storedValue(
    bed: string,
    admission: Admission,
    observation: number,
    code: string,
    now: number,
    field: string,
  ): StoredReading {
    const stored = Number.isSafeInteger(observation) ? readingOf(this.#deps.db, observation, code) : undefined;
    if (!stored || stored.bed !== bed)
      throw new WardgateError(
        'WG_ERR_NOT_FOUND',
        `no ${code} reading ${observation} at bed ${bed}`,
        `${field}.observation`,
      );
    if (stored.ts < admission.admittedAt)
      throw new WardgateError(
        'WG_ERR_CONFLICT',
        'the reading was measured before this patient was admitted',
        `${field}.observation`,
      );
    if (stored.ts < now - this.#deps.config.maxAgeMs)
      throw new WardgateError(
        'WG_ERR_CONFLICT',
        'the reading is older than ehr.maxAgeMs; measure again or enter the value',
        `${field}.observation`,
      );
    return stored;
  }

  #observer(nurse: string): Observer {
    const known = Object.hasOwn(this.#deps.config.observers, nurse) ? this.#deps.config.observers[nurse] : undefined;
    return known
      ? {
          id: known.id,
          ...(known.family !== undefined && { family: known.family }),
          ...(known.given !== undefined && { given: known.given }),
        }
      : { id: nurse };
  }

  #report(
    admission: Admission,
    controlId: string,
    status: ResultStatus,
    values: readonly ChartValue[],
    now: number,
    observer?: Observer,
  ): string {
    const { config, ward, db } = this.#deps;
    const identity = patientIdentity(db, admission.patient);
    if (!identity) throw new Error(`admission ${admission.admission} names no stored patient`);
    return buildVitalsReport({
      controlId,
      now,
      status,
      values,
      ...(observer && { observer }),
      header: {
        sendingApplication: config.sendingApplication,
        sendingFacility: config.sendingFacility ?? ward,
        receivingApplication: config.receivingApplication,
        receivingFacility: config.receivingFacility,
        processingId: config.processingId,
      },
      patient: {
        identifier: identity.identifier,
        authority: identity.authority,
        idType: identity.idType || config.identifierType,
        displayName: admission.displayName,
      },
      location: { pointOfCare: config.pointOfCare ?? ward, bed: admission.bed, facility: config.facility },
    });
  }
}

/** The ordering key: one queue order per patient (not per bed: a transfer keeps the patient's order). */
function patientKey(admission: Admission): string {
  return `patient:${admission.patient}`;
}

/**
 * A message control id (MSH-10), fixed at enqueue: a prefix, the time in
 * base 36 and 48 random bits; 20 characters, the MSH-10 length older
 * receivers allow. The queue's UNIQUE constraint catches the impossible.
 */
export function newControlId(prefix: string): string {
  return `${prefix}${Date.now().toString(36).toUpperCase()}${randomBytes(6).readUIntBE(0, 6).toString(36).toUpperCase().padStart(10, '0')}`.slice(
    0,
    20,
  );
}

function chartKey(metric: string, observation: number): string {
  return `${metric}@${observation}`;
}

function chartedView(c: ChartedValue | undefined): ReviewRow['charted'] {
  return c ? { value: c.value, by: c.by, at: new Date(c.at).toISOString(), controlId: c.controlId } : null;
}

function round2(v: number): number {
  return Math.round(v * 100) / 100;
}
