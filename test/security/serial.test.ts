// Hostile serial lines. First the lines real devices print (test/corpus/serial)
// read by their drivers; then property-based fuzzing of every driver, alone
// and through the line handler with the real ingest pipeline and store:
// random and mutated real lines never throw past the handler, and the next
// good line is stored; a driver that throws refuses only its line. Last, a
// table of attacks played on real pseudo-terminals (socat) into a running
// gateway, each followed by good lines that must be stored.
import t from 'tap';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { loadConfig } from '../../edge/config/load.js';
import { configSchema, type SerialDriverName } from '../../edge/config/schema.js';
import { Gateway } from '../../edge/gateway.js';
import { CommitQueue, syncCommitter } from '../../edge/ingest/commitQueue.js';
import { Ingestor } from '../../edge/ingest/ingestor.js';
import { createLogger } from '../../edge/log.js';
import type { DecodedLine, SerialDriver } from '../../edge/serial/driver.js';
import { serialDrivers } from '../../edge/serial/driverRegistry.js';
import { SerialLineIngest } from '../../edge/serial/lineIngest.js';
import { openDatabase, type Db } from '../../edge/store/database.js';
import { IngestStore } from '../../edge/store/ingestStore.js';
import { masimoLine, noninLine, noninRecord } from '../../simulators/serialLines.js';
import { tempDir, waitFor } from '../helpers/env.js';
import { writeTestConfig } from '../helpers/gateway.js';
import { PtyCable, play } from '../helpers/pty.js';

t.setTimeout(300_000);

const corpus = (file: string) =>
  readFileSync(new URL(`../corpus/serial/${file}`, import.meta.url), 'utf8')
    .split('\n')
    .filter(Boolean);
const masimoCapture = corpus('masimo-rad8-ascii1-capture.txt');
const masimoTrend = corpus('masimo-rad8-trend-manual.txt');
const noninManual = corpus('nonin-realtime-manual.txt');
/** The MQTT JSON of the README's device contract, one message per line. */
const jsonlLines = [
  '{"seq": 1042, "ts": "2026-11-27T09:00:00.123Z", "obs": [{"code": "spo2", "value": 97, "unit": "%"}, {"code": "pr", "value": 72, "unit": "/min"}]}',
  '{"ts": 1795770000123, "obs": [{"code": "MDC_PULS_OXIM_SAT_O2", "value": 0.97, "unit": "1"}]}',
];

const UTC = { deviceClock: 'utc' } as const;

t.test('the lines real devices print are read as their manuals say', async (t) => {
  const masimo = serialDrivers['masimo-ascii'];
  const captured = masimoCapture.map((l) => masimo.decode(l, UTC));
  t.same(
    captured.map((d) => d.kind === 'reading' && [d.obs.map((o) => o.value), d.sensor]),
    [
      [[98, 97], 'ok'],
      [[98, 96], 'ok'],
      [[98, 96], 'ok'],
      [[98, 96], 'ok'],
      [[98, 97], 'ok'],
    ],
    'Rad-8 ASCII 1 capture: SpO2 and pulse of every record',
  );
  t.equal((captured[0] as { deviceTs: number }).deviceTs, Date.UTC(2016, 1, 22, 22, 47, 45), 'with the device time');
  const trend = masimoTrend.map((l) => masimo.decode(l, UTC));
  t.same(
    trend.map((d) => d.kind === 'reading' && [d.obs.map((o) => o.value), d.sensor, d.obs[0].unreliable ?? false]),
    [
      [[null, null], 'off', false],
      [[null, null], 'off', false],
      [[97, 69], 'ok', false],
      [[96, 74], 'ok', true],
      [[98, 78], 'ok', false],
      [[null, null], 'ok', false],
      [[null, null], 'off', false],
      [[96, 78], 'ok', false],
    ],
    'Rad-8 trend sample: 000 is no value, named exceptions after the hex word, LowSigIQ marks values unreliable',
  );
  const nonin = noninManual.map((l) => serialDrivers['nonin-ascii'].decode(l, UTC));
  t.same(
    nonin.map((d) => d.kind === 'reading' && [d.obs.map((o) => o.value), d.event ?? false]),
    [
      [[97, 72], false],
      [[96, 74], false],
      [[null, null], false],
      [[95, 71], true],
    ],
    'Nonin real-time forms: normal, fast response (F), no data, event marker',
  );
});

