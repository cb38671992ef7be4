// Validator for a decoded sync batch: every field typed and in range, codes
// and units from the registry, pseudonyms only, each stream strictly ordered by
// outbox number, and the batch id equal to the one derived from the items.
import { lookupCode } from '../codes.js';
import { reject, type Rejection } from '../errors.js';
import { isPlainObject } from '../observation.js';
import { sensorStates } from '../reading.js';
import { isValidDeviceId } from '../topics.js';
import { batchIdOf } from './batchId.js';
import { isPseudonym } from './pseudonym.js';
import { isWireBed, isWireTarget, isWireWord } from './wardText.js';
import {
  alarmKinds,
  alarmPhases,
  alarmPriorities,
  limitSides,
  MAX_AUDIT_DETAIL_KEYS,
  MAX_BATCH_ITEMS,
  SYNC_VERSION,
  type SyncAlarmEvent,
  type SyncAlarmLimit,
  type SyncAuditEntry,
  type SyncBatch,
  type SyncDeviceStatus,
  type SyncReading,
} from './wire.js';

/** 2000-01-01T00:00:00Z: nothing a ward device measures is older. */
const EARLIEST = 946_684_800_000;
const ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const TOP_KEYS = ['v', 'gateway', 'ward', 'batchId', 'created', 'readings', 'alarms', 'statuses', 'audit'];
const READING_KEYS = ['n', 'device', 'seq', 'code', 'value', 'unit', 'ts', 'flags', 'bed', 'patient'];
const ALARM_KEYS = [
  'n',
  'alarmId',
  'phase',
  'priority',
  'kind',
  'condition',
  'ts',
  'bed',
  'device',
  'patient',
  'code',
  'value',
  'limit',
  'by',
];
const LIMIT_KEYS = ['side', 'value'];
const STATUS_KEYS = ['n', 'device', 'ts', 'bed', 'online', 'battery', 'sensor'];
const AUDIT_KEYS = ['n', 'ts', 'actor', 'action', 'target', 'detail'];

export interface BatchPolicy {
  /** The cloud's clock, epoch ms. */
  readonly now: number;
  /** How far ahead of the cloud clock an item's time may lie. */
  readonly maxFutureMs: number;
}

class Invalid extends Error {
  constructor(readonly rejection: Rejection) {
    super(rejection.message);
  }
}
const fail = (field: string, message: string): never => {
  throw new Invalid(reject('WG_ERR_SCHEMA', message, field));
};

/** Validates parsed JSON as a SyncBatch, or says which field is wrong and why. */
export function validateBatch(body: unknown, policy: BatchPolicy): SyncBatch | Rejection {
  try {
    return checkBatch(body, policy);
  } catch (err) {
    if (err instanceof Invalid) return err.rejection;
    throw err;
  }
}

function checkBatch(body: unknown, policy: BatchPolicy): SyncBatch {
  const top = object(body, '', TOP_KEYS);
  if (top.v !== SYNC_VERSION) fail('v', `expected ${SYNC_VERSION}`);
  const gateway = id(top.gateway, 'gateway');
  const ward = id(top.ward, 'ward');
  const created = time(top.created, 'created', policy);
  const readings = list(top.readings, 'readings').map((r, i) => reading(r, `readings[${i}]`, policy));
  const alarms = list(top.alarms, 'alarms').map((a, i) => alarm(a, `alarms[${i}]`, policy));
  const statuses = list(top.statuses, 'statuses').map((s, i) => status(s, `statuses[${i}]`, policy));
  const audit =
    top.audit === undefined ? undefined : list(top.audit, 'audit').map((e, i) => auditEntry(e, `audit[${i}]`, policy));
  const total = readings.length + alarms.length + statuses.length + (audit?.length ?? 0);
  if (total === 0) fail('readings', 'a batch needs at least one item');
  if (total > MAX_BATCH_ITEMS) fail('readings', `at most ${MAX_BATCH_ITEMS} items per batch, got ${total}`);
  ordered(readings, 'readings');
  ordered(alarms, 'alarms');
  ordered(statuses, 'statuses');
  if (audit) ordered(audit, 'audit');
  if (typeof top.batchId !== 'string') fail('batchId', 'expected the batch id string');
  const expected = batchIdOf(gateway, { readings, alarms, statuses, ...(audit && { audit }) });
  if (top.batchId !== expected) fail('batchId', `does not match the items (expected ${expected})`);
  return {
    v: SYNC_VERSION,
    gateway,
    ward,
    batchId: expected,
    created,
    readings,
    alarms,
    statuses,
    ...(audit && { audit }),
  };
}

