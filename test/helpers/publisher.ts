// A device's outbox for crash tests: publishes QoS 1 observations with a bounded
// window, records which were acknowledged, and returns when all are settled or
// the connection is gone (a killed gateway never answers the rest).
import type { MqttClient } from 'mqtt';

export function publishAll(
  client: MqttClient,
  deviceId: string,
  seqs: readonly number[],
  acked: Set<number>,
  window = 20,
): Promise<void> {
  return new Promise((resolve) => {
    let next = 0;
    let inFlight = 0;
    let settled = 0;
    let done = false;
    const finish = () => {
      if (!done) {
        done = true;
        resolve();
      }
    };
    client.once('close', finish);
    const pump = () => {
      while (!done && inFlight < window && next < seqs.length) {
        const seq = seqs[next++];
        inFlight++;
        const payload = JSON.stringify({
          seq,
          obs: [
            { code: 'spo2', value: 90 + (seq % 10), unit: '%' },
            { code: 'pr', value: 60 + (seq % 40), unit: '/min' },
          ],
        });
        client.publish(`wardgate/devices/${deviceId}/obs`, payload, { qos: 1 }, (err) => {
          inFlight--;
          settled++;
          if (!err) acked.add(seq);
          if (settled === seqs.length) finish();
          else pump();
        });
      }
    };
    if (seqs.length === 0) finish();
    else pump();
  });
}
