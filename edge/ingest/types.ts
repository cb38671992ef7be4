// What every ingest source (MQTT, serial, HL7) hands to the commit queue, and
// what it gets back once the item is durable.
import type { DeviceStatus } from '../../shared/deviceStatus.js';
import type { Rejection } from '../../shared/errors.js';
import type { Reading } from '../../shared/reading.js';

export type IngestSource = 'mqtt' | 'serial' | 'hl7';

interface Common {
  readonly source: IngestSource;
  readonly receivedTs: number;
}

/**
 * A patient identifier as a sender gave it (HL7 PID-3, a CX: id, assigning
 * authority, identifier type). Patient data: kept in the ward's database only,
 * never logged; the sync replaces it with a keyed pseudonym.
 */
export interface PatientRef {
  readonly id: string;
  readonly authority: string;
  readonly idType: string;
}

export interface ObservationItem extends Common {
  readonly kind: 'obs';
  readonly deviceId: string;
  readonly seq: number;
  /** The gateway derived `seq` from the content (serial, HL7): on a collision, probe the next numbers. */
  readonly probeSeq?: boolean;
  /** Message time, epoch ms. */
  readonly ts: number;
  /** A short digest of the payload: the same seq with another digest is a conflict, not a retransmission. */
  readonly digest: Buffer;
  readonly readings: readonly Reading[];
  /** The bed the sender named for this message (HL7 PV1-3); the device's configured bed otherwise. */
  readonly bed?: string;
  /** The patient the sender associated with this message (HL7 PID-3). */
  readonly patient?: PatientRef;
}

export interface StatusItem extends Common {
  readonly kind: 'status';
  readonly deviceId: string;
  readonly status: DeviceStatus;
}

export interface DeadLetterItem extends Common {
  readonly kind: 'dead';
  readonly deviceId?: string;
  readonly topic?: string;
  readonly rejection: Rejection;
  readonly raw: Buffer;
  /** The size of the message received, when `raw` holds only its first bytes. */
  readonly rawSize?: number;
}

export type IngestItem = ObservationItem | StatusItem | DeadLetterItem;

/**
 * An observation as the store writes it: its readings already encoded
 * (store/ingestStore.ts encodeReadings). This, not the item with its reading
 * objects, is what crosses to the writer thread: flat rows are cheap to copy.
 */
export interface ObservationRow extends Omit<ObservationItem, 'readings'> {
  readonly encoded: string;
  readonly readingCount: number;
}

/** What the store commits. */
export type StoreItem = ObservationRow | StatusItem | DeadLetterItem;

export type IngestOutcome =
  | { readonly outcome: 'stored'; readonly readings: number; readonly bed?: string }
  | { readonly outcome: 'duplicate' }
  | { readonly outcome: 'status' }
  /** Valid, but every value in it was absent ("---", null): nothing to store, nothing committed. */
  | { readonly outcome: 'empty' }
  /** Dead-lettered: the original rejection, or a sequence conflict found at commit. */
  | { readonly outcome: 'rejected'; readonly rejection: Rejection };

export interface CommittedItem {
  readonly item: IngestItem;
  readonly result: IngestOutcome;
}
