// HL7 v2 parsing, PCD-01 mapping, ACKs and MLLP framing, byte by byte.
import t from 'tap';
import fc from 'fast-check';
import { buildAck } from '../../../edge/hl7/ack.js';
import { formatDtm, parseDtm } from '../../../edge/hl7/dtm.js';
import { escape, parseHl7, redactPatientData, unescape, value, DEFAULT_ENCODING } from '../../../edge/hl7/message.js';
import { MllpDecoder, mllpFrame, type MllpFrame } from '../../../edge/hl7/mllp.js';
import { deviceIdOf, mapPcd01, type Pcd01Report } from '../../../edge/hl7/pcd01.js';
import { isRejection } from '../../../shared/timestamp.js';
import { pcd01Message, tenVitals } from '../../../simulators/pcd01.js';

const TS = Date.UTC(2026, 10, 27, 9, 0, 0);
const parse = (text: string) => {
  const m = parseHl7(text);
  if (isRejection(m)) throw new Error(m.message);
  return m;
};
const report = (text: string) => mapPcd01(parse(text)) as Pcd01Report;

t.test('segments, fields and the encoding characters of MSH-1/MSH-2', async (t) => {
  const m = parse('MSH|^~\\&|APP^X|FAC|||20261127||ORU^R01|42|P|2.6\rPID|||123^^^HOSP^MR~9^^^NHS^NH\r');
  t.equal(m.segments.length, 2);
  t.equal(value(m, m.segments[0], 1), '|', 'MSH-1 is the separator');
  t.equal(value(m, m.segments[0], 2), '^~\\&');
  t.equal(value(m, m.segments[0], 3), 'APP');
  t.equal(value(m, m.segments[0], 9, 2), 'R01');
  t.equal(value(m, m.segments[0], 10), '42');
  t.equal(value(m, m.segments[1], 3, 4, 1, 1), 'NHS', 'second repetition');
  // Other delimiters, chosen by the sender: # for fields, $ for components.
  const odd = parse(
    'MSH#$~\\&#APP$X#FAC#####ORU$R01#7#P#2.6\nOBX#1#NM#150456$MDC_PULS_OXIM_SAT_O2$MDC#1.1.1.1#97#%$%$UCUM\n',
  );
  t.equal(value(odd, odd.segments[0], 9, 1), 'ORU');
  t.equal(value(odd, odd.segments[1], 3, 2), 'MDC_PULS_OXIM_SAT_O2', 'LF segment ends tolerated');
  t.equal(value(odd, odd.segments[1], 5), '97');
});

t.test('malformed messages are refused with the field named', async (t) => {
  const cases: Array<[string, string]> = [
    ['PID|||1', 'MSH'],
    ['MSH', 'MSH-1'],
    ['MSHA^~\\&|', 'MSH-1'],
    ['MSH|^~|APP', 'MSH-2'],
    ['MSH|^^\\&|APP', 'MSH-2'],
    ['MSH|^~\\&|APP\rpid|1', 'segment 2'],
  ];
  for (const [text, field] of cases) {
    const m = parseHl7(text);
    t.ok(isRejection(m) && m.code === 'WG_ERR_HL7_FORMAT' && m.field === field, `${JSON.stringify(text)} -> ${field}`);
  }
});

t.test('escape sequences are decoded after splitting, and encoded for ACK text', async (t) => {
  const enc = DEFAULT_ENCODING;
  const cases: Array<[string, string]> = [
    ['a\\F\\b', 'a|b'],
    ['a\\S\\b', 'a^b'],
    ['a\\T\\b', 'a&b'],
    ['a\\R\\b', 'a~b'],
    ['a\\E\\b', 'a\\b'],
    ['\\X4142\\', 'AB'],
    ['x\\.br\\y', 'x\ny'],
    ['\\H\\bold\\N\\', 'bold'],
    ['no end \\F', 'no end \\F'],
    ['plain', 'plain'],
  ];
  for (const [raw, decoded] of cases) t.equal(unescape(raw, enc), decoded, raw);
  t.equal(escape('a|b^c&d~e\\f\rg', enc), 'a\\F\\b\\S\\c\\T\\d\\R\\e\\E\\f g');
  const m = parse('MSH|^~\\&|A||||||ORU^R01|1|P|2.6\rOBX|1|ST|x|1|a\\F\\b^c\r');
  t.equal(value(m, m.segments[1], 5, 1), 'a|b', 'an escaped separator does not split');
  t.equal(value(m, m.segments[1], 5, 2), 'c');
});

