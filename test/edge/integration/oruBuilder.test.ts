// The ORU^R01 the gateway sends to the EHR, read back by an HL7 parser we do
// not ship (@medplum/core): every field a receiving system relies on, the
// escaping of delimiters in every text, and the shape of published PCD-01
// messages (test/corpus/hl7) held against ours.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Hl7Message } from '@medplum/core';
import {
  buildVitalsReport,
  formatValue,
  PCD01_PROFILE,
  type VitalsReportInput,
} from '../../../edge/integration/oruBuilder.js';
import { WARDGATE_BIN } from '../../helpers/gateway.js';

const base: VitalsReportInput = {
  controlId: 'V0001',
  now: Date.parse('2026-12-02T10:00:00Z'),
  header: {
    sendingApplication: 'WARDGATE',
    sendingFacility: '3B',
    receivingApplication: 'EPIC',
    receivingFacility: 'GENERAL',
    processingId: 'P',
  },
  patient: { identifier: 'MRN-1001', authority: 'GENERAL', idType: 'MR', displayName: 'Doe, Jane Q' },
  location: { pointOfCare: '3B', bed: '12', facility: 'GENERAL' },
  status: 'F',
  observer: { id: 'N123', family: 'Smith', given: 'Ann' },
  values: [
    { code: 'hr', value: 72, ts: Date.parse('2026-12-02T09:58:00Z'), deviceId: '0123456789ABCDEF', method: 'device' },
    { code: 'spo2', value: 97, ts: Date.parse('2026-12-02T09:58:30Z'), deviceId: '0123456789ABCDEF', method: 'device' },
    { code: 'rr', value: 18, ts: Date.parse('2026-12-02T09:59:00Z'), deviceId: null, method: 'nurse' },
    { code: 'nibp_sys', value: 121, ts: Date.parse('2026-12-02T09:50:00Z'), deviceId: 'cuff-3', method: 'nurse' },
    { code: 'temp', value: 37.349999, ts: Date.parse('2026-12-02T09:40:00Z'), deviceId: 'therm-1', method: 'device' },
  ],
};

const parse = (text: string) => Hl7Message.parse(text);
const time = (field: string) =>
  Date.parse(field.replace(/^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})([+-]\d{2})(\d{2})$/, '$1-$2-$3T$4:$5:$6$7:$8'));

t.test('MSH, PID, PV1 and OBR carry what an EHR interface engine matches on', async (t) => {
  const msg = parse(buildVitalsReport(base));
  const msh = msg.header;
  t.equal(msh.getField(3).toString(), 'WARDGATE', 'MSH-3 sending application');
  t.equal(msh.getField(4).toString(), '3B', 'MSH-4 sending facility');
  t.equal(msh.getField(5).toString(), 'EPIC', 'MSH-5');
  t.equal(msh.getField(6).toString(), 'GENERAL', 'MSH-6');
  t.equal(time(msh.getField(7).toString()), base.now, 'MSH-7 with its UTC offset');
  t.equal(msh.getField(9).toString(), 'ORU^R01^ORU_R01');
  t.equal(msh.getField(10).toString(), 'V0001', 'MSH-10 control id');
  t.equal(msh.getField(11).toString(), 'P');
  t.equal(msh.getField(12).toString(), '2.6');
  t.equal(msh.getField(15).toString(), 'AL');
  t.equal(msh.getField(16).toString(), 'NE');
  t.equal(msh.getField(21).toString(), PCD01_PROFILE);
  t.equal(msh.getComponent(21, 3), '1.3.6.1.4.1.19376.1.6.1.1.1', 'the PCD-01 profile OID');

  const pid = msg.getSegment('PID')!;
  t.equal(pid.getComponent(3, 1), 'MRN-1001', 'PID-3.1 the real identifier');
  t.equal(pid.getComponent(3, 4), 'GENERAL', 'PID-3.4 assigning authority');
  t.equal(pid.getComponent(3, 5), 'MR', 'PID-3.5 identifier type');
  t.equal(pid.getComponent(5, 1), 'Doe');
  t.equal(pid.getComponent(5, 2), 'Jane');
  t.equal(pid.getComponent(5, 3), 'Q');

  const pv1 = msg.getSegment('PV1')!;
  t.equal(pv1.getField(2).toString(), 'I');
  t.same(
    [1, 2, 3, 4].map((c) => pv1.getComponent(3, c)),
    ['3B', '', '12', 'GENERAL'],
    'PV1-3 point of care ^ room ^ bed ^ facility',
  );

  const obr = msg.getSegment('OBR')!;
  t.equal(obr.getComponent(2, 1), 'V0001');
  t.equal(obr.getComponent(4, 1), '182777000');
  t.equal(obr.getComponent(4, 3), 'SCT');
  t.equal(time(obr.getField(7).toString()), Date.parse('2026-12-02T09:59:00Z'), 'OBR-7 the latest measurement');
  t.equal(obr.getField(25).toString(), 'F', 'OBR-25 result status');
});