function reading(raw: unknown, at: string, policy: BatchPolicy): SyncReading {
  const r = object(raw, at, READING_KEYS);
  const code = string(r.code, `${at}.code`);
  const metric = lookupCode(code);
  if (!metric || metric.code !== code)
    fail(`${at}.code`, `'${code}' is not a short metric name from the code registry`);
  if (r.unit !== metric!.unit) fail(`${at}.unit`, `expected the canonical unit of ${code}, ${metric!.unit}`);
  return {
    n: counter(r.n, `${at}.n`),
    device: deviceId(r.device, `${at}.device`),
    seq: whole(r.seq, `${at}.seq`),
    code,
    value: finite(r.value, `${at}.value`),
    unit: metric!.unit,
    ts: time(r.ts, `${at}.ts`, policy),
    flags: whole(r.flags, `${at}.flags`),
    bed: bed(r.bed, `${at}.bed`),
    ...(r.patient !== undefined && { patient: patient(r.patient, `${at}.patient`) }),
  };
}

function alarm(raw: unknown, at: string, policy: BatchPolicy): SyncAlarmEvent {
  const a = object(raw, at, ALARM_KEYS);
  const event: SyncAlarmEvent = {
    n: counter(a.n, `${at}.n`),
    alarmId: id(a.alarmId, `${at}.alarmId`),
    phase: oneOf(a.phase, alarmPhases, `${at}.phase`),
    priority: oneOf(a.priority, alarmPriorities, `${at}.priority`),
    kind: oneOf(a.kind, alarmKinds, `${at}.kind`),
    condition: id(a.condition, `${at}.condition`),
    ts: time(a.ts, `${at}.ts`, policy),
    ...(a.bed !== undefined && { bed: bed(a.bed, `${at}.bed`) }),
    ...(a.device !== undefined && { device: deviceId(a.device, `${at}.device`) }),
    ...(a.patient !== undefined && { patient: patient(a.patient, `${at}.patient`) }),
    ...(a.code !== undefined && { code: knownCode(a.code, `${at}.code`) }),
    ...(a.value !== undefined && { value: finite(a.value, `${at}.value`) }),
    ...(a.limit !== undefined && { limit: alarmLimit(a.limit, `${at}.limit`) }),
    ...(a.by !== undefined && { by: id(a.by, `${at}.by`) }),
  };
  // The edge records a limit only with a physiological limit alarm (edge/alarms/rules.ts), and its bound is in
  // the unit of the alarm's metric: without a `code` the cloud could not say what it bounds.
  if (event.limit && event.kind !== 'physiological')
    fail(`${at}.limit`, 'only a physiological alarm crosses a limit; a technical alarm has none');
  if (event.limit && event.condition !== 'limit')
    fail(`${at}.limit`, `only a limit alarm (condition limit) has a limit; a ${event.condition} alarm has none`);
  if (event.limit && event.code === undefined)
    fail(`${at}.limit`, "a limit needs the alarm's code: its bound is in the canonical unit of that metric");
  return event;
}

/** `{ side, value }`, both required: null or a partial limit is refused, not read as no limit. */
function alarmLimit(raw: unknown, at: string): SyncAlarmLimit {
  const l = object(raw, at, LIMIT_KEYS);
  return { side: oneOf(l.side, limitSides, `${at}.side`), value: finite(l.value, `${at}.value`) };
}

function status(raw: unknown, at: string, policy: BatchPolicy): SyncDeviceStatus {
  const s = object(raw, at, STATUS_KEYS);
  if (s.online !== undefined && typeof s.online !== 'boolean') fail(`${at}.online`, 'expected true or false');
  if (s.battery !== undefined && !(typeof s.battery === 'number' && s.battery >= 0 && s.battery <= 100)) {
    fail(`${at}.battery`, 'expected a percentage from 0 to 100');
  }
  return {
    n: counter(s.n, `${at}.n`),
    device: deviceId(s.device, `${at}.device`),
    ts: time(s.ts, `${at}.ts`, policy),
    ...(s.bed !== undefined && { bed: bed(s.bed, `${at}.bed`) }),
    ...(s.online !== undefined && { online: s.online as boolean }),
    ...(s.battery !== undefined && { battery: s.battery as number }),
    ...(s.sensor !== undefined && { sensor: oneOf(s.sensor, sensorStates, `${at}.sensor`) }),
  };
}

function auditEntry(raw: unknown, at: string, policy: BatchPolicy): SyncAuditEntry {
  const e = object(raw, at, AUDIT_KEYS);
  let target: string | undefined;
  if (e.target !== undefined) {
    target = string(e.target, `${at}.target`);
    if (!isWireTarget(target))
      fail(
        `${at}.target`,
        'expected a kind and a bed label or id (bed:12, alarm:<id>) or a word; names and identifiers stay on the ward',
      );
  }
  return {
    n: counter(e.n, `${at}.n`),
    ts: time(e.ts, `${at}.ts`, policy),
    actor: id(e.actor, `${at}.actor`),
    action: id(e.action, `${at}.action`),
    ...(target !== undefined && { target }),
    ...(e.detail !== undefined && { detail: auditDetail(e.detail, `${at}.detail`) }),
  };
}

