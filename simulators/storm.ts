// A reconnect storm: every device of a floor connects at the same moment (a
// gateway restart, a power cut, a network switch coming back) and behaves as
// a device does: on CONNACK 3 (server unavailable), a refused or closed
// connection or no CONNACK within its timeout, it waits about a second and
// tries again. A device streams once its first observation is acknowledged.
// The lean connections (transports/leanMqtt.ts) keep the storm's own cost low.
import { topics } from '../shared/topics.js';
import { CONNACK_ACCEPTED, CONNACK_SERVER_UNAVAILABLE, LeanMqttConnection } from './transports/leanMqtt.js';

export interface StormOptions {
  readonly port: number;
  readonly devices: ReadonlyArray<{ readonly id: string; readonly password: string }>;
  /** Give up after this long (default 60 s). */
  readonly deadlineMs?: number;
  /** A device's wait before it tries again, randomized by +-50 % (default 1,000 ms, mqtt.js' reconnectPeriod). */
  readonly retryMs?: number;
  /** How long a device waits for a CONNACK (default 10 s, mqtt.js' connectTimeout). */
  readonly connectTimeoutMs?: number;
}

export interface StormResult {
  /** From the first CONNECT until the last device's first PUBACK; undefined if some never streamed. */
  readonly allStreamingMs: number | undefined;
  readonly streaming: number;
  /** Time to stream, per device, at the quantiles. */
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly attempts: number;
  readonly serverUnavailable: number;
  readonly timeouts: number;
  readonly closedOrRefused: number;
  /** The connections, open and streaming; the caller ends them. */
  readonly connections: LeanMqttConnection[];
}

export async function runStorm(o: StormOptions): Promise<StormResult> {
  const deadline = performance.now() + (o.deadlineMs ?? 60_000);
  const retryMs = o.retryMs ?? 1000;
  const counts = { attempts: 0, serverUnavailable: 0, timeouts: 0, closedOrRefused: 0 };
  const connections: LeanMqttConnection[] = [];
  const started = performance.now();
  const times: number[] = [];

  const device = async (d: { id: string; password: string }): Promise<void> => {
    while (performance.now() < deadline) {
      counts.attempts++;
      const { answer, connection } = await LeanMqttConnection.open({
        port: o.port,
        clientId: d.id,
        username: d.id,
        password: d.password,
        timeoutMs: o.connectTimeoutMs ?? 10_000,
      });
      if (answer === CONNACK_ACCEPTED && connection) {
        const payload = Buffer.from(
          JSON.stringify({
            seq: Date.now(),
            obs: [
              { code: 'spo2', value: 97, unit: '%' },
              { code: 'pr', value: 72, unit: '/min' },
            ],
          }),
        );
        const acked = await new Promise<boolean>((resolve) => {
          connection.onClose = () => resolve(false);
          if (!connection.publish(topics.deviceObs(d.id), payload, () => resolve(true))) resolve(false);
        });
        if (acked) {
          connections.push(connection);
          times.push(performance.now() - started);
          return;
        }
        counts.closedOrRefused++;
      } else if (answer === CONNACK_SERVER_UNAVAILABLE) counts.serverUnavailable++;
      else if (answer === 'timeout') counts.timeouts++;
      else counts.closedOrRefused++;
      await new Promise((r) => setTimeout(r, retryMs * (0.5 + Math.random())));
    }
  };

  await Promise.all(o.devices.map(device));
  times.sort((a, b) => a - b);
  const at = (q: number) => times[Math.min(times.length - 1, Math.floor(q * times.length))] ?? Number.NaN;
  return {
    allStreamingMs: times.length === o.devices.length ? times[times.length - 1] : undefined,
    streaming: times.length,
    p50Ms: at(0.5),
    p99Ms: at(0.99),
    ...counts,
    connections,
  };
}