t.test('HL7 DTM: precision, offsets, invalid dates', async (t) => {
  t.equal(parseDtm('20261127090000+0000'), TS);
  t.equal(parseDtm('20261127100000.5+0100'), TS + 500);
  t.equal(parseDtm('202611270900-0130'), TS + 90 * 60_000);
  t.equal(parseDtm('20261127'), undefined, 'no offset and no zone: refused, never read in the gateway zone');
  t.equal(
    parseDtm('20261127', { offsetMin: 60 }),
    Date.UTC(2026, 10, 26, 23),
    "no offset: placed by the message's (MSH-7) offset",
  );
  t.equal(
    parseDtm('20261127100000', { timeZone: 'America/Los_Angeles' }),
    Date.UTC(2026, 10, 27, 18),
    'no offset: placed by the sender zone (PST)',
  );
  t.equal(
    parseDtm('20260701100000', { timeZone: 'America/Los_Angeles' }),
    Date.UTC(2026, 6, 1, 17),
    'no offset: placed by the sender zone (PDT)',
  );
  t.equal(
    parseDtm('20261127100000+0200', { timeZone: 'America/Los_Angeles' }),
    Date.UTC(2026, 10, 27, 8),
    'an offset given wins over the zone',
  );
  for (const bad of ['2026113', '20260230', '20261127250000', 'yesterday', '20261127090000+0099'])
    t.equal(parseDtm(bad), undefined, bad);
  // Impossible calendar dates are refused, with or without an offset, not rolled into the next month.
  for (const bad of [
    '20260230120000+0000',
    '20260229',
    '20260431+0200',
    '20261131235959',
    '20260101120000+2400',
    '21000229',
  ])
    t.equal(parseDtm(bad), undefined, bad);
  t.equal(parseDtm('20240229120000+0000'), Date.UTC(2024, 1, 29, 12), 'a real leap day');
  t.equal(parseDtm(formatDtm(TS)), TS, 'ACK time round-trips');
});

t.test('PCD-01: OBX rows become readings per device; hierarchy skipped; PID-3 and PV1-3 read', async (t) => {
  const r = report(
    pcd01Message({
      controlId: 'MSG1',
      ts: TS,
      patient: { id: 'MRN-77', authority: 'HOSP' },
      location: { unit: '3B', room: '12', bed: '12A' },
      equipment: '0012345678ABCDEF',
      metrics: [
        ...tenVitals(0).slice(0, 3),
        { mdc: 150488, refid: 'MDC_PULS_OXIM_PERF_REL', value: 4.1, unit: '%' }, // not in the registry
        { mdc: 150364, refid: 'MDC_TEMP_BODY', value: 98.6, unit: '[degF]', ts: TS + 1000 },
        { mdc: 150392, refid: '', value: 37.2, unit: 'Cel' }, // tympanic: temp again
        { mdc: 151562, refid: 'MDC_RESP_RATE', value: '', unit: [264928, 'MDC_DIM_RESP_PER_MIN'] },
        { mdc: 147842, refid: 'MDC_ECG_HEART_RATE', value: 'n/a', unit: '/min', valueType: 'ST' },
        { mdc: 149530, refid: 'MDC_PULS_OXIM_PULS_RATE', value: 60, unit: '/min', status: 'D' },
      ],
    }),
  );
  t.equal(r.controlId, 'MSG1');
  t.equal(r.sendingApplication, 'MONITOR');
  t.same(r.patient, { id: 'MRN-77', authority: 'HOSP', idType: 'MR' });
  t.same(r.location, { pointOfCare: '3B', room: '12', bed: '12A', facility: '' });
  t.same(r.skipped, { hierarchy: 2, status: 0, 'value-type': 1, 'unknown-code': 1, demo: 0 });
  t.same(r.unmapped, ['150488'], 'the unmapped row is named by its code');
  t.match(
    r.refused,
    [{ segment: 15, field: 11, code: 'WG_ERR_HL7_STATUS', hl7Code: 207 }],
    'OBX-11 D: refused by itself, the other rows kept',
  );
  t.equal(r.groups.length, 2, 'a second temperature starts a second group of the same device');
  t.ok(
    r.groups.every((g) => g.deviceId === '0012345678ABCDEF'),
    'equipment from the MDS row (OBX-18)',
  );
  t.same(r.groups[0].obs, [
    { code: 'hr', value: 70, unit: '/min', ts: TS },
    { code: 'pr', value: 71, unit: '/min', ts: TS },
    { code: 'spo2', value: 92, unit: '%', ts: TS },
    { code: 'temp', value: 98.6, unit: '[degF]', ts: TS + 1000 },
    { code: 'rr', value: null, unit: '/min', ts: TS },
  ]);
  t.same(r.groups[1].obs, [{ code: 'temp', value: 37.2, unit: 'Cel', ts: TS }]);
  t.same(r.groups[1].origins, [{ segment: 12 }], 'the OBX position, for ERR-2');
});