t.test('one OBX per vital: MDC and LOINC codes, UCUM units, status, time, observer, method, equipment', async (t) => {
  const msg = parse(buildVitalsReport(base));
  const rows = msg.getAllSegments('OBX');
  t.equal(rows.length, 5);
  const expected = [
    ['147842', 'MDC_ECG_HEART_RATE', '8867-4', '72', '264864', 'MDC_DIM_BEAT_PER_MIN', '/min', 'AMEAS'],
    ['150456', 'MDC_PULS_OXIM_SAT_O2', '59408-5', '97', '262688', 'MDC_DIM_PERCENT', '%', 'AMEAS'],
    ['151562', 'MDC_RESP_RATE', '9279-1', '18', '264928', 'MDC_DIM_RESP_PER_MIN', '/min', 'MMEAS'],
    ['150021', 'MDC_PRESS_BLD_NONINV_SYS', '8480-6', '121', '266016', 'MDC_DIM_MMHG', 'mm[Hg]', 'MMEAS'],
    ['150364', 'MDC_TEMP_BODY', '8310-5', '37.35', '268192', 'MDC_DIM_DEGC', 'Cel', 'AMEAS'],
  ];
  rows.forEach((obx, i) => {
    const [mdc, refid, loinc, value, unit, unitRef, ucum, method] = expected[i];
    t.equal(obx.getField(1).toString(), String(i + 1), 'OBX-1');
    t.equal(obx.getField(2).toString(), 'NM', 'OBX-2');
    t.same(
      [1, 2, 3, 4, 6].map((c) => obx.getComponent(3, c)),
      [mdc, refid, 'MDC', loinc, 'LN'],
      `OBX-3 of ${refid}`,
    );
    t.equal(obx.getField(4).toString(), `1.0.0.${i + 1}`, 'OBX-4 unique per message');
    t.equal(obx.getField(5).toString(), value, 'OBX-5');
    t.same(
      [1, 2, 3, 4, 6].map((c) => obx.getComponent(6, c)),
      [unit, unitRef, 'MDC', ucum, 'UCUM'],
      `OBX-6 of ${refid}`,
    );
    t.equal(obx.getField(11).toString(), 'F', 'OBX-11 final');
    t.equal(time(obx.getField(14).toString()), base.values[i].ts, 'OBX-14 measurement time');
    t.same(
      [1, 2, 3].map((c) => obx.getComponent(16, c)),
      ['N123', 'Smith', 'Ann'],
      'OBX-16 the nurse',
    );
    t.equal(obx.getComponent(17, 1), method, 'OBX-17');
    t.equal(obx.getComponent(18, 1), base.values[i].deviceId ?? '', 'OBX-18 equipment');
  });
});

t.test('unvalidated vitals: status P (or R) in OBR-25 and OBX-11, and no responsible observer', async (t) => {
  for (const status of ['P', 'R'] as const) {
    const { observer: _, ...rest } = base;
    const msg = parse(buildVitalsReport({ ...rest, status }));
    t.equal(msg.getSegment('OBR')!.getField(25).toString(), status);
    for (const obx of msg.getAllSegments('OBX')) {
      t.equal(obx.getField(11).toString(), status);
      t.equal(obx.getField(16).toString(), '');
    }
  }
  t.throws(
    () => buildVitalsReport({ ...base, observer: undefined }),
    /responsible observer/,
    'F without an observer is refused',
  );
  t.throws(() => buildVitalsReport({ ...base, values: [] }), /at least one value/);
});

