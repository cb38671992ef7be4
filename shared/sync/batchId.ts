// The deterministic batch id: the same items from the same gateway always give
// the same id, so a retry is recognisably the same batch (PRODUCT.md: "deterministic
// id, so a retry is the same batch"), and ids of different gateways never clash.
import { createHash } from 'node:crypto';
import type { SyncAlarmEvent, SyncAuditEntry, SyncDeviceStatus, SyncReading, SyncStream } from './wire.js';

const BATCH_ID = /^b[0-9a-f]{32}$/;

/** The idempotency key of one item within its gateway: `readings/1042`. */
export function itemKey(stream: SyncStream, n: number): string {
  return `${stream}/${n}`;
}

export interface BatchItems {
  readonly readings: readonly Pick<SyncReading, 'n'>[];
  readonly alarms: readonly Pick<SyncAlarmEvent, 'n'>[];
  readonly statuses: readonly Pick<SyncDeviceStatus, 'n'>[];
  readonly audit?: readonly Pick<SyncAuditEntry, 'n'>[];
}

/** The item keys in wire order: alarms, then readings, then statuses, then audit entries (alarms travel first; a batch without audit entries keeps the id it had before the stream existed). */
export function orderedItemKeys(items: BatchItems): string[] {
  return [
    ...items.alarms.map((a) => itemKey('alarms', a.n)),
    ...items.readings.map((r) => itemKey('readings', r.n)),
    ...items.statuses.map((s) => itemKey('statuses', s.n)),
    ...(items.audit ?? []).map((a) => itemKey('audit', a.n)),
  ];
}

/**
 * `b` + the first 32 hex digits of SHA-256("wardgate-batch-v1\n" + gateway +
 * "\n" + the ordered item keys joined by "\n"). Only the keys count, not values:
 * an item's content never changes once it has a key.
 */
export function batchIdOf(gateway: string, items: BatchItems): string {
  const hash = createHash('sha256').update(`wardgate-batch-v1\n${gateway}`, 'utf8');
  for (const key of orderedItemKeys(items)) hash.update(`\n${key}`, 'utf8');
  return `b${hash.digest('hex').slice(0, 32)}`;
}

export function isBatchId(value: string): boolean {
  return BATCH_ID.test(value);
}
