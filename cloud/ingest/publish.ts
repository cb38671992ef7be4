// The message that tells the analysis which segments a batch added. Small on
// purpose: the readings stay in Firestore, the message names where they are.
import { FieldValue, type Firestore } from '@google-cloud/firestore';
import type { PubSub } from '@google-cloud/pubsub';
import { gatewayDoc } from '../store/paths.js';

export interface BatchMessage {
  readonly v: 1;
  readonly ward: string;
  readonly gateway: string;
  readonly batchId: string;
  readonly segments: readonly string[];
}

export async function publishBatch(pubsub: PubSub, topic: string, message: BatchMessage): Promise<string> {
  return pubsub.topic(topic).publishMessage({
    data: Buffer.from(JSON.stringify(message), 'utf8'),
    attributes: { ward: message.ward, gateway: message.gateway, batchId: message.batchId },
  });
}

/** Remembers segments whose publish failed, so the gateway's next request publishes them. */
export async function markPending(db: Firestore, gateway: string, segmentIds: readonly string[]): Promise<void> {
  if (segmentIds.length > 0) await gatewayDoc(db, gateway).update({ pending: FieldValue.arrayUnion(...segmentIds) });
}

export async function clearPending(db: Firestore, gateway: string, segmentIds: readonly string[]): Promise<void> {
  if (segmentIds.length > 0) await gatewayDoc(db, gateway).update({ pending: FieldValue.arrayRemove(...segmentIds) });
}