t.test('delimiters in every text are escaped: nothing shifts a field', async (t) => {
  const hostile = 'a|b^c&d~e\\f';
  const text = buildVitalsReport({
    ...base,
    controlId: 'V|1',
    header: {
      ...base.header,
      sendingApplication: hostile,
      sendingFacility: hostile,
      receivingApplication: hostile,
      receivingFacility: hostile,
    },
    patient: { identifier: hostile, authority: hostile, idType: 'MR', displayName: `${hostile}, ${hostile}` },
    location: { pointOfCare: hostile, bed: hostile, facility: hostile },
    observer: { id: hostile, family: hostile, given: hostile },
    values: [{ ...base.values[0], deviceId: hostile }],
  });
  const msg = parse(text);
  t.equal(text.split('\r').filter(Boolean).length, 5, 'no segment split');
  for (const seg of text.split('\r').filter(Boolean))
    t.notMatch(seg, /a\|b|c&d|d~e/, `${seg.slice(0, 3)}: raw delimiters never appear in a value`);
  t.equal(msg.header.getField(9).toString(), 'ORU^R01^ORU_R01', 'MSH-9 still in place');
  t.equal(msg.header.getField(12).toString(), '2.6', 'MSH-12 still in place');
  const obx = msg.getSegment('OBX')!;
  t.equal(obx.getField(11).toString(), 'F', 'OBX-11 still in place');
  t.equal(obx.getField(5).toString(), '72', 'OBX-5 still in place');
  // Our own reader (the listener's) decodes them back.
  const { parseHl7, value } = await import('../../../edge/hl7/message.js');
  const ours = parseHl7(text);
  if ('code' in ours) throw new Error(ours.message);
  const pid = ours.segments.find((s) => s.id === 'PID');
  t.equal(value(ours, pid, 3, 1), hostile, 'PID-3.1 decodes to the identifier as given');
  t.equal(value(ours, ours.segments[0], 10), 'V|1');
  t.equal(
    value(
      ours,
      ours.segments.find((s) => s.id === 'PV1'),
      3,
      3,
    ),
    hostile,
  );
});

t.test('values: up to two decimals, never an exponent, never NaN', async (t) => {
  t.equal(formatValue(37.349999), '37.35');
  t.equal(formatValue(98), '98');
  t.equal(formatValue(0.1 + 0.2), '0.3');
  t.throws(() => formatValue(Number.NaN));
  t.throws(() => formatValue(Infinity));
});

t.test(
  'held against published PCD-01 messages: same message type, version, profile OID, code systems and unit forms',
  async (t) => {
    const ours = parse(buildVitalsReport(base));
    for (const file of ['nist-pcd01-acme-nibp.hl7', 'linkwatch-pcd01-bp.hl7']) {
      const text = readFileSync(new URL(`../../corpus/hl7/${file}`, import.meta.url), 'utf8')
        .trim()
        .split(/\r?\n/)
        .join('\r');
      const theirs = parse(text);
      t.equal(ours.header.getField(9).toString(), theirs.header.getField(9).toString(), `${file}: MSH-9`);
      t.equal(ours.header.getField(12).toString(), theirs.header.getField(12).toString(), `${file}: MSH-12`);
      const numeric = theirs.getAllSegments('OBX').filter((s) => s.getField(2).toString() === 'NM');
      t.ok(numeric.length > 0);
      for (const row of numeric) t.equal(row.getComponent(3, 3), 'MDC', `${file}: OBX-3 coded in MDC, as ours`);
      // A published row with UCUM puts it in the first or the alternate triplet; ours has UCUM as the alternate.
      const ucum = numeric.find((row) => row.getComponent(6, 3) === 'UCUM' || row.getComponent(6, 6) === 'UCUM');
      if (ucum) t.equal(ours.getSegment('OBX')!.getComponent(6, 6), 'UCUM');
    }
    const nist = parse(
      readFileSync(new URL('../../corpus/hl7/nist-pcd01-acme-nibp.hl7', import.meta.url), 'utf8')
        .trim()
        .split(/\r?\n/)
        .join('\r'),
    );
    t.equal(
      ours.header.getComponent(21, 3),
      nist.header.getComponent(21, 3),
      'MSH-21: the PCD-01 profile OID of the NIST example (LinkWatch names an older one)',
    );
    t.equal(
      ours.getSegment('OBR')!.getField(4).toString(),
      nist.getSegment('OBR')!.getField(4).toString(),
      'OBR-4 as the NIST PCD-01 example says it',
    );
    const sys = nist.getAllSegments('OBX').find((s) => s.getComponent(3, 2) === 'MDC_PRESS_BLD_NONINV_SYS')!;
    const oursSys = ours.getAllSegments('OBX').find((s) => s.getComponent(3, 2) === 'MDC_PRESS_BLD_NONINV_SYS')!;
    t.equal(oursSys.getComponent(3, 1), sys.getComponent(3, 1), 'the same MDC code for systolic pressure');
    t.equal(oursSys.getComponent(6, 4), sys.getComponent(6, 1), 'the same UCUM unit for it');
  },
);