/** A flat object of short scalars: the trail says who did what, it does not carry records. */
function auditDetail(raw: unknown, at: string): Record<string, string | number | boolean | null> {
  if (!isPlainObject(raw)) fail(at, 'expected a JSON object');
  const entries = Object.entries(raw as Record<string, unknown>);
  if (entries.length > MAX_AUDIT_DETAIL_KEYS) fail(at, `at most ${MAX_AUDIT_DETAIL_KEYS} fields`);
  for (const [key, value] of entries) {
    if (!/^[A-Za-z][A-Za-z0-9_]{0,31}$/.test(key))
      fail(`${at}.${key}`, 'expected a field name of 1-32 letters, digits or underscore');
    const ok =
      value === null ||
      typeof value === 'boolean' ||
      (typeof value === 'number' && Number.isFinite(value)) ||
      (typeof value === 'string' && isWireWord(value));
    if (!ok)
      fail(
        `${at}.${key}`,
        'expected null, a boolean, a finite number or one lower-case word; free text stays on the ward',
      );
  }
  return raw as Record<string, string | number | boolean | null>;
}

function object(raw: unknown, at: string, keys: readonly string[]): Record<string, unknown> {
  if (!isPlainObject(raw)) fail(at || '(body)', 'expected a JSON object');
  const obj = raw as Record<string, unknown>;
  for (const key in obj)
    if (!keys.includes(key)) fail(at ? `${at}.${key}` : key, `unknown field (allowed: ${keys.join(', ')})`);
  return obj;
}
function list(raw: unknown, at: string): unknown[] {
  if (!Array.isArray(raw)) fail(at, 'expected an array (empty when there is nothing to send)');
  return raw as unknown[];
}
function string(raw: unknown, at: string): string {
  if (typeof raw !== 'string') fail(at, 'expected a string');
  return raw as string;
}
function id(raw: unknown, at: string): string {
  const value = string(raw, at);
  if (!ID.test(value)) fail(at, 'expected 1-64 letters, digits, dot, dash or underscore');
  return value;
}
function deviceId(raw: unknown, at: string): string {
  const value = string(raw, at);
  if (!isValidDeviceId(value)) fail(at, 'expected a device id (1-64 letters, digits, dot, dash or underscore)');
  return value;
}
function bed(raw: unknown, at: string): string {
  const value = string(raw, at);
  if (!isWireBed(value))
    fail(
      at,
      'expected a bed label such as 12, 12A or Bed 4 (at most 16 characters, with a digit, no long runs of digits or letters); names and identifiers stay on the ward',
    );
  return value;
}
function patient(raw: unknown, at: string): string {
  const value = string(raw, at);
  if (!isPseudonym(value))
    fail(at, 'expected a keyed pseudonym (p + 32 hex digits); clear patient identifiers must not leave the ward');
  return value;
}
function knownCode(raw: unknown, at: string): string {
  const value = string(raw, at);
  if (lookupCode(value)?.code !== value) fail(at, `'${value}' is not a short metric name from the code registry`);
  return value;
}
function oneOf<T extends string>(raw: unknown, allowed: readonly T[], at: string): T {
  if (!allowed.includes(raw as T)) fail(at, `expected one of ${allowed.join(', ')}`);
  return raw as T;
}
function finite(raw: unknown, at: string): number {
  if (typeof raw !== 'number' || !Number.isFinite(raw)) fail(at, 'expected a finite number');
  return raw as number;
}
function whole(raw: unknown, at: string): number {
  if (typeof raw !== 'number' || !Number.isSafeInteger(raw) || raw < 0) fail(at, 'expected a whole number >= 0');
  return raw as number;
}
function counter(raw: unknown, at: string): number {
  const value = whole(raw, at);
  if (value < 1) fail(at, 'expected an outbox number >= 1');
  return value;
}
function time(raw: unknown, at: string, policy: BatchPolicy): number {
  const ms = whole(raw, at);
  if (ms < EARLIEST) fail(at, 'expected epoch milliseconds after 2000-01-01');
  if (ms > policy.now + policy.maxFutureMs)
    fail(at, `lies ${Math.round((ms - policy.now) / 1000)} s ahead of the cloud clock`);
  return ms;
}
function ordered(items: readonly { n: number }[], at: string): void {
  for (let i = 1; i < items.length; i++) {
    if (items[i].n <= items[i - 1].n) fail(`${at}[${i}].n`, 'outbox numbers must strictly increase within a stream');
  }
}
