// What the gateway would do with captured serial traffic, record by record,
// without a port or a store: the port's framer (lines, or a binary format's
// records), the driver, and the same validation the ingest pipeline applies.
// For integration engineers before go-live (`wardgate check serial`).
import { once } from 'node:events';
import type { SerialDriverName } from '../config/schema.js';
import { isPlainObject, parseObservation, validateObservation } from '../../shared/observation.js';
import { ReadingFlag, type Reading } from '../../shared/reading.js';
import { framerFor, type DecodeContext, type DecodedLine } from './driver.js';
import { serialDrivers } from './driverRegistry.js';
import type { FramingFault } from './lineFramer.js';

export type CheckOutcome =
  /** Values that would be stored (some perhaps flagged). */
  | 'store'
  /** A valid record without a value to store ("---", missing data). */
  | 'no-value'
  /** The device says it is not monitoring: no value stored, a technical alarm after its delay. */
  | 'not-monitoring'
  /** Text that carries no values (a power-up header): skipped. */
  | 'skip'
  /** Not a record of the format, or values the gateway refuses: dead-lettered. */
  | 'refuse';

export interface CheckedValue {
  readonly code: string;
  readonly value: number;
  readonly unit: string;
  /** artifact (outside the plausibility gate), unreliable (the device says so): stored, drive no alarm. */
  readonly flags: readonly string[];
}

export interface CheckedRecord {
  /** 1-based, in the order the records were read. */
  readonly n: number;
  readonly outcome: CheckOutcome;
  readonly values: readonly CheckedValue[];
  readonly sensor?: string;
  readonly exceptions?: readonly string[];
  readonly event?: boolean;
  readonly deviceTs?: number;
  /** Why a record is refused: the error code and the reason. */
  readonly code?: string;
  readonly reason?: string;
}

export interface CheckReport {
  readonly records: CheckedRecord[];
  /** Bytes and records lost in framing: junk, over-long lines, a record cut by the end of the capture. */
  readonly faults: Readonly<Record<FramingFault, number>>;
}

export interface CheckOptions {
  readonly deviceClock: DecodeContext['deviceClock'];
  readonly maxLineBytes: number;
  /** The time the records are taken to arrive at (device times ahead of it by more than maxFutureMs are refused). */
  readonly now: number;
  readonly maxFutureMs: number;
}

export async function checkSerial(
  capture: Buffer,
  driverName: SerialDriverName,
  options: CheckOptions,
): Promise<CheckReport> {
  const driver = serialDrivers[driverName];
  const faults: Record<FramingFault, number> = { junk: 0, overlong: 0, partial: 0 };
  const records: CheckedRecord[] = [];
  const framer = framerFor(
    driver,
    options.maxLineBytes,
    (fault, bytes) => (faults[fault] += fault === 'junk' ? bytes : 1),
  );
  framer.on('data', (record: Buffer) => {
    const decoded = driver.decode(record.toString(driver.asciiOnly ? 'latin1' : 'utf8'), {
      deviceClock: options.deviceClock,
    });
    records.push({ n: records.length + 1, ...judge(decoded, driverName, options) });
  });
  const ended = once(framer, 'end');
  framer.end(capture);
  await ended;
  return { records, faults };
}

function judge(decoded: DecodedLine, driverName: SerialDriverName, options: CheckOptions): Omit<CheckedRecord, 'n'> {
  const policy = { now: options.now, maxFutureMs: options.maxFutureMs };
  if (decoded.kind === 'header') return { outcome: 'skip', values: [] };
  if (decoded.kind === 'garbage')
    return {
      outcome: 'refuse',
      values: [],
      code: 'WG_ERR_SERIAL_LINE',
      reason: `not a ${driverName} line: ${decoded.reason}`,
    };
  if (decoded.kind === 'message') {
    // jsonl: a message without a seq gets one derived from its time, as on a port.
    let body: unknown;
    try {
      body = JSON.parse(decoded.payload.toString('utf8'));
    } catch {
      body = undefined;
    }
    const result =
      isPlainObject(body) && body.seq === undefined
        ? validateObservation({ ...body, seq: 0 }, policy)
        : parseObservation(decoded.payload, policy);
    if (!result.ok)
      return {
        outcome: 'refuse',
        values: [],
        code: result.error.code,
        reason: result.error.field ? `${result.error.field}: ${result.error.message}` : result.error.message,
      };
    return { outcome: result.readings.length ? 'store' : 'no-value', values: result.readings.map(valueOf) };
  }
  const { sensor, exceptions, event, deviceTs } = decoded;
  const about = {
    ...(sensor !== undefined && { sensor }),
    ...(exceptions?.length && { exceptions }),
    ...(event && { event }),
    ...(deviceTs !== undefined && { deviceTs }),
  };
  const result = validateObservation({ seq: 0, ts: deviceTs ?? options.now, obs: decoded.obs }, policy);
  if (!result.ok)
    return { outcome: 'refuse', values: [], code: result.error.code, reason: result.error.message, ...about };
  const outcome: CheckOutcome =
    sensor !== undefined && sensor !== 'ok' ? 'not-monitoring' : result.readings.length ? 'store' : 'no-value';
  return { outcome, values: result.readings.map(valueOf), ...about };
}

function valueOf(r: Reading): CheckedValue {
  const flags = [
    ...(r.flags & ReadingFlag.artifact ? ['artifact'] : []),
    ...(r.flags & ReadingFlag.unreliable ? ['unreliable'] : []),
  ];
  return { code: r.code, value: r.value, unit: r.unit, flags };
}

/** One line of the report, for a person. */
export function describe(record: CheckedRecord, unit: 'line' | 'record'): string {
  const head = `${unit} ${record.n}`;
  const values = record.values
    .map((v) => `${v.code} ${v.value} ${v.unit}${v.flags.length ? ` (${v.flags.join(', ')})` : ''}`)
    .join(', ');
  const notes = [
    record.exceptions?.length ? `device reports ${record.exceptions.join(', ')}` : '',
    record.event ? 'nurse event marked' : '',
    record.deviceTs !== undefined ? `device time ${new Date(record.deviceTs).toISOString()}` : '',
  ].filter(Boolean);
  const tail = notes.length ? ` [${notes.join('; ')}]` : '';
  switch (record.outcome) {
    case 'store':
      return `${head}: store ${values}${tail}`;
    case 'no-value':
      return `${head}: nothing to store, the device sends no value${tail}`;
    case 'not-monitoring':
      return `${head}: not monitoring (sensor ${record.sensor}): no value stored, technical alarm after its delay${tail}`;
    case 'skip':
      return `${head}: skipped, carries no values (a header)`;
    case 'refuse':
      return `${head}: refuse ${record.code}: ${record.reason}${tail}`;
  }
}
