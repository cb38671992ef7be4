// Serial framing and drivers, byte by byte: split chunks, junk, over-long and
// partial lines, absent values, every Masimo EXC flag; random bytes never throw.
import t from 'tap';
import fc from 'fast-check';
import { LineFramer } from '../../../edge/serial/lineFramer.js';
import type { DecodeContext } from '../../../edge/serial/driver.js';
import { serialDrivers } from '../../../edge/serial/driverRegistry.js';
import { sensorFromExc } from '../../../edge/serial/drivers/masimoAscii.js';
import { ArrivalSeq, contentSeq, seqSecond } from '../../../edge/ingest/derivedSeq.js';
import { masimoLine, noninHeader, noninLine } from '../../../simulators/serialLines.js';

function frame(chunks: Array<Buffer | string>, maxLineBytes = 64, asciiOnly = true) {
  const lines: string[] = [];
  const faults: string[] = [];
  const f = new LineFramer({ maxLineBytes, asciiOnly, onFault: (kind, n) => faults.push(`${kind}:${n}`) });
  f.on('data', (l: Buffer) => lines.push(l.toString('latin1')));
  for (const c of chunks) f.write(typeof c === 'string' ? Buffer.from(c, 'latin1') : c);
  f.end();
  return { lines, faults };
}

const splits = (s: string, size: number) =>
  Array.from({ length: Math.ceil(s.length / size) }, (_, i) => s.slice(i * size, (i + 1) * size));

t.test('lines across any chunking; CR, LF and CR LF ends; blank lines ignored', async (t) => {
  const stream = 'SPO2=097 HR=072\r\nSPO2=096 HR=071\nSPO2=095 HR=070\r\r\n';
  for (const size of [1, 2, 5, 16, stream.length]) {
    t.same(
      frame(splits(stream, size)),
      { lines: ['SPO2=097 HR=072', 'SPO2=096 HR=071', 'SPO2=095 HR=070'], faults: [] },
      `chunks of ${size}`,
    );
  }
});

t.test('junk: control and non-ASCII bytes drop the damaged partial line; the next line is read whole', async (t) => {
  t.same(frame(['\x00\xff\x13SPO2=097 HR=072\r\n']), { lines: ['SPO2=097 HR=072'], faults: ['junk:3'] });
  t.same(
    frame(['SPO2=0', '\x009', '7 HR=072\r\nSPO2=098 HR=070\r\n']),
    { lines: ['97 HR=072', 'SPO2=098 HR=070'], faults: ['junk:7'] },
    'the line after junk restarts there',
  );
  t.same(
    frame([Buffer.from('\t{"a": "µ"}\n', 'utf8')], 64, false).lines,
    ['\t{"a": "Âµ"}'],
    'UTF-8 bytes and tabs pass where the driver allows them',
  );
  t.same(
    frame([Buffer.from('{"a": "µ"}\n', 'utf8')], 64, true),
    { lines: ['"}'], faults: ['junk:9'] },
    'but not on a vendor ASCII port',
  );
});

t.test(
  'over-long lines are skipped to their end and counted; partial lines at the end of a stream are counted',
  async (t) => {
    t.same(frame(['x'.repeat(100), '\r\nSPO2=097 HR=072\r\n'], 64), {
      lines: ['SPO2=097 HR=072'],
      faults: ['overlong:100'],
    });
    t.same(frame(['x'.repeat(64), '\r\n'], 64), { lines: ['x'.repeat(64)], faults: [] }, 'exactly the limit is a line');
    t.same(frame(['SPO2=097 HR=072\r\nSPO2=09']), { lines: ['SPO2=097 HR=072'], faults: ['partial:7'] });
    t.same(frame(['x'.repeat(80)], 64), { lines: [], faults: ['overlong:80'] });
  },
);

const ctx: DecodeContext = { deviceClock: 'utc' };
const T0 = Date.UTC(2026, 10, 27, 9, 0, 5);

t.test('masimo-ascii: fields, device time, absent values, the trend form, garbage', async (t) => {
  const decode = (l: string, c = ctx) => serialDrivers['masimo-ascii'].decode(l, c);
  t.same(decode(masimoLine({ ts: T0, spo2: 97, pr: 72, exc: 0x800, utc: true }).trim()), {
    kind: 'reading',
    deviceTs: T0,
    obs: [
      { code: 'spo2', value: 97, unit: '%' },
      { code: 'pr', value: 72, unit: '/min' },
    ],
    sensor: 'ok',
    exceptions: ['set-mode'],
  });
  t.match(decode(masimoLine({ ts: T0, spo2: null, pr: null, exc: 0x020, utc: true }).trim()), {
    obs: [{ value: null }, { value: null }],
    sensor: 'off',
  });
  t.match(decode('SpO2=097 PR=069 PI=04.69 EXC=800:SET'), {
    kind: 'reading',
    obs: [{ value: 97 }, { value: 69 }],
    sensor: 'ok',
  });
  t.notOk('deviceTs' in decode('SpO2=097 PR=069'), 'no time in the line: none invented');
  t.notOk(
    'deviceTs' in decode(masimoLine({ ts: T0, spo2: 97, pr: 72, utc: true }).trim(), { deviceClock: 'ignore' }),
    'deviceClock: ignore',
  );
  t.equal(
    (decode('11/27/26 09:00:05 SPO2=097% BPM=072', { deviceClock: 'local' }) as { deviceTs: number }).deviceTs,
    new Date(2026, 10, 27, 9, 0, 5).getTime(),
  );
  const garbage = [
    '02/30/26 09:00:00 SPO2=097% BPM=072',
    'SPO2=097% HR',
    'SPO2=0x7% BPM=072',
    'BPM=072',
    'SPO2=097 BPM=072 EXC=zz',
    'hello world',
    '06/01/26 09:00:0',
  ];
  for (const g of garbage) t.equal(decode(g).kind, 'garbage', g);
});

