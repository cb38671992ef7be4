// Who may publish and subscribe where. Pure functions of the principal and the
// topic (filter), so that the rules can be read, and tested, in one place.
import type { Principal } from '../config/load.js';
import { parseDeviceTopic, topics } from '../../shared/topics.js';

/** With allowAnonymous (a lab), a client without credentials acts as this. */
export const ANONYMOUS: Principal = Object.freeze({ name: '', kind: 'user', role: 'admin', secretHash: '' });

export function mayPublish(principal: Principal, topic: string, ward: string): boolean {
  if (principal === ANONYMOUS) return true;
  if (principal.kind === 'device') {
    const parsed = parseDeviceTopic(topic);
    return (
      parsed !== undefined && parsed.deviceId === principal.name && (parsed.kind === 'obs' || parsed.kind === 'status')
    );
  }
  // People and displays publish only alarm acknowledgements, and only nurses and admins.
  return (principal.role === 'nurse' || principal.role === 'admin') && topic === topics.wardAlarmAck(ward);
}

export function maySubscribe(principal: Principal, filter: string, ward: string): boolean {
  if (principal === ANONYMOUS) return true;
  if (principal.kind === 'device') return isWithin(filter, topics.devicePrefix(principal.name));
  if (principal.role === 'admin') return isWithin(filter, 'wardgate/');
  return isWithin(filter, topics.wardPrefix(ward));
}

/**
 * Whether a message on `topic` may be delivered to the principal: the same
 * rule as subscribing to the topic itself. Checked for every delivery, also of
 * messages queued in a stored session, so that what a session holds never
 * outlives the right to read it.
 */
export function mayReceive(principal: Principal, topic: string, ward: string): boolean {
  return maySubscribe(principal, topic, ward);
}

/**
 * A filter stays within a prefix (ending in '/') when it starts with it
 * literally: wildcards after it cannot climb out, while wildcards in the prefix
 * part (wardgate/ward/+/...) would reach other wards and are refused.
 */
function isWithin(filter: string, prefix: string): boolean {
  return filter.startsWith(prefix);
}
