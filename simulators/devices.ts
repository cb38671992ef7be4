// The devices at a bed: which transport each speaks and which vitals it
// measures. A bed can have several (a monitor on MQTT and an oximeter on a
// serial cable, say); every scenario that upsets "a device" picks its target
// here, by what the transport can express.
import type { ScenarioKind } from './scenarios.js';

export const transports = ['mqtt', 'masimo', 'nonin', 'xpod', 'hl7'] as const;
export type Transport = (typeof transports)[number];

/** What a device can measure: continuous numerics, or NIBP and temperature as spot checks. */
export type Measurement = 'hr' | 'pr' | 'spo2' | 'rr' | 'nibp' | 'temp';

export interface DeviceSpec {
  readonly id: string;
  readonly transport: Transport;
  readonly measures: readonly Measurement[];
}

/** Serial oximeters (DOMAIN.md section 6) report only SpO2 and pulse rate. */
const OXIMETER: readonly Measurement[] = ['spo2', 'pr'];
const MONITOR_ALL: readonly Measurement[] = ['hr', 'spo2', 'pr', 'rr', 'nibp', 'temp'];
const MONITOR_REST: readonly Measurement[] = ['hr', 'rr', 'nibp', 'temp'];

/**
 * The devices of a bed: a multiparameter monitor (MQTT, or HL7 PCD-01), and,
 * when `oximeter` names a serial format, a separate oximeter on a cable that
 * takes over SpO2 and pulse rate.
 */
export function bedDevices(
  bed: string,
  monitor: 'mqtt' | 'hl7' = 'mqtt',
  oximeter?: 'mqtt' | 'masimo' | 'nonin' | 'xpod',
): DeviceSpec[] {
  const mon: DeviceSpec = { id: `mon-${bed}`, transport: monitor, measures: oximeter ? MONITOR_REST : MONITOR_ALL };
  return oximeter ? [mon, { id: `pox-${bed}`, transport: oximeter, measures: OXIMETER }] : [mon];
}

/** Whether a transport can carry a status message (battery, sensor, online). */
export const speaksStatus = (t: Transport) => t === 'mqtt';

/**
 * The device a device scenario happens to. Sensor and artifact trouble belong
 * to the device on the finger (the one measuring SpO2); battery and network
 * blips need a transport that can tell of them (MQTT status and sessions).
 */
export function targetDevice(devices: readonly DeviceSpec[], kind: ScenarioKind): DeviceSpec | undefined {
  const oximetry = devices.find((d) => d.measures.includes('spo2'));
  switch (kind) {
    case 'artifact':
    case 'sensor-off':
    case 'unplug':
    case 'malformed':
      return oximetry ?? devices[0];
    case 'battery':
    case 'blip':
      return devices.find((d) => d.transport === 'mqtt');
    default:
      return undefined;
  }
}

/**
 * How long a device may be silent before the gateway's "device silent" alarm,
 * with the gateway's defaults: alarms.technical.silentAfterMs (60 s) for MQTT
 * and HL7 devices, serial[].silentAfterMs (10 s) for a cable.
 */
export const silenceLimitS = (t: Transport) => (t === 'masimo' || t === 'nonin' || t === 'xpod' ? 10 : 60);