t.test('PCD-01 refusals name the condition, the HL7 error code and the field', async (t) => {
  const base = { controlId: 'X1', ts: TS, metrics: tenVitals(1).slice(0, 1) };
  const msg = pcd01Message(base);
  const cases: Array<[string, string, string, number, string]> = [
    ['ADT message', msg.replace('ORU^R01^ORU_R01', 'ADT^A01^ADT_A01'), 'WG_ERR_HL7_UNSUPPORTED', 200, 'MSH-9'],
    ['other trigger', msg.replace('ORU^R01^ORU_R01', 'ORU^R30'), 'WG_ERR_HL7_UNSUPPORTED', 201, 'MSH-9'],
    ['version 3', msg.replace('|P|2.6|', '|P|3.0|'), 'WG_ERR_HL7_UNSUPPORTED', 203, 'MSH-12'],
    ['no control id', msg.replace('|X1|P|', '||P|'), 'WG_ERR_HL7_FORMAT', 101, 'MSH-10'],
  ];
  for (const [name, text, code, hl7Code, field] of cases) {
    const r = mapPcd01(parse(text));
    t.match(r, { rejection: { code, field }, hl7Code }, name);
  }
  // A row's own faults refuse that row only: the message still maps, and the row is named (segment, field).
  const rows: Array<[string, string, string, number, string, number, number]> = [
    [
      'bad OBR-7',
      msg.replace(/(OBR\|[^\r]*\|)\d{14}\.\d{3}\+0000/, '$1tomorrow'),
      'WG_ERR_TIMESTAMP',
      102,
      'OBR',
      2,
      7,
    ],
    ['text in NM', msg.replace('|1.1.1.1|71|', '|1.1.1.1|7x1|'), 'WG_ERR_SCHEMA', 102, 'OBX', 5, 5],
    [
      'unknown MDC unit',
      msg.replace('264864^MDC_DIM_BEAT_PER_MIN^MDC', '999999^MDC_DIM_X^MDC'),
      'WG_ERR_UNIT',
      103,
      'OBX',
      5,
      6,
    ],
  ];
  for (const [name, text, code, hl7Code, segment, position, field] of rows) {
    const r = mapPcd01(parse(text)) as Pcd01Report;
    t.match(r.refused, [{ code, hl7Code, field, segment: 5, where: { segment, position, field } }], name);
    t.equal(r.groups.length, 0, `${name}: no reading from the refused row`);
  }
});

