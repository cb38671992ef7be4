// The demo ward's files: fresh random credentials for every device and
// person, hashed into a gateway config, all written mode 0600 into the run's
// own directory. Nothing here is ever committed or reused between runs.
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { deviceVerifier, mintDeviceSecret } from '../../edge/auth/deviceSecret.js';
import { hashPassword } from '../../edge/auth/password.js';
import type { BedPlan } from '../labels.js';
import { gatewayPtyPath } from '../transports/serialDevice.js';

export const DEMO_WARD = 'DEMO';
export const DEMO_GATEWAY = 'gw-demo';

export interface DemoPorts {
  readonly mqtt: number;
  readonly http: number;
  readonly hl7: number;
}

export interface DemoFiles {
  readonly configFile: string;
  readonly credentialsFile: string;
  /** KEY=value lines of edgeEnv, mode 0600. */
  readonly envFile: string;
  /** Device id -> password. */
  readonly credentials: Record<string, string>;
  readonly people: { readonly station: string; readonly nurse: string; readonly admin: string };
  /** Environment the edge needs for its secrets (cloud on). */
  readonly edgeEnv: Record<string, string>;
}

export const secret = (bytes = 24) => randomBytes(bytes).toString('base64url');

/** `cloud`: the local functions' URL and this gateway's HMAC secret there; absent: sync off. */
export async function writeDemoFiles(
  dir: string,
  plans: readonly BedPlan[],
  ports: DemoPorts,
  cloud: { url: string; secret: string } | undefined,
): Promise<DemoFiles> {
  const devices = plans.flatMap((p) => p.devices.map((d) => ({ ...d, bed: p.bed })));
  // Devices get minted secrets (fast to verify, so the ward reconnects at once after a restart); people scrypt-hashed passwords.
  const credentials = Object.fromEntries(
    devices.filter((d) => d.transport === 'mqtt' || d.transport === 'hl7').map((d) => [d.id, mintDeviceSecret()]),
  );
  const people = { station: secret(), nurse: secret(), admin: secret() };
  const hash = (password: string) => hashPassword(password);
  const config = {
    ward: DEMO_WARD,
    gateway: { id: DEMO_GATEWAY, dataDir: join(dir, 'edge-data') },
    mqtt: { host: '127.0.0.1', port: ports.mqtt },
    http: { host: '127.0.0.1', port: ports.http },
    // Each HL7 monitor may report only itself, in its own bed (hl7.senders; MSH-3 is its id).
    hl7: {
      host: '127.0.0.1',
      port: ports.hl7,
      senders: devices
        .filter((d) => d.transport === 'hl7')
        .map((d) => ({ application: d.id, devices: [d.id], beds: [d.bed] })),
    },
    devices: await Promise.all(
      Object.entries(credentials).map(async ([id, password]) => ({
        id,
        bed: devices.find((d) => d.id === id)!.bed,
        secretHash: deviceVerifier(password),
      })),
    ),
    serial: devices
      .filter((d) => d.transport === 'masimo' || d.transport === 'nonin' || d.transport === 'xpod')
      .map((d) => ({
        path: gatewayPtyPath(join(dir, 'tty'), d.id),
        driver: d.transport === 'xpod' ? 'nonin-binary-7' : `${d.transport}-ascii`,
        deviceId: d.id,
        bed: d.bed,
        reopenMinMs: 200,
        reopenMaxMs: 2000,
      })),
    users: [
      { name: 'station', role: 'viewer', secretHash: await hash(people.station) },
      { name: 'nurse', role: 'nurse', secretHash: await hash(people.nurse) },
      { name: 'admin', role: 'admin', secretHash: await hash(people.admin) },
    ],
    ...(cloud !== undefined && {
      cloud: {
        url: cloud.url,
        secretEnv: 'WARDGATE_CLOUD_SECRET',
        wardSecretEnv: 'WARDGATE_WARD_SECRET',
        batch: { maxAgeMs: 2000 },
      },
    }),
    // A demo shows the sync within seconds, not at the production cadence.
    jobs: { sync: '*/2 * * * * *' },
    log: { level: 'warn' },
  };
  const configFile = join(dir, 'wardgate.yaml');
  writeFileSync(configFile, stringify(config), { mode: 0o600 });
  const credentialsFile = join(dir, 'credentials.json');
  writeFileSync(
    credentialsFile,
    `${JSON.stringify({ ...credentials, station: people.station, nurse: people.nurse, admin: people.admin }, null, 2)}\n`,
    { mode: 0o600 },
  );
  const edgeEnv: Record<string, string> = cloud
    ? { WARDGATE_CLOUD_SECRET: cloud.secret, WARDGATE_WARD_SECRET: secret(32) }
    : {};
  // Every command that reads the config (wardgate status) needs the secrets it names.
  const envFile = join(dir, 'demo.env');
  writeFileSync(
    envFile,
    Object.entries(edgeEnv)
      .map(([k, v]) => `${k}=${v}\n`)
      .join(''),
    { mode: 0o600 },
  );
  return { configFile, credentialsFile, envFile, credentials, people, edgeEnv };
}