t.test(
  'masimo-ascii: which sensor state wins, exception words of every length (each bit: test/edge/serial/driverContract.test.ts)',
  async (t) => {
    t.equal(sensorFromExc(0x001 | 0x020 | 0x002), 'absent', 'no sensor outranks sensor off and a fault');
    t.equal(sensorFromExc(0x020 | 0x080), 'off', 'sensor off outranks an unusable sensor');
    t.equal(sensorFromExc(0x1000 | 0x10000), 'absent', 'no cable outranks a defective one');
    t.match(
      serialDrivers['masimo-ascii'].decode('SPO2=097% BPM=072 EXC=0001800', ctx),
      { sensor: 'absent', exceptions: ['set-mode', 'no-cable'] },
      'a 7-digit word (touch-screen models)',
    );
    t.match(
      serialDrivers['masimo-ascii'].decode('SPO2=097% BPM=072 EXC=0020800 EXC1=00000000', ctx),
      { sensor: 'ok', exceptions: ['set-mode', 'sensor-calibrating'] },
      'with an EXC1 word beside it',
    );
    t.match(
      serialDrivers['masimo-ascii'].decode('SPO2=097% BPM=072 EXC=200', ctx),
      { sensor: 'ok', exceptions: [] },
      'the reserved bit names nothing',
    );
  },
);

t.test('nonin-ascii: values, ---, the event marker, the power-up header, damaged lines', async (t) => {
  const decode = (l: string) => serialDrivers['nonin-ascii'].decode(l, ctx);
  t.same(decode(noninLine(97, 72).trim()), {
    kind: 'reading',
    obs: [
      { code: 'spo2', value: 97, unit: '%' },
      { code: 'pr', value: 72, unit: '/min' },
    ],
  });
  t.match(decode(noninLine(null, null).trim()), { obs: [{ value: null }, { value: null }] });
  t.match(decode(noninLine(95, 70, true).trim()), { event: true });
  for (const h of noninHeader(T0)) t.same(decode(h.trim()), { kind: 'header' }, h.trim());
  for (const g of ['SPO2=97', 'SPO2=0x7 HR=070', 'HR=070 SPO2=097']) t.equal(decode(g).kind, 'garbage', g);
});

t.test('jsonl: JSON objects pass to the validator; anything else is garbage', async (t) => {
  const decode = (l: string) => serialDrivers.jsonl.decode(l, ctx);
  t.same(decode(' {"seq":1} '), { kind: 'message', payload: Buffer.from('{"seq":1}') });
  t.equal(decode('seq=1').kind, 'garbage');
});

t.test(
  'derived seqs: stable for the same content and time, distinct otherwise; arrival seqs strictly increase',
  async (t) => {
    const line = masimoLine({ ts: T0, spo2: 97, pr: 72, utc: true });
    t.equal(contentSeq(T0, line), contentSeq(T0 + 999, line), 'same second, same line: same seq');
    t.not(contentSeq(T0, line), contentSeq(T0, line.replace('097', '096')));
    t.equal(seqSecond(contentSeq(T0, line)), Math.floor(T0 / 1000) * 1000);
    t.ok(contentSeq(T0 + 1000, 'a') > contentSeq(T0, 'b'), 'later seconds sort after');
    t.ok(Number.isSafeInteger(contentSeq(Date.UTC(2200, 0, 1), 'x')), 'a safe integer for two centuries');
    const arrival = new ArrivalSeq();
    const seqs = [T0, T0, T0 + 10, T0 - 5000, T0 + 2000].map((ms) => arrival.next(ms));
    t.ok(
      seqs.every((s, i) => i === 0 || s > seqs[i - 1]),
      'strictly increasing, even when the clock steps back',
    );
    const resumed = new ArrivalSeq(seqs[seqs.length - 1]);
    t.ok(resumed.next(T0 - 60_000) > seqs[seqs.length - 1], 'resumes above the last stored seq');
  },
);

t.test('property: random bytes through framer and every driver never throw', async (t) => {
  const all = Object.values(serialDrivers);
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 80 }), { maxLength: 12 }), fc.boolean(), (chunks, ascii) => {
      const { lines } = frame(
        chunks.map((c) => Buffer.from(c)),
        64,
        ascii,
      );
      for (const l of lines)
        for (const d of all)
          for (const clock of ['local', 'utc', 'ignore'] as const) d.decode(l, { deviceClock: clock });
    }),
    { numRuns: 3000 },
  );
  fc.assert(
    fc.property(
      fc.array(
        fc.constantFrom(
          'SPO2=',
          'BPM=',
          'HR=',
          'EXC=',
          '097',
          '---',
          '%',
          ' ',
          '*',
          '/',
          ':',
          '11',
          '--.-',
          '\r\n',
          'Z',
        ),
        { maxLength: 30 },
      ),
      (parts) => {
        for (const l of frame([parts.join('')]).lines) for (const d of all) d.decode(l, ctx);
      },
    ),
    { numRuns: 3000 },
  );
  t.pass('no exception');
});