// ---- fuzzing ---------------------------------------------------------------

const PROTO_KEYS = [
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'valueOf',
  'hasOwnProperty',
  '__defineGetter__',
  'isPrototypeOf',
];

/** A mutation of a text line: a character replaced, text inserted, a range cut, a field name swapped for a prototype key, the line cut short. */
const mutation = fc.oneof(
  fc.record({
    kind: fc.constant('replace' as const),
    at: fc.nat(),
    text: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
  }),
  fc.record({
    kind: fc.constant('insert' as const),
    at: fc.nat(),
    text: fc.oneof(
      fc.string({ unit: 'binary', maxLength: 8 }),
      fc.constantFrom(...PROTO_KEYS, '=', '%', '---', ':', ',', ' ', '\t'),
    ),
  }),
  fc.record({ kind: fc.constant('cut' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 12 }) }),
  fc.record({ kind: fc.constant('field' as const), at: fc.nat(), text: fc.constantFrom(...PROTO_KEYS) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
);
type Mutation = typeof mutation extends fc.Arbitrary<infer M> ? M : never;

function mutate(line: string, mutations: readonly Mutation[]): string {
  let s = line;
  for (const m of mutations) {
    const at = s.length ? m.at % (s.length + 1) : 0;
    if (m.kind === 'replace') s = s.slice(0, at) + m.text + s.slice(at + 1);
    else if (m.kind === 'insert') s = s.slice(0, at) + m.text + s.slice(at);
    else if (m.kind === 'cut') s = s.slice(0, at) + s.slice(at + m.length);
    else if (m.kind === 'truncate') s = s.slice(0, at);
    else {
      // The name before the at-th '=' becomes a prototype key: `SPO2=098%` -> `__proto__=098%`.
      const names = [...s.matchAll(/([A-Za-z0-9_"]+)(=|":)/g)];
      const hit = names.length ? names[m.at % names.length] : undefined;
      if (hit)
        s =
          s.slice(0, hit.index) +
          (hit[0].startsWith('"') ? `"${m.text}":` : `${m.text}=`) +
          s.slice(hit.index + hit[0].length);
    }
  }
  return s;
}

/** A JSON object written out from key/value pairs, so that a key `__proto__` is a plain member of the text (an object literal would make it the prototype). */
const objectText = (pairs: ReadonlyArray<readonly [string, string]>) =>
  `{${pairs.map(([k, v]) => `${JSON.stringify(k)}: ${v}`).join(', ')}}`;
const json = (value: unknown) => JSON.stringify(value) ?? 'null';

/** JSON lines built to reach the prototype: keys and values named like Object.prototype's members, at every level. */
const protoValue = fc.oneof(
  fc.constantFrom(...PROTO_KEYS).map(json),
  fc.jsonValue().map(json),
  fc.double().map((d) => json(d)),
);
const entryText = fc
  .array(
    fc.tuple(
      fc.constantFrom('code', 'value', 'unit', 'ts', ...PROTO_KEYS),
      fc.oneof(protoValue, fc.constantFrom('"spo2"', '"hr"', '"%"', '"/min"', '97')),
    ),
    { maxLength: 5 },
  )
  .map(objectText);
const hostileJson = fc
  .array(
    fc.oneof(
      fc.tuple(fc.constantFrom('seq', 'ts', ...PROTO_KEYS), protoValue),
      fc.tuple(
        fc.constant('obs'),
        fc.array(entryText, { maxLength: 3 }).map((entries) => `[${entries.join(', ')}]`),
      ),
      fc.tuple(fc.constantFrom('__proto__', 'obs'), entryText),
    ),
    { maxLength: 6 },
  )
  .map(objectText);

/** An ingest pipeline over a real store: the line handler of one port, as the serial service builds it. */
function pipeline(
  t: Parameters<typeof tempDir>[0],
  driverName: SerialDriverName,
  driver: SerialDriver = serialDrivers[driverName],
) {
  const db: Db = openDatabase(tempDir(t));
  t.teardown(() => db.close());
  const store = new IngestStore(db);
  store.declareDevices([{ id: 'dev-1', bed: '1' }]);
  const queue = new CommitQueue(syncCommitter((items) => store.commit(items)));
  const ingestor = new Ingestor(queue, store, {
    maxFutureSkewMs: 300_000,
    acceptUnknownDevices: false,
    maxMessageBytes: 16_384,
  });
  const port = configSchema.parse({
    serial: [{ path: '/dev/fuzz', driver: driverName, deviceId: 'dev-1', deviceClock: 'utc' }],
  }).serial[0];
  const errors: unknown[] = [];
  const lines = new SerialLineIngest({
    port,
    driver,
    ingestor,
    lastSeq: undefined,
    maxFutureSkewMs: 300_000,
    done: () => {},
    onError: (err) => errors.push(err),
  });
  const observationAt = db.prepare('SELECT count(*) FROM observations WHERE ts = ?').pluck();
  const deadLetters = db.prepare('SELECT reason FROM dead_letters ORDER BY id').pluck();
  return {
    lines,
    errors,
    deadLetters: () => deadLetters.all() as string[],
    /** Waits until an observation with this time is committed. */
    stored: (ts: number) =>
      waitFor(
        () => ((observationAt.get(ts) as number) > 0 ? true : undefined),
        5000,
        `the good line of ${new Date(ts).toISOString()}`,
      ),
  };
}

/** A good line of each driver whose stored time is `ts` (and the receive time to hand it with). */
const goodLine: Record<SerialDriverName, (ts: number, i: number) => { line: string; receivedTs: number }> = {
  'masimo-ascii': (ts) => ({
    line: masimoLine({ ts, spo2: 97, pr: 72, exc: 0x800, utc: true }).trim(),
    receivedTs: ts + 500,
  }),
  'nonin-ascii': (ts) => ({ line: noninLine(96, 70).trim(), receivedTs: ts }),
  'nonin-binary-1': (ts) => ({ line: noninRecord(1, 96, 70).toString('latin1'), receivedTs: ts }),
  'nonin-binary-2': (ts) => ({ line: noninRecord(2, 96, 70).toString('latin1'), receivedTs: ts }),
  'nonin-binary-7': (ts) => ({ line: noninRecord(7, 96, 70).toString('latin1'), receivedTs: ts }),
  'nonin-binary-8': (ts) => ({ line: noninRecord(8, 96, 70).toString('latin1'), receivedTs: ts }),
  jsonl: (ts, i) => ({
    line: JSON.stringify({ seq: 1_000_000 + i, ts, obs: [{ code: 'spo2', value: 95, unit: '%' }] }),
    receivedTs: ts + 500,
  }),
};
/** Records of a binary format, as the framer hands them to the driver (one latin1 character per byte). */
const noninRecords = (format: 1 | 2 | 7 | 8) =>
  [
    noninRecord(format, 97, 72),
    noninRecord(format, null, null, { disconnected: true }),
    noninRecord(format, 88, 131, { artifact: true, outOfTrack: true, lowPerfusion: true }),
  ].map((b) => b.toString('latin1'));
const realLines: Record<SerialDriverName, readonly string[]> = {
  'masimo-ascii': [...masimoCapture, ...masimoTrend],
  'nonin-ascii': noninManual,
  'nonin-binary-1': noninRecords(1),
  'nonin-binary-2': noninRecords(2),
  'nonin-binary-7': noninRecords(7),
  'nonin-binary-8': noninRecords(8),
  jsonl: jsonlLines,
};

const KINDS = new Set(['reading', 'message', 'header', 'garbage']);
function wellFormed(d: DecodedLine): boolean {
  if (!KINDS.has(d.kind)) return false;
  if (d.kind !== 'reading') return true;
  return (
    d.obs.every((o) => o.value === null || (typeof o.value === 'number' && Number.isFinite(o.value))) &&
    (d.deviceTs === undefined || Number.isFinite(d.deviceTs))
  );
}

for (const name of Object.keys(serialDrivers) as SerialDriverName[]) {
  t.test(`${name}: decode never throws, for random text and mutated real lines`, async (t) => {
    const driver = serialDrivers[name];
    const anyLine = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 200 }),
      fc.string({ unit: 'grapheme-ascii', maxLength: 200 }),
      fc.tuple(fc.constantFrom(...realLines[name]), fc.array(mutation, { maxLength: 6 })).map(([l, m]) => mutate(l, m)),
      ...(name === 'jsonl' ? [hostileJson] : []),
    );
    fc.assert(
      fc.property(anyLine, fc.constantFrom('local', 'utc', 'ignore' as const), (line, deviceClock) =>
        wellFormed(driver.decode(line, { deviceClock })),
      ),
      { numRuns: 2000 },
    );
    t.pass('2000 lines decoded without an exception, each to a well-formed result');
  });

  t.test(`${name}: through the line handler, no hostile line throws and the next good line is stored`, async (t) => {
    const p = pipeline(t, name);
    // Whole seconds: the Masimo line prints its time to the second.
    const base = Math.floor(Date.now() / 1000) * 1000 - 3 * 86_400_000;
    let i = 0;
    const hostile = fc.array(
      fc.oneof(
        fc.string({ unit: 'binary', maxLength: 120 }),
        fc
          .tuple(fc.constantFrom(...realLines[name]), fc.array(mutation, { minLength: 1, maxLength: 6 }))
          .map(([l, m]) => mutate(l, m)),
        ...(name === 'jsonl' ? [hostileJson] : []),
      ),
      { minLength: 1, maxLength: 3 },
    );
    await fc.assert(
      fc.asyncProperty(hostile, async (lines) => {
        i++;
        const ts = base + i * 1000;
        for (const line of lines) {
          const kind = p.lines.handle(Buffer.from(line, name === 'jsonl' ? 'utf8' : 'latin1'), ts - 300);
          if (!['reading', 'header', 'garbage', 'error'].includes(kind)) return false;
        }
        const good = goodLine[name](ts, i);
        if (p.lines.handle(Buffer.from(good.line, name === 'jsonl' ? 'utf8' : 'latin1'), good.receivedTs) !== 'reading')
          return false;
        await p.stored(ts);
        return true;
      }),
      { numRuns: 150 },
    );
    t.same(p.errors, [], 'no line made the handler fail');
  });
}