t.test('a correction of a charted value: OBX-11 C on its row, F on the others, OBR-25 C', async (t) => {
  const [hr, spo2] = base.values;
  const msg = parse(buildVitalsReport({ ...base, values: [{ ...hr, correction: true }, spo2] }));
  t.same(
    msg.getAllSegments('OBX').map((o) => o.getField(11).toString()),
    ['C', 'F'],
  );
  t.equal(msg.getSegment('OBR')!.getField(25).toString(), 'C');
  t.throws(
    () => buildVitalsReport({ ...base, status: 'P', observer: undefined, values: [{ ...hr, correction: true }] }),
    /only a validated report/,
    'an unvalidated report corrects nothing',
  );
});

t.test(
  'held against the IHE PCD-01 example (AcmeInc blood pressure): the gateway reads it, and ours matches it',
  async (t) => {
    const file = new URL('../../corpus/hl7/ihe-pcd01-acmeinc-bp.hl7', import.meta.url).pathname;
    // What the gateway would store of it, by the code its PCD-01 listener runs (wardgate check hl7).
    const checked = spawnSync(process.execPath, [WARDGATE_BIN, 'check', 'hl7', '--json', file], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    t.equal(checked.status, 0, 'nothing refused');
    const report = JSON.parse(checked.stdout) as {
      files: Array<{ messages: Array<{ ack: string; stored: Array<{ code: string; value: number; unit: string }> }> }>;
    };
    const read = report.files[0].messages[0];
    t.equal(read.ack, 'AA');
    t.same(
      read.stored.map((s) => [s.code, s.value, s.unit]),
      [
        ['nibp_sys', 120, 'mm[Hg]'],
        ['nibp_dia', 80, 'mm[Hg]'],
        ['nibp_map', 100, 'mm[Hg]'],
      ],
    );

    const theirs = parse(readFileSync(file, 'utf8').trim().split(/\r?\n/).join('\r'));
    const ts = Date.parse('2026-12-02T09:50:00Z');
    const ours = parse(
      buildVitalsReport({
        ...base,
        values: (['nibp_sys', 'nibp_dia', 'nibp_map'] as const).map((code, i) => ({
          code,
          value: [120, 80, 100][i],
          ts,
          deviceId: 'cuff-3',
          method: 'device' as const,
        })),
      }),
    );
    t.equal(ours.header.getField(9).toString(), theirs.header.getField(9).toString(), 'MSH-9');
    t.equal(ours.header.getField(12).toString(), theirs.header.getField(12).toString(), 'MSH-12');
    for (const msg of [ours, theirs])
      t.ok(
        [1, 4, 5].every((c) => msg.getSegment('PID')!.getComponent(3, c) !== ''),
        'PID-3: identifier ^^^ authority ^ type code, in both',
      );
    const rows = (msg: Hl7Message) => msg.getAllSegments('OBX').filter((o) => o.getField(2).toString() === 'NM');
    const [mine, published] = [rows(ours), rows(theirs)];
    t.equal(mine.length, published.length);
    mine.forEach((o, i) => {
      const p = published[i];
      for (const c of [1, 2, 3])
        t.equal(o.getComponent(3, c), p.getComponent(3, c), `${p.getComponent(3, 2)}: OBX-3.${c}`);
      for (const c of [1, 2, 3])
        t.equal(o.getComponent(6, c), p.getComponent(6, c), `${p.getComponent(3, 2)}: OBX-6.${c}, the MDC unit first`);
      t.equal(o.getField(5).toString(), p.getField(5).toString(), `${p.getComponent(3, 2)}: OBX-5`);
    });
  },
);
