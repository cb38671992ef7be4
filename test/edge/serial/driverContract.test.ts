// The contract every serial driver obeys, one table per driver: a normal
// record, absent values, every status bit or exception the format documents,
// and junk. Each table is played as bytes through the driver's own framer
// (lines or binary records) in every chunking from one byte to the whole, and
// after junk: the decoded results are the same, the junk is counted, nothing
// throws, and a record torn by the end of the stream yields nothing.
import t from 'tap';
import fc from 'fast-check';
import { framerFor, type DecodedLine } from '../../../edge/serial/driver.js';
import { serialDrivers } from '../../../edge/serial/driverRegistry.js';
import type { FramingFault } from '../../../edge/serial/lineFramer.js';
import type { SerialDriverName } from '../../../edge/config/schema.js';
import type { SensorState } from '../../../shared/reading.js';
import { masimoLine, noninLine, noninRecord, type NoninStatus } from '../../../simulators/serialLines.js';

interface Summary {
  kind: DecodedLine['kind'];
  values?: Array<number | null>;
  sensor?: SensorState | null;
  unreliable?: boolean;
  exceptions?: readonly string[];
  event?: boolean;
}

interface Sample {
  readonly name: string;
  readonly bytes: Buffer;
  readonly expect: Summary;
}

interface Contract {
  readonly samples: readonly Sample[];
  /** Bytes that are no record of the format. */
  readonly junk: Buffer;
}

const reading = (values: Array<number | null>, more: Omit<Summary, 'kind' | 'values'> = {}): Summary => ({
  kind: 'reading',
  values,
  sensor: null,
  unreliable: false,
  exceptions: [],
  event: false,
  ...more,
});

function summary(d: DecodedLine): Summary {
  if (d.kind !== 'reading') return { kind: d.kind };
  return {
    kind: d.kind,
    values: d.obs.map((o) => o.value),
    sensor: d.sensor ?? null,
    unreliable: d.obs.some((o) => o.unreliable === true),
    exceptions: d.exceptions ?? [],
    event: d.event ?? false,
  };
}

const T0 = Date.UTC(2026, 10, 27, 9, 0, 0);
const masimo = (exc: number, spo2: number | null = 97, pr: number | null = 72) =>
  Buffer.from(masimoLine({ ts: T0, spo2, pr, exc, utc: true }), 'latin1');
const text = (line: string) => Buffer.from(`${line}\r\n`, 'latin1');

/** Every documented Masimo EXC bit (DOMAIN.md section 6): [bit, name, sensor state, values stored, values unreliable]. */
const masimoBits: Array<[number, string, SensorState, boolean, boolean]> = [
  [0x000001, 'no-sensor', 'absent', false, false],
  [0x000002, 'defective-sensor', 'fault', false, false],
  [0x000004, 'low-perfusion', 'ok', true, true],
  [0x000008, 'pulse-search', 'ok', true, true],
  [0x000010, 'interference', 'ok', true, true],
  [0x000020, 'sensor-off', 'off', false, false],
  [0x000040, 'ambient-light', 'ok', true, true],
  [0x000080, 'unrecognized-sensor', 'fault', false, false],
  [0x000100, 'incompatible-sensor', 'fault', false, false],
  [0x000400, 'low-signal-iq', 'ok', true, true],
  [0x000800, 'set-mode', 'ok', true, false],
  [0x001000, 'no-cable', 'absent', false, false],
  [0x002000, 'cable-life-expired', 'fault', false, false],
  [0x004000, 'incompatible-cable', 'fault', false, false],
  [0x008000, 'unrecognized-cable', 'fault', false, false],
  [0x010000, 'defective-cable', 'fault', false, false],
  [0x020000, 'sensor-calibrating', 'ok', true, true],
  [0x040000, 'sensor-life-expired', 'fault', false, false],
  [0x080000, 'emitter-temperature', 'fault', false, false],
  [0x100000, 'sensor-current-limit', 'fault', false, false],
  [0x200000, 'spco-low-confidence', 'ok', true, false],
  [0x400000, 'spmet-low-confidence', 'ok', true, false],
];