t.test(
  'a driver that throws refuses that line (dead letter WG_ERR_INTERNAL), and the next good line is stored',
  async (t) => {
    const real = serialDrivers['masimo-ascii'];
    const failing: SerialDriver = {
      ...real,
      decode(line, context) {
        // A defect reached by one line: the rest of the port's lines are decoded as usual.
        if (line.includes('SN=0000000666')) throw new TypeError('driver defect');
        return real.decode(line, context);
      },
    };
    const p = pipeline(t, 'masimo-ascii', failing);
    const ts = Math.floor(Date.now() / 1000) * 1000 - 60_000;
    const bad = masimoLine({ ts, spo2: 97, pr: 72, utc: true }).replace('SN=0000123456', 'SN=0000000666').trim();
    t.equal(p.lines.handle(Buffer.from(bad), ts), 'error', 'the failing line is refused');
    t.equal(p.lines.handle(Buffer.from(bad), ts + 1000), 'error', 'as is the next one like it');
    t.equal(p.errors.length, 2, 'each failure is reported for the log');
    const good = goodLine['masimo-ascii'](ts + 2000, 0);
    t.equal(p.lines.handle(Buffer.from(good.line), good.receivedTs), 'reading');
    await p.stored(ts + 2000);
    t.same(p.deadLetters(), ['WG_ERR_INTERNAL'], 'kept for review once per run of failing lines, with the reason');
  },
);

