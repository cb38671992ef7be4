// Serial and HL7 ingest benchmark, each beside its bare parse rate measured
// in the same run on the same input:
// - serial: Masimo ASCII 1 lines through framing, the driver, seq derivation,
//   validation and the durable group commit (SQLite WAL, synchronous=FULL),
//   in process, fed as a port delivers them (a chunk per event-loop turn);
// - HL7: PCD-01 ORU^R01 messages with 10 numeric OBX each, sent over MLLP by
//   pipelining TCP clients to a `wardgate edge` child process, counted when
//   their AA arrives (after commit); the bare rate is parse + map + validate.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { stringify } from 'yaml';
import { CommitQueue, syncCommitter } from '../edge/ingest/commitQueue.js';
import { Ingestor } from '../edge/ingest/ingestor.js';
import { RUN_FILE, type RunInfo } from '../edge/gateway.js';
import { parseHl7 } from '../edge/hl7/message.js';
import { mapPcd01 } from '../edge/hl7/pcd01.js';
import { LineFramer } from '../edge/serial/lineFramer.js';
import { serialDrivers } from '../edge/serial/driverRegistry.js';
import { SerialLineIngest } from '../edge/serial/lineIngest.js';
import { openDatabase } from '../edge/store/database.js';
import { IngestStore } from '../edge/store/ingestStore.js';
import { configSchema } from '../edge/config/schema.js';
import { validateObservation } from '../shared/observation.js';
import { isRejection } from '../shared/timestamp.js';
import { masimoLine } from '../simulators/serialLines.js';
import { pcd01Message, tenVitals } from '../simulators/pcd01.js';
import { MllpDecoder, mllpFrame, type MllpFrame } from '../edge/hl7/mllp.js';
import { connect } from 'node:net';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SERIAL_LINES = 20_000;
const HL7_MESSAGES = 4_000;
const HL7_CONNECTIONS = 4;
const HL7_WINDOW = 32;

const rate = (n: number, ms: number) => Math.round((n / ms) * 1000);

function masimoStream(n: number): Buffer {
  const t0 = Date.now() - (n + 60) * 1000;
  return Buffer.from(
    Array.from({ length: n }, (_, i) =>
      masimoLine({ ts: t0 + i * 1000, spo2: 90 + (i % 10), pr: 60 + (i % 40), exc: 0x800 }),
    ).join(''),
    'latin1',
  );
}

function chunks(bytes: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) out.push(bytes.subarray(i, i + size));
  return out;
}

/** Framing and decoding only. */
function serialBare(stream: Buffer): { linesPerSecond: number } {
  const driver = serialDrivers['masimo-ascii'];
  let lines = 0;
  const framer = new LineFramer({ maxLineBytes: 1024, asciiOnly: true });
  framer.on('data', (l: Buffer) => {
    if (driver.decode(l.toString('latin1'), { deviceClock: 'local' }).kind === 'reading') lines++;
  });
  const started = performance.now();
  for (const c of chunks(stream, 4096)) framer.write(c);
  return { linesPerSecond: rate(lines, performance.now() - started) };
}

/** The whole serial path to a durable commit; `chunk` bytes per event-loop turn. */
async function serialCommitted(
  stream: Buffer,
  chunk: number,
  expected: number,
): Promise<{ linesPerSecond: number; commits: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'wardgate-bench-serial-'));
  const db = openDatabase(dir);
  try {
    const store = new IngestStore(db);
    store.declareDevices([{ id: 'pox-1', bed: '1', source: 'serial' }]);
    let commits = 0;
    const queue = new CommitQueue(syncCommitter((items) => (commits++, store.commit(items))));
    const ingestor = new Ingestor(
      queue,
      { isDeclared: (id) => store.isDeclared(id) },
      { maxFutureSkewMs: 300_000, acceptUnknownDevices: false, maxMessageBytes: 16_384 },
    );
    const port = configSchema.parse({ serial: [{ path: '/dev/bench', driver: 'masimo-ascii', deviceId: 'pox-1' }] })
      .serial[0];
    let stored = 0;
    let done!: () => void;
    const finished = new Promise<void>((resolve) => (done = resolve));
    const lines = new SerialLineIngest({
      port,
      driver: serialDrivers['masimo-ascii'],
      ingestor,
      lastSeq: undefined,
      maxFutureSkewMs: 300_000,
      done: (err, result) => {
        if (err) throw err;
        if (result?.outcome === 'stored' && ++stored === expected) done();
      },
    });
    const framer = new LineFramer({ maxLineBytes: 1024, asciiOnly: true });
    framer.on('data', (l: Buffer) => lines.handle(l, Date.now()));
    const started = performance.now();
    for (const c of chunks(stream, chunk)) {
      framer.write(c);
      await new Promise((r) => setImmediate(r));
    }
    await finished;
    return { linesPerSecond: rate(stored, performance.now() - started), commits };
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function hl7Messages(n: number, monitors: number): string[] {
  const t0 = Date.now() - 120_000;
  return Array.from({ length: n }, (_, i) =>
    pcd01Message({
      controlId: `B${i}`,
      ts: t0 + Math.floor(i / monitors) * 10,
      equipment: `MON-${i % monitors}`,
      patient: { id: `P${i % monitors}`, authority: 'HOSP' },
      location: { unit: '3B', room: '1', bed: String(i % monitors) },
      metrics: tenVitals(i),
    }),
  );
}

/** Parse, map and validate only (what the listener does before submitting). */
function hl7Bare(messages: string[]): { messagesPerSecond: number } {
  const started = performance.now();
  let ok = 0;
  for (const text of messages) {
    const parsed = parseHl7(Buffer.from(text).toString('utf8'));
    if (isRejection(parsed)) continue;
    const report = mapPcd01(parsed);
    if ('rejection' in report) continue;
    if (
      report.groups.every(
        (g) => validateObservation({ seq: 1, obs: g.obs }, { now: Date.now(), maxFutureMs: 300_000 }).ok,
      )
    )
      ok++;
  }
  return { messagesPerSecond: rate(ok, performance.now() - started) };
}

/** Messages acknowledged AA per second by a `wardgate edge` child, several pipelining connections. */
async function hl7Acked(
  messages: string[],
): Promise<{ messagesPerSecond: number; readingsPerSecond: number; notAa: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'wardgate-bench-hl7-'));
  const file = join(dir, 'wardgate.yaml');
  writeFileSync(
    file,
    stringify({
      gateway: { id: 'gw-bench', dataDir: './data' },
      mqtt: { port: 0 },
      http: { port: 0 },
      hl7: { port: 0 },
      ingest: { acceptUnknownDevices: true },
      log: { level: 'warn' },
    }),
  );
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'wardgate.js'), 'edge', '--config', file], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  try {
    const run = await waitForRun(join(dir, 'data', RUN_FILE), child.pid!);
    const per = Math.ceil(messages.length / HL7_CONNECTIONS);
    const started = performance.now();
    const results = await Promise.all(
      Array.from({ length: HL7_CONNECTIONS }, (_, k) =>
        pipeline(run.ports.hl7!, messages.slice(k * per, (k + 1) * per)),
      ),
    );
    const ms = performance.now() - started;
    const acked = results.reduce((n, r) => n + r.aa, 0);
    return {
      messagesPerSecond: rate(acked, ms),
      readingsPerSecond: rate(acked * 10, ms),
      notAa: results.reduce((n, r) => n + r.other, 0),
    };
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
}