/** Every Nonin binary status condition: [condition, formats that have it, sensor, values stored, unreliable, name]. */
const noninConditions: Array<[keyof NoninStatus, ReadonlyArray<1 | 2 | 7 | 8>, SensorState, boolean, boolean, string]> =
  [
    ['disconnected', [1, 2, 7, 8], 'absent', false, false, 'sensor-disconnected'],
    ['sensorAlarm', [2, 7, 8], 'fault', false, false, 'sensor-alarm'],
    ['outOfTrack', [1, 2, 7, 8], 'ok', true, true, 'out-of-track'],
    ['artifact', [1, 2, 7, 8], 'ok', true, true, 'artifact'],
    ['lowPerfusion', [1, 2, 7, 8], 'ok', true, true, 'low-perfusion'],
    ['marginalPerfusion', [1, 2, 7, 8], 'ok', true, false, 'marginal-perfusion'],
    ['lowBattery', [8], 'ok', true, false, 'low-battery'],
    ['criticalBattery', [8], 'ok', true, false, 'critical-battery'],
  ];

function noninBinaryContract(format: 1 | 2 | 7 | 8): Contract {
  // #2 and #7 send three packets a second with the same numerics; one in three is read.
  const record = (spo2: number | null, hr: number | null, status: NoninStatus = {}) => {
    const one = noninRecord(format, spo2, hr, status, 0x1234);
    return format === 2 || format === 7 ? Buffer.concat([one, one, one]) : one;
  };
  return {
    samples: [
      { name: 'normal record', bytes: record(97, 72), expect: reading([97, 72], { sensor: 'ok' }) },
      { name: 'pulse rate above 127 (9 bits)', bytes: record(93, 300), expect: reading([93, 300], { sensor: 'ok' }) },
      {
        name: 'missing data (SpO2 127, HR 511)',
        bytes: record(null, null),
        expect: reading([null, null], { sensor: 'ok' }),
      },
      ...noninConditions
        .filter(([, formats]) => formats.includes(format))
        .map(([condition, , sensor, stored, unreliable, name]) => ({
          name: condition,
          bytes: record(95, 80, { [condition]: true }),
          expect: reading(stored ? [95, 80] : [null, null], { sensor, unreliable, exceptions: [name] }),
        })),
    ],
    // Text and bytes that never make a frame of this format.
    junk: Buffer.concat([Buffer.from('SPO2=097 HR=072\r\n', 'latin1'), Buffer.from([0x01, 0x02, 0x7f, 0x00, 0x00])]),
  };
}

