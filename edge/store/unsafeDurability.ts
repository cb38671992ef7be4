// A switch for the power-cut tests' control runs (test/powercut/): durability
// turned off on purpose, which a power cut must punish, so that the harness
// proves it would see a lost reading. Never for a ward: it is not documented for
// users, and `wardgate edge` refuses it in any configuration that could be one
// (refusalOfUnsafeDurability). Read from the environment where the database is
// opened, so that no configuration file can carry it.
//   skip-wal-sync: the ingest writer acknowledges without its fdatasync of the WAL;
//   off:           that, and synchronous=OFF on every connection (no sync at all).
import { isIP } from 'node:net';

export const UNSAFE_DURABILITY_ENV = 'WARDGATE_TEST_UNSAFE_DURABILITY';

export type UnsafeDurability = 'skip-wal-sync' | 'off';

export function unsafeDurability(env: NodeJS.ProcessEnv = process.env): UnsafeDurability | null {
  const value = env[UNSAFE_DURABILITY_ENV];
  return value === 'skip-wal-sync' || value === 'off' ? value : null;
}

/** Why the daemon must not run with the switch in this environment and configuration, or null when it is unset or a test's. */
export function refusalOfUnsafeDurability(
  env: NodeJS.ProcessEnv,
  listeners: ReadonlyArray<string | undefined>,
): string | null {
  const value = env[UNSAFE_DURABILITY_ENV];
  if (value === undefined || value === '') return null;
  if (unsafeDurability(env) === null) return `${UNSAFE_DURABILITY_ENV} must be skip-wal-sync, off or unset`;
  if (env.NODE_ENV === 'production') return `${UNSAFE_DURABILITY_ENV} is refused with NODE_ENV=production`;
  // systemd sets these for every service it runs: a ward box, not a test.
  if (env.INVOCATION_ID || env.NOTIFY_SOCKET) return `${UNSAFE_DURABILITY_ENV} is refused under a service manager`;
  const open = listeners.filter((host): host is string => host !== undefined && !isLoopback(host));
  if (open.length) return `${UNSAFE_DURABILITY_ENV} is refused with a listener on ${open.join(', ')} (loopback only)`;
  return null;
}

function isLoopback(host: string): boolean {
  if (host === 'localhost' || host === '::1') return true;
  return isIP(host) === 4 && host.startsWith('127.');
}
