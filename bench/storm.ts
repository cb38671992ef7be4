// Reconnect storm: the time from the moment a floor's devices all connect at
// once (right after the gateway started) until every one of them streams
// (its first observation acknowledged, so committed), for 300 and 1,000
// devices, through `wardgate edge` and through a bare aedes broker fed the
// same storm in the same run. Devices retry as mqtt.js does (about 1 s) on
// CONNACK 3, a closed connection or a CONNACK timeout (10 s).
// WARDGATE_BENCH_STORM_SCRYPT=1 adds the old configuration: 300 devices with
// production scrypt hashes (2^15).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deviceVerifier, mintDeviceSecret } from '../edge/auth/deviceSecret.js';
import { hashPassword } from '../edge/auth/password.js';
import { runStorm, type StormResult } from '../simulators/storm.js';
import { startBare, startWardgate, type BrokerChild } from './children.js';

export interface StormFigures {
  devices: number;
  credentials: 'minted' | 'scrypt';
  bare: Omit<StormResult, 'connections'>;
  wardgate: Omit<StormResult, 'connections'>;
}

type Device = { id: string; password: string; secretHash: string };

async function devicesFor(n: number, kind: 'minted' | 'scrypt'): Promise<Device[]> {
  return Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const id = `mon-${i + 1}`;
      const password = mintDeviceSecret();
      return { id, password, secretHash: kind === 'minted' ? deviceVerifier(password) : await hashPassword(password) };
    }),
  );
}

async function storm(broker: BrokerChild, devices: readonly Device[]): Promise<Omit<StormResult, 'connections'>> {
  const { connections, ...result } = await runStorm({ port: broker.port, devices, deadlineMs: 120_000 });
  for (const c of connections) c.end();
  await new Promise((r) => setTimeout(r, 500));
  return result;
}

export async function runStormBench(log: (line: string) => void = console.log): Promise<StormFigures[]> {
  const runs: Array<{ n: number; kind: 'minted' | 'scrypt' }> = [
    { n: 300, kind: 'minted' },
    { n: 1000, kind: 'minted' },
  ];
  if (process.env.WARDGATE_BENCH_STORM_SCRYPT === '1') runs.unshift({ n: 300, kind: 'scrypt' });
  const figures: StormFigures[] = [];
  for (const { n, kind } of runs) {
    const devices = await devicesFor(n, kind);
    const bare = await startBare();
    const b = await storm(bare, devices);
    await bare.stop();
    const dir = mkdtempSync(join(tmpdir(), 'wardgate-storm-'));
    try {
      const config = {
        ward: 'floor',
        mqtt: { port: 0 },
        http: { port: 0 },
        gateway: { dataDir: './data' },
        log: { level: 'error' },
        devices: devices.map((d, i) => ({ id: d.id, bed: String(i + 1), secretHash: d.secretHash })),
      };
      const wardgate = await startWardgate(dir, config);
      const w = await storm(wardgate, devices);
      await wardgate.stop();
      figures.push({ devices: n, credentials: kind, bare: b, wardgate: w });
      log(`${String(n).padStart(5)} devices (${kind.padEnd(6)}) bare ${fmt(b)} | wardgate ${fmt(w)}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return figures;
}

function fmt(r: Omit<StormResult, 'connections'>): string {
  const all =
    r.allStreamingMs === undefined
      ? `${r.streaming} streaming`
      : `all streaming in ${(r.allStreamingMs / 1000).toFixed(2)} s`;
  return `${all} (p50 ${(r.p50Ms / 1000).toFixed(2)} s; ${r.attempts} CONNECTs, ${r.serverUnavailable} told busy, ${r.timeouts} timed out, ${r.closedOrRefused} closed)`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(JSON.stringify(await runStormBench(), null, 2));
}