const contracts: Record<SerialDriverName, Contract> = {
  'masimo-ascii': {
    samples: [
      {
        name: 'ASCII 1 record, SET mode',
        bytes: masimo(0x800),
        expect: reading([97, 72], { sensor: 'ok', exceptions: ['set-mode'] }),
      },
      {
        name: 'absent values (---)',
        bytes: masimo(0x800, null, null),
        expect: reading([null, null], { sensor: 'ok', exceptions: ['set-mode'] }),
      },
      {
        name: 'trend form, 000 is no value',
        bytes: text('09/21/08 09:56:18 SpO2=000 PR=000 PI=00.00 EXC=800:SET'),
        expect: reading([null, null], { sensor: 'ok', exceptions: ['set-mode'] }),
      },
      {
        name: 'trend form, named exceptions',
        bytes: text('09/21/08 09:56:10 SpO2=000 PR=000 PI=00.00 EXC=828:Search,OffPat,SET'),
        expect: reading([null, null], { sensor: 'off', exceptions: ['pulse-search', 'sensor-off', 'set-mode'] }),
      },
      {
        name: 'Radical-5 3-digit word',
        bytes: text('SPO2=097% BPM=072 EXC=820'),
        expect: reading([null, null], { sensor: 'off', exceptions: ['sensor-off', 'set-mode'] }),
      },
      ...masimoBits.map(([bit, name, sensor, stored, unreliable]) => ({
        name: `EXC ${bit.toString(16).padStart(6, '0')} ${name}`,
        bytes: masimo(bit),
        expect: reading(stored ? [97, 72] : [null, null], { sensor, unreliable, exceptions: [name] }),
      })),
      { name: 'not a record', bytes: text('garbled line without fields'), expect: { kind: 'garbage' } },
    ],
    junk: Buffer.from([0x00, 0xff, 0x13, 0x80, 0x1b]),
  },
  'nonin-ascii': {
    samples: [
      { name: 'normal', bytes: Buffer.from(noninLine(97, 72), 'latin1'), expect: reading([97, 72]) },
      { name: 'no data (---)', bytes: Buffer.from(noninLine(null, null), 'latin1'), expect: reading([null, null]) },
      { name: 'fast-response mode (F)', bytes: text('SPO2=096 HR=074 F'), expect: reading([96, 74]) },
      {
        name: 'event marker (*)',
        bytes: Buffer.from(noninLine(95, 71, true), 'latin1'),
        expect: reading([95, 71], { event: true }),
      },
      { name: 'time prefix (8600V, 9847)', bytes: text('12:30:05 SPO2=097 HR=072'), expect: reading([97, 72]) },
      {
        name: 'time prefix, event, breath (9847)',
        bytes: text('12:30:06 SPO2=097 HR=072* B'),
        expect: reading([97, 72], { event: true }),
      },
      { name: 'time prefix, no data', bytes: text('12:30:07 SPO2=--- HR=---'), expect: reading([null, null]) },
      { name: 'power-up header', bytes: text('NONIN MEDICAL, INC.'), expect: { kind: 'header' } },
      { name: 'damaged data line', bytes: text('SPO2=0x7 HR=070'), expect: { kind: 'garbage' } },
    ],
    junk: Buffer.from([0x00, 0xff, 0x13, 0x80, 0x1b]),
  },
  'nonin-binary-1': noninBinaryContract(1),
  'nonin-binary-2': noninBinaryContract(2),
  'nonin-binary-7': noninBinaryContract(7),
  'nonin-binary-8': noninBinaryContract(8),
  jsonl: {
    samples: [
      {
        name: 'observation message',
        bytes: text('{"seq": 1, "obs": [{"code": "spo2", "value": 97, "unit": "%"}]}'),
        expect: { kind: 'message' },
      },
      {
        name: 'absent value (null)',
        bytes: text('{"seq": 2, "obs": [{"code": "spo2", "value": null}]}'),
        expect: { kind: 'message' },
      },
      { name: 'not JSON', bytes: text('SPO2=097 HR=072'), expect: { kind: 'garbage' } },
    ],
    junk: Buffer.from([0x00, 0x13, 0x1b, 0x7f]),
  },
};

/** Plays bytes in chunks through the driver's framer; returns what each record decodes to and the framing faults. */
function play(
  name: SerialDriverName,
  chunks: readonly Buffer[],
): { decoded: Summary[]; faults: Array<[FramingFault, number]> } {
  const driver = serialDrivers[name];
  const faults: Array<[FramingFault, number]> = [];
  const decoded: Summary[] = [];
  const framer = framerFor(driver, 1024, (fault, bytes) => faults.push([fault, bytes]));
  framer.on('data', (record: Buffer) =>
    decoded.push(summary(driver.decode(record.toString(driver.asciiOnly ? 'latin1' : 'utf8'), { deviceClock: 'utc' }))),
  );
  for (const chunk of chunks) framer.write(chunk);
  framer.end();
  return { decoded, faults };
}