t.test('the ACK: MSA-2 echoes MSH-10; ERR says why in HL7 and wardgate terms', async (t) => {
  const aa = buildAck({
    code: 'AA',
    controlId: 'MSG|1',
    sendingApplication: ['MON'],
    sendingFacility: ['W'],
    version: '2.6',
    processingId: 'P',
    gatewayId: 'gw',
    ward: '3B',
    ackControlId: 'A1',
    now: TS,
  });
  const [msh, msa] = aa.split('\r');
  t.match(msh, /^MSH\|\^~\\&\|gw\|3B\|MON\|W\|\d{14}[+-]\d{4}\|\|ACK\^R01\^ACK\|A1\|P\|2\.6$/);
  t.equal(msa, 'MSA|AA|MSG\\F\\1', 'the control id escaped');
  const ae = buildAck({
    code: 'AE',
    controlId: 'M2',
    gatewayId: 'gw',
    ward: '3B',
    ackControlId: 'A2',
    now: TS,
    error: {
      code: 'WG_ERR_UNIT',
      message: "'kPa' does not fit spo2",
      hl7Code: 103,
      where: { segment: 'OBX', position: 5, field: 6 },
    },
  });
  const segs = ae.split('\r');
  t.equal(segs[1], "MSA|AE|M2|'kPa' does not fit spo2");
  t.equal(segs[2], "ERR||OBX^5^6|103^Table value not found^HL70357|E|WG_ERR_UNIT^^WARDGATE|||'kPa' does not fit spo2");
  t.ok(ae.endsWith('\r'));
});

t.test('patient segments are blanked for dead letters; device ids are made safe', async (t) => {
  const text = pcd01Message({
    controlId: 'R1',
    ts: TS,
    patient: { id: 'MRN-99', authority: 'HOSP' },
    metrics: tenVitals(0).slice(0, 1),
  });
  const red = redactPatientData(text);
  t.notMatch(red, /MRN-99|Doe/);
  t.match(red, /\rPID\|\[redacted\]\r/);
  t.match(red, /OBX\|3\|NM\|147842/, 'the rest is kept');
  t.equal(deviceIdOf(' 00-12:34 ab '), '00-12-34-ab');
  t.equal(deviceIdOf('^^'), undefined);
});

t.test('dead-letter redaction holds for malformed messages: no MRN or name survives', async (t) => {
  const MSH = 'MSH|^~\\&|MON|WARD|||20261127090000+0000||ORU^R01|R1|P|2.6';
  const OBX = 'OBX|1|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC|1.1.1.1|97|262688^MDC_DIM_PERCENT^MDC|||||R';
  const PID = 'PID|||MRN-4711^^^HOSP^MR||Doe^Jane';
  const cases: Array<[string, string]> = [
    ['lower-case id', `${MSH}\rpid|||MRN-4711^^^HOSP^MR||Doe^Jane\r${OBX}\r`],
    ['junk before the id', `${MSH}\r \u0000PID|||MRN-4711||Doe^Jane\r${OBX}\r`],
    ['no segment terminator before PID', `${MSH}${PID}\r${OBX}\r`],
    ['PID run into an OBX', `${OBX}${PID}\r`],
    ['another field separator', `MSH#^~\\&#MON\rPID###MRN-4711###Doe^Jane\r`],
    ['an alphanumeric separator (unparseable)', `MSHX^~\\&XMON\rPIDXXXMRN-4711XXDoe^Jane\r`],
    ['next of kin and a local Z segment', `${MSH}\rNK1|1|Doe^John|SPO\rZPI|MRN-4711|Doe^Jane\r`],
    ['free text', `${MSH}\r${OBX}\rNTE|1||patient Jane Doe MRN-4711\r`],
    ['visit details after the location', `${MSH}\rPV1|1|I|3B^12^12||||||||||||||||MRN-4711\r`],
    ['PID in a Windows line', `${MSH}\r\n${PID}\r\n`],
    ['a corrupted segment id before PID', `${MSH}\rxPID|||MRN-4711^^^HOSP^MR||Doe^Jane\r`],
  ];
  for (const [name, text] of cases) {
    const red = redactPatientData(text);
    t.notMatch(red, /MRN-4711|Doe|Jane/, name);
  }
  t.match(
    redactPatientData(`${MSH}\rPV1|1|I|3B^12^12||||||||||||||||V123\r${OBX}\r`),
    /\rPV1\|1\|I\|3B\^12\^12\|\[redacted\]\rOBX\|1\|NM/,
    'PV1 keeps the location, OBX is kept',
  );
});

