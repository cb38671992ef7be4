// What an MQTT device publishes for an emission that is a message (an
// observation, a status, a deliberate mistake), the one mapping both MQTT
// transports use; going off- and online is each transport's own business.
import { topics } from '../../shared/topics.js';
import type { Emission } from '../bed.js';
import { malformedMqtt } from '../malformed.js';
import type { SeqStore } from './seqStore.js';

export interface MqttMessage {
  readonly topic: string;
  readonly payload: string;
}

/** The message for `e`, taking the next seq where it needs one; undefined for connection events. */
export function mqttMessageOf(deviceId: string, e: Emission, seq: SeqStore, ts: number): MqttMessage | undefined {
  switch (e.type) {
    case 'obs':
      return { topic: topics.deviceObs(deviceId), payload: JSON.stringify({ seq: seq.next(), ts, obs: e.obs }) };
    case 'status':
      return { topic: topics.deviceStatus(deviceId), payload: JSON.stringify({ ...e.status, ts }) };
    case 'malformed':
      return { topic: topics.deviceObs(deviceId), payload: malformedMqtt(e.variant, seq.next(), ts) };
    default:
      return undefined;
  }
}
