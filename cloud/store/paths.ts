// Where everything lives in Firestore, in one place. Everything a ward owns
// is under wards/{ward}, so access rules, exports and deletion follow the ward.
//
//   gateways/{gateway}                     ingest state: recent signatures, segments to publish again
//   gateways/{gateway}/stored/{stream}_{k} the outbox numbers stored, exactly, k = n / 2^19 (storeRecord.ts)
//   edgeConfigs/{gateway}                  rule and limit overrides for the edge's config pull
//   wards/{ward}/segments/{batchId}_{n}    raw readings of one batch, columnar, <= 15 min each; n = its first outbox number
//   wards/{ward}/alarmEvents/{gateway}_{n} one alarm lifecycle event
//   wards/{ward}/devices/{device}          latest status of a device
//   wards/{ward}/audit/{gateway}_{n}       one entry of the ward's audit trail (user names and actions only)
//   wards/{ward}/hours/{yyyymmddhh}_{s}    hourly statistics and 5-minute series per patient
//   wards/{ward}/state/current             latest vitals, NEWS2, trends and risk per patient
//   wards/{ward}/alerts/{alertId}          cloud alerts raised by the analysis
import type { Firestore } from '@google-cloud/firestore';

export const Collection = {
  gateways: 'gateways',
  stored: 'stored',
  edgeConfigs: 'edgeConfigs',
  wards: 'wards',
  segments: 'segments',
  alarmEvents: 'alarmEvents',
  devices: 'devices',
  audit: 'audit',
  hours: 'hours',
  state: 'state',
  alerts: 'alerts',
} as const;

export const HOUR_MS = 3_600_000;
export const SLOT_MS = 300_000;
export const SLOTS_PER_HOUR = 12;

export const ward = (db: Firestore, wardId: string) => db.collection(Collection.wards).doc(wardId);
export const gatewayDoc = (db: Firestore, gateway: string) => db.collection(Collection.gateways).doc(gateway);
/** One shard of the record of what a gateway's stream has stored. */
export const storedShard = (db: Firestore, gateway: string, stream: string, shard: number) =>
  gatewayDoc(db, gateway).collection(Collection.stored).doc(`${stream}_${shard}`);
export const edgeConfigDoc = (db: Firestore, gateway: string) => db.collection(Collection.edgeConfigs).doc(gateway);
export const segments = (db: Firestore, wardId: string) => ward(db, wardId).collection(Collection.segments);
export const alarmEvents = (db: Firestore, wardId: string) => ward(db, wardId).collection(Collection.alarmEvents);
export const devices = (db: Firestore, wardId: string) => ward(db, wardId).collection(Collection.devices);
export const auditTrail = (db: Firestore, wardId: string) => ward(db, wardId).collection(Collection.audit);
export const hours = (db: Firestore, wardId: string) => ward(db, wardId).collection(Collection.hours);
export const currentState = (db: Firestore, wardId: string) =>
  ward(db, wardId).collection(Collection.state).doc('current');
export const alerts = (db: Firestore, wardId: string) => ward(db, wardId).collection(Collection.alerts);

/** Start of the UTC hour containing `ms`. */
export const hourStart = (ms: number) => Math.floor(ms / HOUR_MS) * HOUR_MS;

/** `2026112709`: the UTC hour as a sortable document id. */
export function hourKey(ms: number): string {
  return new Date(hourStart(ms)).toISOString().slice(0, 13).replace(/[-T]/g, '');
}

export const hourDocId = (ms: number, shard: number) => `${hourKey(ms)}_${shard}`;

/** The readings' subject: the patient pseudonym when the edge knows the patient, otherwise the bed. */
export function subjectOf(item: { bed: string; patient?: string }): string {
  return item.patient ?? `bed-${item.bed}`;
}

/** Stable shard of a subject (FNV-1a), so one patient always lands in the same hour document. */
export function shardOf(subject: string, shards: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < subject.length; i++) {
    h ^= subject.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h % shards;
}
