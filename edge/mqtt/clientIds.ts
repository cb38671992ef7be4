// Which MQTT client identifiers a principal may use. A client identifier names
// a session, and the broker hands a session (its queued messages, and the
// connection holding it, [MQTT-3.1.4-2]) to whoever presents the identifier:
// so each identifier belongs to one principal, and no other may present it.
//   - a device: exactly its device id;
//   - a user (person or display): its name, or its name, ':' and any suffix
//     ("station-3b:wall-1"), so that one account may hold several sessions;
//     names and device ids cannot contain ':', so namespaces never overlap;
//   - an anonymous lab client (mqtt.allowAnonymous): any identifier not
//     belonging to a declared device or user.
// An empty identifier (a clean session the broker names itself) is fine for
// users and anonymous clients; a device must always name itself.
import type { Principal } from '../config/load.js';
import { ANONYMOUS } from './acl.js';

export const NAMESPACE_SEPARATOR = ':';

/** The declared name an identifier belongs to: the part before the first ':'. */
export function ownerOf(clientId: string): string {
  const at = clientId.indexOf(NAMESPACE_SEPARATOR);
  return at < 0 ? clientId : clientId.slice(0, at);
}

/**
 * `assigned`: the client sent an empty identifier and the broker made one up.
 * `isDeclared`: a device id or user name in the configuration.
 */
export function mayUseClientId(
  principal: Principal,
  clientId: string,
  assigned: boolean,
  isDeclared: (name: string) => boolean,
): boolean {
  if (principal.kind === 'device') return !assigned && clientId === principal.name;
  if (assigned) return true;
  if (principal === ANONYMOUS) return !isDeclared(ownerOf(clientId));
  return clientId === principal.name || clientId.startsWith(`${principal.name}${NAMESPACE_SEPARATOR}`);
}
