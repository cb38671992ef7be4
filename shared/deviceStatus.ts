// Validator for device status messages (`wardgate/devices/{id}/status`).
import { reject, type Rejection } from './errors.js';
import { isPlainObject } from './observation.js';
import { sensorStates, type SensorState } from './reading.js';
import { isRejection, parseTimestamp, type TimestampPolicy } from './timestamp.js';

export interface DeviceStatus {
  readonly ts: number;
  readonly online?: boolean;
  readonly battery?: number;
  readonly sensor?: SensorState;
}

const KEYS = new Set(['online', 'battery', 'sensor', 'ts']);

export function parseDeviceStatus(payload: Buffer | string, policy: TimestampPolicy): DeviceStatus | Rejection {
  let body: unknown;
  try {
    body = JSON.parse(typeof payload === 'string' ? payload : payload.toString('utf8'));
  } catch (err) {
    return reject('WG_ERR_JSON', `payload is not valid JSON (${(err as Error).message})`);
  }
  if (!isPlainObject(body))
    return reject('WG_ERR_SCHEMA', 'expected a JSON object such as {"online": true, "battery": 80}');
  for (const key in body) {
    if (!KEYS.has(key)) return reject('WG_ERR_SCHEMA', 'unknown field (allowed: online, battery, sensor, ts)', key);
  }
  const { online, battery, sensor } = body;
  if (online !== undefined && typeof online !== 'boolean')
    return reject('WG_ERR_SCHEMA', 'expected true or false', 'online');
  if (battery !== undefined && (typeof battery !== 'number' || !(battery >= 0 && battery <= 100))) {
    return reject('WG_ERR_SCHEMA', 'expected a percentage from 0 to 100', 'battery');
  }
  if (sensor !== undefined && !sensorStates.includes(sensor as SensorState)) {
    return reject('WG_ERR_SCHEMA', `expected one of ${sensorStates.join(', ')}`, 'sensor');
  }
  let ts = policy.now;
  if (body.ts !== undefined) {
    const parsed = parseTimestamp(body.ts, 'ts', policy);
    if (isRejection(parsed)) return parsed;
    ts = parsed;
  }
  return {
    ts,
    ...(online !== undefined && { online }),
    ...(battery !== undefined && { battery }),
    ...(sensor !== undefined && { sensor: sensor as SensorState }),
  };
}
