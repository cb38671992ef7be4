// Ingest benchmark: acknowledged QoS 1 messages per second and PUBACK latency
// through wardgate (durable, fsync'd) and through a bare aedes broker measured
// in the same run, with the same load generator, payloads and topics.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { hashPassword } from '../edge/auth/password.js';
import { cpuSeconds, rssMiB, startBare, startWardgate, type BrokerChild } from './children.js';
import { runLoad, type LoadResult } from './mqttLoad.js';

const CONNECTIONS = 4;
const password = (i: number) => `bench-device-${i}-password`;

export interface Scenario {
  name: string;
  connections: number;
  window: number;
  messages: number;
}

export const scenarios: Scenario[] = [
  { name: '1 conn, 1 in flight', connections: 1, window: 1, messages: 3_000 },
  { name: '1 conn, 10 in flight', connections: 1, window: 10, messages: 20_000 },
  { name: '1 conn, 100 in flight', connections: 1, window: 100, messages: 40_000 },
  { name: '4 conns, 10 in flight each', connections: 4, window: 10, messages: 10_000 },
  { name: '4 conns, 100 in flight each', connections: 4, window: 100, messages: 20_000 },
];

/** A load run, with the CPU each side used (1 = one core busy for the whole run). */
export interface MeasuredLoad extends LoadResult {
  brokerCores: number;
  generatorCores: number;
}

export interface IngestFigures {
  scenario: string;
  bare: MeasuredLoad;
  wardgate: MeasuredLoad;
  ratio: number;
}

export interface IngestBenchResult {
  figures: IngestFigures[];
  readingsPerMessage: number;
  payloadBytes: number;
  daemonRssMiB: number;
  daemonPeakRssMiB: number;
  bytesPerReading: number;
  storedReadings: number;
}

let seqBase = 0;
function message(i: number, seq: number): { topic: string; payload: Buffer } {
  const payload = JSON.stringify({
    seq: seqBase + seq,
    ts: Date.now(),
    obs: [
      { code: 'spo2', value: 97, unit: '%' },
      { code: 'pr', value: 60 + (seq % 40), unit: '/min' },
      { code: 'rr', value: 16, unit: '/min' },
      { code: 'temp', value: 36.8, unit: 'Cel' },
    ],
  });
  return { topic: `wardgate/devices/bench-${i}/obs`, payload: Buffer.from(payload) };
}

async function measure(broker: BrokerChild, scenario: Scenario, withAuth: boolean): Promise<MeasuredLoad> {
  seqBase += 1_000_000;
  const brokerBefore = cpuSeconds(broker.child.pid!);
  const generatorBefore = process.cpuUsage();
  const result = await runLoad({
    port: broker.port,
    connections: scenario.connections,
    window: scenario.window,
    messages: scenario.messages,
    message,
    ...(withAuth && { credentials: (i: number) => ({ username: `bench-${i}`, password: password(i) }) }),
  });
  const generator = process.cpuUsage(generatorBefore);
  return {
    ...result,
    brokerCores: (cpuSeconds(broker.child.pid!) - brokerBefore) / result.seconds,
    generatorCores: (generator.user + generator.system) / 1e6 / result.seconds,
  };
}

export async function runIngestBench(log: (line: string) => void = console.log): Promise<IngestBenchResult> {
  const dir = mkdtempSync(join(tmpdir(), 'wardgate-bench-'));
  try {
    const bare = await startBare();
    const wardgate = await startWardgate(dir, {
      ward: 'bench',
      mqtt: { port: 0 },
      http: { port: 0 },
      gateway: { dataDir: './data' },
      devices: await Promise.all(
        Array.from({ length: CONNECTIONS }, async (_, i) => ({
          id: `bench-${i}`,
          bed: String(i + 1),
          secretHash: await hashPassword(password(i), { logN: 10 }),
        })),
      ),
      log: { level: 'warn' },
    });
    const warm: Scenario = { name: 'warm-up', connections: CONNECTIONS, window: 50, messages: 5_000 };
    await measure(bare, warm, false);
    await measure(wardgate, warm, true);
    const figures: IngestFigures[] = [];
    // Alternate the two brokers scenario by scenario, so that drift on the machine hits both alike.
    for (const scenario of scenarios) {
      const b = await measure(bare, scenario, false);
      const w = await measure(wardgate, scenario, true);
      figures.push({ scenario: scenario.name, bare: b, wardgate: w, ratio: w.perSecond / b.perSecond });
      log(
        `${scenario.name.padEnd(30)} bare ${fmt(b)} | wardgate ${fmt(w)} | ratio ${(w.perSecond / b.perSecond).toFixed(2)}x | CPU per message ${cpuPerMessage(w).toFixed(1)} vs ${cpuPerMessage(b).toFixed(1)} us (${(cpuPerMessage(w) / cpuPerMessage(b)).toFixed(1)}x)`,
      );
    }
    const daemonRssMiB = rssMiB(wardgate.child.pid!, 'VmRSS');
    const daemonPeakRssMiB = rssMiB(wardgate.child.pid!, 'VmHWM');
    await bare.stop();
    await wardgate.stop(); // checkpoints the WAL into the main file
    const dbFile = join(dir, 'data', 'wardgate.db');
    const db = new Database(dbFile, { readonly: true });
    const storedReadings = (db.prepare('SELECT count(*) AS n FROM readings').get() as { n: number }).n;
    db.close();
    const bytesPerReading = statSync(dbFile).size / storedReadings;
    return {
      figures,
      readingsPerMessage: 4,
      payloadBytes: message(0, 1).payload.length,
      daemonRssMiB,
      daemonPeakRssMiB,
      bytesPerReading,
      storedReadings,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Microseconds of the broker's CPU (all threads) per acknowledged message. */
export function cpuPerMessage(r: MeasuredLoad): number {
  return (r.brokerCores / r.perSecond) * 1e6;
}

function fmt(r: MeasuredLoad): string {
  return `${Math.round(r.perSecond).toString().padStart(6)} msg/s p50 ${r.latencyMs.p50.toFixed(2)} p99 ${r.latencyMs.p99.toFixed(2)} ms cpu ${r.brokerCores.toFixed(2)} (gen ${r.generatorCores.toFixed(2)})`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const result = await runIngestBench();
  console.log(JSON.stringify(result, null, 2));
}