const split = (b: Buffer, size: number) =>
  Array.from({ length: Math.ceil(b.length / size) }, (_, i) => b.subarray(i * size, (i + 1) * size));

t.test('every driver has a contract table', async (t) => {
  t.same(Object.keys(contracts).sort(), Object.keys(serialDrivers).sort());
});

for (const [name, contract] of Object.entries(contracts) as Array<[SerialDriverName, Contract]>) {
  t.test(`${name}: each sample decodes as documented`, async (t) => {
    for (const sample of contract.samples) t.same(play(name, [sample.bytes]).decoded, [sample.expect], sample.name);
  });

  t.test(`${name}: the same results in every chunking, one byte at a time to the whole stream`, async (t) => {
    const stream = Buffer.concat(contract.samples.map((s) => s.bytes));
    const expected = contract.samples.map((s) => s.expect);
    for (const size of [1, 2, 3, 4, 5, 7, 13, 64, stream.length]) {
      const { decoded, faults } = play(name, split(stream, size));
      t.same(decoded, expected, `chunks of ${size}`);
      t.same(faults, [], `chunks of ${size}: no framing fault`);
    }
  });

  t.test(`${name}: junk before, between and inside records is dropped and counted; reading resumes`, async (t) => {
    const [first, second] = contract.samples;
    const { decoded, faults } = play(name, [contract.junk, first.bytes, contract.junk, second.bytes]);
    t.same(
      decoded.filter((d) => d.kind !== 'garbage'),
      [first.expect, second.expect].filter((d) => d.kind !== 'garbage'),
      'the records around the junk',
    );
    const counted =
      faults.filter(([f]) => f === 'junk').reduce((n, [, bytes]) => n + bytes, 0) +
      decoded.filter((d) => d.kind === 'garbage').length;
    t.ok(counted > 0, 'the junk is counted (as junk bytes or a refused line)');
    // Junk in the middle of a record loses that record only.
    const torn = Buffer.concat([
      first.bytes.subarray(0, 2),
      Buffer.from([0x00]),
      first.bytes.subarray(2),
      second.bytes,
    ]);
    const after = play(name, split(torn, 3)).decoded.filter((d) => d.kind !== 'garbage');
    t.same(
      after.at(-1),
      second.expect.kind === 'garbage' ? after.at(-1) : second.expect,
      'the record after a damaged one is read whole',
    );
  });

  t.test(`${name}: a record cut by the end of the stream yields nothing and is counted`, async (t) => {
    const { bytes } = contract.samples[0];
    const { decoded, faults } = play(name, [bytes.subarray(0, Math.min(bytes.length - 2, 100))]);
    t.same(
      decoded.filter((d) => d.kind === 'reading'),
      [],
      'no reading from half a record',
    );
    t.ok(
      faults.some(([f]) => f === 'partial'),
      'counted as partial',
    );
  });
}

t.test('binary framers: random bytes in any chunking never throw, and good records after them are read', async (t) => {
  for (const format of [1, 2, 7, 8] as const) {
    const name: SerialDriverName = `nonin-binary-${format}`;
    const good = noninRecord(format, 94, 130);
    // Six records (#1, #8) or six packets (#2, #7: two seconds' worth): at least one is read whatever junk went before.
    const tail = Buffer.concat(Array.from({ length: 6 }, () => good));
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 400 }),
        fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 20 }),
        (junk, sizes) => {
          const stream = Buffer.concat([Buffer.from(junk), tail]);
          const chunks: Buffer[] = [];
          for (let at = 0, i = 0; at < stream.length; at += sizes[i++ % sizes.length])
            chunks.push(stream.subarray(at, at + sizes[i % sizes.length]));
          const { decoded } = play(name, chunks);
          return decoded.some((d) => d.kind === 'reading' && d.values?.[0] === 94 && d.values[1] === 130);
        },
      ),
      { numRuns: 300 },
    );
  }
  t.pass('300 random prefixes and chunkings per format');
});
