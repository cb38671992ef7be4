// MQTT topic names: the one place that builds and parses them, for edge,
// simulators and tests alike.

const DEVICE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function isValidDeviceId(id: string): boolean {
  return DEVICE_ID.test(id);
}

export const topics = {
  deviceObs: (deviceId: string) => `wardgate/devices/${deviceId}/obs`,
  deviceStatus: (deviceId: string) => `wardgate/devices/${deviceId}/status`,
  deviceErrors: (deviceId: string) => `wardgate/devices/${deviceId}/errors`,
  wardAlarms: (ward: string) => `wardgate/ward/${ward}/alarms`,
  wardAlarmAck: (ward: string) => `wardgate/ward/${ward}/alarms/ack`,
  bedVitals: (ward: string, bed: string) => `wardgate/ward/${ward}/beds/${bed}/vitals`,
  bedAlarms: (ward: string, bed: string) => `wardgate/ward/${ward}/beds/${bed}/alarms`,
  wardPrefix: (ward: string) => `wardgate/ward/${ward}/`,
  devicePrefix: (deviceId: string) => `wardgate/devices/${deviceId}/`,
} as const;

export type DeviceTopicKind = 'obs' | 'status' | 'errors';

/** Splits `wardgate/devices/{id}/{kind}`; undefined for any other topic. */
export function parseDeviceTopic(topic: string): { deviceId: string; kind: string } | undefined {
  const parts = topic.split('/');
  if (parts.length !== 4 || parts[0] !== 'wardgate' || parts[1] !== 'devices') return undefined;
  return { deviceId: parts[2], kind: parts[3] };
}