// ---- real pseudo-terminals -----------------------------------------------

async function serialGateway(t: Parameters<typeof tempDir>[0], serial: Array<Record<string, unknown>>) {
  const { file } = await writeTestConfig(t, { devices: [], extra: { serial } });
  const gateway = new Gateway(loadConfig({ file, env: {} }), { log: createLogger('silent') });
  await gateway.start();
  t.teardown(() => gateway.stop());
  return gateway;
}

const observations = (g: Gateway, deviceId: string) =>
  g
    .db!.prepare('SELECT count(*) FROM observations o JOIN devices d ON d.id = o.device WHERE d.device_id = ?')
    .pluck()
    .get(deviceId) as number;
const deadLetters = (g: Gateway, deviceId: string) =>
  g.db!.prepare('SELECT reason FROM dead_letters WHERE device_id = ? ORDER BY id').pluck().all(deviceId) as string[];

async function metric(g: Gateway, name: string, labels: string): Promise<number> {
  const text = await g.metrics!.registry.metrics();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}} `));
  return line ? Number(line.split(' ')[1]) : 0;
}

/** Bytes that look like a device at the wrong baud rate: fixed pseudo-random, every byte value, ending on a non-ASCII byte. */
function binaryGarbage(n: number): Buffer {
  let x = 0x2545f491;
  const out = Buffer.alloc(n);
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  out[n - 1] = 0xff;
  return out;
}

interface Attack {
  readonly attack: string;
  readonly bytes: Array<string | Buffer>;
  /** Observations the attack itself adds (a hostile line that is still a valid reading). */
  readonly readings: number;
  /** Of the two good lines after it, how many are stored (a line end swallowed by the attack takes the first with it). */
  readonly goodStored: 1 | 2;
  /** Dead letters it adds, by reason. */
  readonly dead: string[];
}

t.test(
  'attacks on three real serial ports: each refused as documented, the port stays open, the next good lines are stored',
  async (t) => {
    const dir = tempDir(t);
    const cables = {
      masimo: new PtyCable(t, dir, 'masimo'),
      nonin: new PtyCable(t, dir, 'nonin'),
      jsonl: new PtyCable(t, dir, 'jsonl'),
    };
    for (const cable of Object.values(cables)) await cable.plug();
    const reopen = { reopenMinMs: 100, reopenMaxMs: 400 };
    const gateway = await serialGateway(t, [
      {
        path: cables.masimo.gateway,
        driver: 'masimo-ascii',
        deviceId: 'pox-m',
        bed: '1',
        deviceClock: 'utc',
        ...reopen,
      },
      { path: cables.nonin.gateway, driver: 'nonin-ascii', deviceId: 'pox-n', bed: '2', ...reopen },
      { path: cables.jsonl.gateway, driver: 'jsonl', deviceId: 'mon-j', bed: '3', maxLineBytes: 4096, ...reopen },
    ]);
    let clock = Date.now() - 86_400_000;
    let seq = 1;
    const good: Record<'masimo' | 'nonin' | 'jsonl', () => string> = {
      masimo: () => masimoLine({ ts: (clock += 1000), spo2: 97, pr: 72, exc: 0x800, utc: true }),
      nonin: () => noninLine(96, 70),
      jsonl: () => `${JSON.stringify({ seq: seq++, obs: [{ code: 'hr', value: 80, unit: '/min' }] })}\r\n`,
    };
    const stamp = (text: string) =>
      `${masimoLine({ ts: (clock += 1000), spo2: 97, pr: 72, utc: true }).slice(0, 17)} ${text}\r\n`;
    const attacks: Record<'masimo' | 'nonin' | 'jsonl', Attack[]> = {
      masimo: [
        {
          attack: 'binary garbage (a wrong baud rate)',
          bytes: [binaryGarbage(512)],
          readings: 0,
          goodStored: 2,
          dead: [],
        },
        {
          attack: 'printable noise without a line end',
          bytes: ['SPO2=09'],
          readings: 0,
          goodStored: 1,
          dead: ['WG_ERR_SERIAL_LINE'],
        },
        {
          attack: 'an over-long line without a line end',
          bytes: ['A'.repeat(5000)],
          readings: 0,
          goodStored: 1,
          dead: [],
        },
        {
          attack: 'an over-long line with its line end',
          bytes: [`${'A'.repeat(5000)}\r\n`],
          readings: 0,
          goodStored: 2,
          dead: [],
        },
        {
          attack: 'a NUL inside a line',
          bytes: [stamp('SPO2=0\x0097% BPM=072')],
          readings: 0,
          goodStored: 2,
          dead: ['WG_ERR_SERIAL_LINE'],
        },
        {
          attack: '__proto__ as a field name',
          bytes: [stamp('__proto__=1 SPO2=097% BPM=072')],
          readings: 0,
          goodStored: 2,
          dead: ['WG_ERR_SERIAL_LINE'],
        },
        {
          attack: 'prototype member names as fields',
          bytes: [stamp('CONSTRUCTOR=1 TOSTRING=x VALUEOF=y HASOWNPROPERTY=z SPO2=097% BPM=072')],
          readings: 1,
          goodStored: 2,
          dead: [],
        },
        {
          attack: 'a field named like a prototype member carrying the value',
          bytes: [stamp('SPO2=toString BPM=valueOf')],
          readings: 0,
          goodStored: 2,
          dead: ['WG_ERR_SERIAL_LINE'],
        },
        {
          attack: 'an impossible date',
          bytes: ['02/30/26 09:00:00 SPO2=097% BPM=072\r\n'],
          readings: 0,
          goodStored: 2,
          dead: ['WG_ERR_SERIAL_LINE'],
        },
      ],
      nonin: [
        { attack: 'binary garbage', bytes: [binaryGarbage(300)], readings: 0, goodStored: 2, dead: [] },
        {
          attack: 'a NUL inside a line',
          bytes: ['SPO2=\x00097 HR=072\r\n'],
          readings: 0,
          goodStored: 2,
          dead: ['WG_ERR_SERIAL_LINE'],
        },
        {
          attack: '__proto__ after the values',
          bytes: ['SPO2=097 HR=072 __proto__\r\n'],
          readings: 0,
          goodStored: 2,
          dead: ['WG_ERR_SERIAL_LINE'],
        },
        {
          attack: 'an over-long run of event markers',
          bytes: ['*'.repeat(4000)],
          readings: 0,
          goodStored: 1,
          dead: [],
        },
      ],
      jsonl: [
        {
          attack: '__proto__ carrying the seq',
          bytes: ['{"__proto__": {"seq": 1}, "obs": [{"code": "hr", "value": 80, "unit": "/min"}]}\r\n'],
          readings: 0,
          goodStored: 2,
          dead: ['WG_ERR_SCHEMA'],
        },
        {
          attack: 'a unit named __proto__',
          bytes: ['{"seq": 900, "obs": [{"code": "spo2", "value": 97, "unit": "__proto__"}]}\r\n'],
          readings: 0,
          goodStored: 2,
          dead: ['WG_ERR_UNIT'],
        },
        {
          attack: 'a unit named valueOf',
          bytes: ['{"seq": 901, "obs": [{"code": "spo2", "value": 97, "unit": "valueOf"}]}\r\n'],
          readings: 0,
          goodStored: 2,
          dead: ['WG_ERR_UNIT'],
        },
        {
          attack: 'a code named constructor',
          bytes: ['{"seq": 902, "obs": [{"code": "constructor", "value": 1, "unit": "%"}]}\r\n'],
          readings: 0,
          goodStored: 2,
          dead: ['WG_ERR_UNKNOWN_CODE'],
        },
        {
          attack: 'a seq named toString',
          bytes: ['{"seq": "toString", "obs": [{"code": "hr", "value": 80, "unit": "/min"}]}\r\n'],
          readings: 0,
          goodStored: 2,
          dead: ['WG_ERR_SCHEMA'],
        },
        {
          attack: 'deep nesting',
          bytes: [`{"seq": 903, "obs": ${'['.repeat(1500)}${']'.repeat(1500)}}\r\n`],
          readings: 0,
          goodStored: 2,
          dead: ['WG_ERR_SCHEMA'],
        },
        {
          attack: 'a NUL inside JSON',
          bytes: ['{"seq": 904, "obs": [{"code": "hr", "va\x00lue": 80, "unit": "/min"}]}\r\n'],
          readings: 0,
          goodStored: 2,
          dead: ['WG_ERR_SERIAL_LINE'],
        },
        {
          attack: 'invalid UTF-8',
          bytes: [
            Buffer.concat([
              Buffer.from('{"seq": 905, "obs": [{"code": "hr", "value": 80, "unit": "'),
              Buffer.from([0xc3, 0x28, 0xff]),
              Buffer.from('"}]}\r\n'),
            ]),
          ],
          readings: 0,
          goodStored: 2,
          dead: ['WG_ERR_UNIT'],
        },
      ],
    };
    const ids = { masimo: 'pox-m', nonin: 'pox-n', jsonl: 'mon-j' } as const;
    for (const port of ['masimo', 'nonin', 'jsonl'] as const) {
      const id = ids[port];
      for (const row of attacks[port]) {
        const before = { stored: observations(gateway, id), dead: deadLetters(gateway, id).length };
        const chunks = [...row.bytes, good[port](), good[port]()];
        t.same(
          await play(t, cables[port].device, chunks, { intervalMs: 50 }),
          { written: chunks.length },
          `${port}, ${row.attack}: played`,
        );
        const want = before.stored + row.readings + row.goodStored;
        await waitFor(
          () =>
            observations(gateway, id) >= want && deadLetters(gateway, id).length >= before.dead + row.dead.length
              ? true
              : undefined,
          10_000,
          `${port}, ${row.attack}`,
        ).catch(() => undefined);
        t.equal(
          observations(gateway, id),
          want,
          `${port}, ${row.attack}: ${row.readings ? 'stored as a reading, and ' : ''}${row.goodStored === 2 ? 'both' : 'the second of the'} good lines after it stored`,
        );
        t.same(
          deadLetters(gateway, id).slice(before.dead),
          row.dead,
          `${port}, ${row.attack}: dead letters ${row.dead.join(', ') || 'none'}`,
        );
      }
      t.equal(
        await metric(gateway, 'wardgate_serial_port_up', `port="${cables[port].gateway}"`),
        1,
        `${port}: the port stayed open throughout`,
      );
    }
    t.ok(
      (await metric(gateway, 'wardgate_serial_lines_total', `port="${cables.masimo.gateway}",result="overlong"`)) >= 2,
      'over-long lines counted',
    );
    t.ok(
      (await metric(gateway, 'wardgate_serial_junk_bytes_total', `port="${cables.masimo.gateway}"`)) >= 512,
      'junk bytes counted',
    );

    // A partial line when the cable is pulled: counted, never joined to the first line after the port is back.
    const before = observations(gateway, 'pox-m');
    t.same(await play(t, cables.masimo.device, [good.masimo(), 'SPO2=09'], { intervalMs: 50 }), { written: 2 });
    await waitFor(
      () => (observations(gateway, 'pox-m') === before + 1 ? true : undefined),
      10_000,
      'the line before the cut',
    );
    await cables.masimo.unplug();
    await waitFor(
      async () =>
        (await metric(gateway, 'wardgate_serial_port_up', `port="${cables.masimo.gateway}"`)) === 0 ? true : undefined,
      10_000,
      'the port to close',
    );
    t.equal(
      await metric(gateway, 'wardgate_serial_lines_total', `port="${cables.masimo.gateway}",result="partial"`),
      1,
      'the cut line is counted as partial',
    );
    await cables.masimo.plug();
    await waitFor(
      async () =>
        (await metric(gateway, 'wardgate_serial_port_up', `port="${cables.masimo.gateway}"`)) === 1 ? true : undefined,
      10_000,
      'the port to reopen',
    );
    t.same(await play(t, cables.masimo.device, [good.masimo()], { intervalMs: 0 }), { written: 1 });
    await waitFor(
      () => (observations(gateway, 'pox-m') === before + 2 ? true : undefined),
      10_000,
      'the first line after the replug',
    );
  },
);

t.test('a driver defect on a real port: the line is refused and counted, the port reads on', async (t) => {
  const registry = serialDrivers as Record<SerialDriverName, SerialDriver>;
  const real = registry['nonin-ascii'];
  // Fault injection: the driver fails on one line, as a defect reached by one crafted line would.
  registry['nonin-ascii'] = {
    ...real,
    decode: (line, context) => (line.includes('HR=666') ? (JSON.parse('{') as never) : real.decode(line, context)),
  };
  t.teardown(() => {
    registry['nonin-ascii'] = real;
  });
  const dir = tempDir(t);
  const cable = new PtyCable(t, dir);
  await cable.plug();
  const gateway = await serialGateway(t, [
    { path: cable.gateway, driver: 'nonin-ascii', deviceId: 'pox-n', bed: '2', reopenMinMs: 100, reopenMaxMs: 400 },
  ]);
  registry['nonin-ascii'] = real;
  const lines = [noninLine(97, 72), 'SPO2=097 HR=666\r\n', noninLine(96, 71), noninLine(95, 70)];
  t.same(await play(t, cable.device, lines, { intervalMs: 50 }), { written: lines.length });
  await waitFor(
    () => (observations(gateway, 'pox-n') === 3 ? true : undefined),
    10_000,
    'the good lines around the failing one',
  );
  t.same(deadLetters(gateway, 'pox-n'), ['WG_ERR_INTERNAL'], 'the failing line is kept for review with the reason');
  t.equal(
    await metric(gateway, 'wardgate_serial_lines_total', `port="${cable.gateway}",result="error"`),
    1,
    'and counted',
  );
  t.equal(await metric(gateway, 'wardgate_serial_port_up', `port="${cable.gateway}"`), 1, 'the port stays open');
});