function pipeline(port: number, messages: string[]): Promise<{ aa: number; other: number }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.setNoDelay(true);
    const decoder = new MllpDecoder({ maxMessageBytes: 1 << 20 });
    let sent = 0;
    let aa = 0;
    let other = 0;
    const pump = () => {
      while (sent < messages.length && sent - aa - other < HL7_WINDOW) socket.write(mllpFrame(messages[sent++]));
    };
    decoder.on('data', (f: MllpFrame) => {
      if (f.kind === 'message' && f.message.includes('MSA|AA|')) aa++;
      else other++;
      if (aa + other === messages.length) {
        socket.end();
        resolve({ aa, other });
      } else pump();
    });
    socket.on('data', (c) => decoder.write(c));
    socket.on('error', reject);
    socket.on('connect', pump);
  });
}

async function waitForRun(path: string, pid: number): Promise<RunInfo> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    try {
      const info = JSON.parse(readFileSync(path, 'utf8')) as RunInfo;
      if (info.pid === pid) return info;
    } catch {
      // not written yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('the daemon did not start');
}

export async function runSerialHl7Bench(log: (line: string) => void = console.log): Promise<Record<string, unknown>> {
  const stream = masimoStream(SERIAL_LINES);
  serialBare(stream); // warm-up
  const bare = serialBare(stream);
  log(`serial bare parse (frame + masimo-ascii decode): ${bare.linesPerSecond} lines/s`);
  const burst = await serialCommitted(stream, 4096, SERIAL_LINES);
  log(
    `serial parsed and committed, 4 KiB per turn (a burst): ${burst.linesPerSecond} lines/s in ${burst.commits} commits`,
  );
  const fewer = masimoStream(SERIAL_LINES / 10);
  const perLine = await serialCommitted(fewer, 128, SERIAL_LINES / 10);
  log(
    `serial parsed and committed, 128 B per turn (about one line, one fsync each): ${perLine.linesPerSecond} lines/s`,
  );

  const messages = hl7Messages(HL7_MESSAGES, 16);
  hl7Bare(messages); // warm-up
  const hl7bare = hl7Bare(messages);
  log(`hl7 bare parse + map + validate (10 OBX): ${hl7bare.messagesPerSecond} messages/s`);
  const acked = await hl7Acked(messages);
  log(
    `hl7 acknowledged AA after commit, ${HL7_CONNECTIONS} connections x ${HL7_WINDOW} in flight: ${acked.messagesPerSecond} messages/s (${acked.readingsPerSecond} readings/s)`,
  );
  return {
    serial: {
      lines: SERIAL_LINES,
      bareParseLinesPerSecond: bare.linesPerSecond,
      committedLinesPerSecondBurst: burst.linesPerSecond,
      commitsBurst: burst.commits,
      committedLinesPerSecondLineByLine: perLine.linesPerSecond,
    },
    hl7: {
      messages: HL7_MESSAGES,
      obxPerMessage: 10,
      connections: HL7_CONNECTIONS,
      window: HL7_WINDOW,
      bareParseMessagesPerSecond: hl7bare.messagesPerSecond,
      ackedMessagesPerSecond: acked.messagesPerSecond,
      ackedReadingsPerSecond: acked.readingsPerSecond,
      notAcceptedAA: acked.notAa,
    },
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const figures = await runSerialHl7Bench();
  console.log(JSON.stringify(figures, null, 2));
}