function decode(chunks: Buffer[], max = 1 << 20): { frames: MllpFrame[]; faults: string[] } {
  const frames: MllpFrame[] = [];
  const faults: string[] = [];
  const d = new MllpDecoder({ maxMessageBytes: max, headBytes: 64, onFault: (f, n) => faults.push(`${f}:${n}`) });
  d.on('data', (f: MllpFrame) => frames.push(f));
  for (const c of chunks) d.write(c);
  d.end();
  return { frames, faults };
}

t.test('MLLP: frames across any packet boundary, junk between frames, restarts, truncation, over-long', async (t) => {
  const a = 'MSH|^~\\&|A\rOBX|1\r';
  const b = 'MSH|^~\\&|B\r';
  const stream = Buffer.concat([Buffer.from('junk'), mllpFrame(a), Buffer.from('\r\n'), mllpFrame(b)]);
  for (const size of [1, 2, 3, 7, stream.length]) {
    const chunks: Buffer[] = [];
    for (let i = 0; i < stream.length; i += size) chunks.push(stream.subarray(i, i + size));
    const { frames, faults } = decode(chunks);
    t.same(
      frames.map((f) => f.kind === 'message' && f.message.toString()),
      [a, b],
      `chunks of ${size}`,
    );
    t.equal(
      faults.reduce((n, f) => n + Number(f.split(':')[1]), 0),
      6,
      'junk bytes counted',
    );
  }
  const restart = decode([Buffer.from('\x0bMSH|half'), mllpFrame(b)]);
  t.same(
    restart.frames.map((f) => f.kind === 'message' && f.message.toString()),
    [b],
  );
  t.same(restart.faults, ['restart:8']);
  t.same(decode([Buffer.from('\x0bMSH|cut')]).faults, ['truncated:7']);
  const fsInside = decode([Buffer.from('\x0bA\x1cB\x1c\x0d')]);
  t.same(
    fsInside.frames.map((f) => f.kind === 'message' && f.message.toString()),
    ['A\x1cB'],
    'FS without CR is data',
  );
  const big = decode([mllpFrame('MSH|' + 'x'.repeat(500)), mllpFrame(b)], 200);
  t.equal(big.frames[0].kind, 'overlong');
  t.match(big.frames[0], { size: 504 });
  t.equal(big.frames[0].kind === 'overlong' && big.frames[0].head.length, 64, 'only the head kept');
  t.same(big.frames[1], { kind: 'message', message: Buffer.from(b) }, 'the next frame is read normally');
});

t.test('property: random bytes never throw in the MLLP decoder, the parser or the PCD-01 mapping', async (t) => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 20 }), (chunks) => {
      const { frames } = decode(
        chunks.map((c) => Buffer.from(c)),
        128,
      );
      for (const f of frames) {
        const m = parseHl7((f.kind === 'message' ? f.message : f.head).toString('utf8'));
        if (!isRejection(m)) mapPcd01(m);
      }
    }),
    { numRuns: 2000 },
  );
  // Structured noise: a valid MSH followed by random segments.
  fc.assert(
    fc.property(
      fc.array(
        fc.string({
          unit: fc.constantFrom('|', '^', '~', '\\', '&', 'O', 'B', 'X', '1', '.', 'N', 'M', '\r', '5', ' '),
        }),
        { maxLength: 30 },
      ),
      (parts) => {
        const m = parseHl7(`MSH|^~\\&|A||||||ORU^R01|1|P|2.6\rOBR|1||||||20261127\r${parts.join('')}`);
        if (!isRejection(m)) mapPcd01(m);
      },
    ),
    { numRuns: 2000 },
  );
  t.pass('no exception');
});
