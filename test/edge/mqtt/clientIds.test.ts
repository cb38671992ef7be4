// Which client identifier each principal may use, and what it may receive.
import t from 'tap';
import type { Principal } from '../../../edge/config/load.js';
import { ANONYMOUS, mayReceive } from '../../../edge/mqtt/acl.js';
import { mayUseClientId, ownerOf } from '../../../edge/mqtt/clientIds.js';

const pox: Principal = { name: 'pox-1', kind: 'device', secretHash: 'x' };
const station: Principal = { name: 'station', kind: 'user', role: 'viewer', secretHash: 'x' };
const declared = new Set(['pox-1', 'pox-2', 'station', 'nurse-ann']);
const isDeclared = (name: string) => declared.has(name);

t.test('client identifiers are bound to their principal', async (t) => {
  const cases: Array<[Principal, string, boolean, boolean]> = [
    [pox, 'pox-1', false, true],
    [pox, 'pox-2', false, false],
    [pox, 'pox-1:x', false, false],
    [pox, 'sim-pox-1', false, false],
    [pox, 'aedes_0f1e', true, false], // a device must name itself
    [station, 'station', false, true],
    [station, 'station:wall-1', false, true],
    [station, 'station-2', false, false],
    [station, 'pox-1', false, false],
    [station, 'nurse-ann:tablet', false, false],
    [station, 'aedes_0f1e', true, true], // a clean session the broker named
    [ANONYMOUS, 'mqttjs_1234', false, true],
    [ANONYMOUS, 'pox-1', false, false],
    [ANONYMOUS, 'station:wall-1', false, false],
  ];
  for (const [principal, clientId, assigned, allowed] of cases) {
    t.equal(
      mayUseClientId(principal, clientId, assigned, isDeclared),
      allowed,
      `${principal.name || 'anonymous'} as '${clientId}'${assigned ? ' (assigned)' : ''}`,
    );
  }
  t.equal(ownerOf('station:wall:1'), 'station');
});

t.test('a delivery reaches only a principal that may read its topic', async (t) => {
  t.notOk(
    mayReceive(pox, 'wardgate/ward/3B/alarms', '3B'),
    'a device gets no alarm events, even queued for another session',
  );
  t.ok(mayReceive(pox, 'wardgate/devices/pox-1/errors', '3B'));
  t.notOk(mayReceive(pox, 'wardgate/devices/pox-2/errors', '3B'));
  t.ok(mayReceive(station, 'wardgate/ward/3B/alarms', '3B'));
  t.notOk(mayReceive(station, 'wardgate/ward/4A/alarms', '3B'));
  t.notOk(mayReceive(station, 'wardgate/devices/pox-1/obs', '3B'));
});
