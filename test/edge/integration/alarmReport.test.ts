// The PCD-04 report as a receiving alarm manager reads it: parsed by an HL7
// implementation wardgate does not use (@medplum/core), field by field.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { Hl7Message } from '@medplum/core';
import type { AlarmEvent, AlarmPhase } from '../../../edge/alarms/types.js';
import {
  acmFacets,
  buildAlarmReport,
  limitSide,
  type AlarmReportInput,
} from '../../../edge/integration/alarmReport.js';
import { readAlarmStatus } from '../../../edge/integration/alarmStatus.js';
import { parseHl7 } from '../../../edge/hl7/message.js';
import { alarmHarness, nurseCallHeader } from '../../helpers/alarms.js';

const base: AlarmEvent = {
  seq: 7,
  alarmId: '3f2b8c1e-5a7d-4c2e-9b1a-0d6e4f8a2c11',
  phase: 'raised',
  ts: Date.UTC(2026, 11, 2, 9, 30, 5),
  by: null,
  bed: '12',
  deviceId: 'pox-12',
  kind: 'physiological',
  rule: 'limit',
  metric: 'spo2',
  priority: 'high',
  state: 'active',
  message: 'SpO2 low: 85 % (limit <= 88)',
  value: 85,
  escalations: 0,
};

function input(over: Partial<AlarmReportInput> = {}, event: Partial<AlarmEvent> = {}): AlarmReportInput {
  return {
    event: { ...base, ...event },
    key: '12:limit:spo2',
    raisedAt: base.ts,
    controlId: 'AM7',
    now: base.ts + 20,
    header: nurseCallHeader,
    location: { pointOfCare: '3B', room: '', bed: '12', facility: 'HOSP' },
    patient: { identifier: 'MRN-0042', authority: 'HOSP' },
    assigner: 'gw-3b',
    ...over,
  };
}

const parse = (text: string) => Hl7Message.parse(text);
const obx = (msg: Hl7Message, n: number) => msg.getAllSegments('OBX')[n - 1];

t.test('a raised SpO2 alarm: MSH, PID, PV1, OBR and the seven ACM facets', async (t) => {
  const text = buildAlarmReport(input());
  t.ok(text.endsWith('\r') && !text.includes('\n'), 'segments end with CR');
  const msg = parse(text);
  const msh = msg.header;
  t.equal(msh.getField(3).toString(), 'WARDGATE');
  t.equal(msh.getField(4).toString(), '3B');
  t.equal(msh.getField(5).toString(), 'NURSECALL');
  t.equal(msh.getField(6).toString(), 'HOSP');
  t.equal(msh.getField(9).toString(), 'ORU^R40^ORU_R40');
  t.equal(msh.getField(10).toString(), 'AM7');
  t.equal(msh.getField(11).toString(), 'P');
  t.equal(msh.getField(12).toString(), '2.6');
  t.equal(msh.getField(15).toString(), 'AL');
  t.equal(msh.getField(16).toString(), 'NE');
  t.equal(msh.getField(21).toString(), 'IHE_PCD_ACM_001^IHE PCD^1.3.6.1.4.1.19376.1.6.4.4^ISO');

  const pid = msg.getSegment('PID')!;
  t.equal(pid.getComponent(3, 1), 'MRN-0042');
  t.equal(pid.getComponent(3, 4), 'HOSP');
  t.equal(pid.getComponent(3, 5), 'MR');
  const pv1 = msg.getSegment('PV1')!;
  t.equal(pv1.getField(2).toString(), 'I');
  t.same(
    [1, 2, 3, 4].map((c) => pv1.getComponent(3, c)),
    ['3B', '', '12', 'HOSP'],
  );

  const obr = msg.getSegment('OBR')!;
  t.equal(obr.getComponent(3, 1), base.alarmId, 'OBR-3 filler order number: the alarm id');
  t.equal(obr.getComponent(3, 2), 'gw-3b');
  t.equal(obr.getComponent(2, 1), base.alarmId);
  t.equal(obr.getField(4).toString(), '196616^MDC_EVT_ALARM^MDC');
  t.match(obr.getField(7).toString(), /^20261202\d{6}[+-]\d{4}$/, 'OBR-7 the event time with its offset');

  const rows = msg.getAllSegments('OBX');
  t.equal(rows.length, 7);
  t.same(
    rows.map((r) => r.getField(4).toString()),
    ['1.0.0.0.1', '1.0.0.0.2', '1.0.0.0.3', '1.0.0.0.4', '1.0.0.0.5', '1.0.0.0.6', '1.0.0.0.7'],
  );
  t.ok(
    rows.every((r) => r.getField(11).toString() === 'R'),
    'OBX-11 R on every row',
  );
  t.ok(
    rows.every((r) => r.getComponent(18, 1) === 'pox-12'),
    'OBX-18 the device',
  );

  const type = obx(msg, 1);
  t.equal(type.getField(3).toString(), '196672^MDC_EVT_LO_LT_LIM^MDC', 'low limit');
  t.equal(type.getField(5).toString(), 'SpO2 low: 85 % (limit <= 88)');
  t.same(type.getField(8).toString().split('~'), ['L', 'PH', 'SP'], 'OBX-8: abnormality, priority, source');

  const source = obx(msg, 2);
  t.equal(source.getField(2).toString(), 'NM');
  t.same(
    [1, 2, 3, 4, 5, 6].map((c) => source.getComponent(3, c)),
    ['150456', 'MDC_PULS_OXIM_SAT_O2', 'MDC', '59408-5', 'SpO2', 'LN'],
    'MDC and LOINC',
  );
  t.equal(source.getField(5).toString(), '85');
  t.same(
    [1, 2, 3, 4, 5, 6].map((c) => source.getComponent(6, c)),
    ['262688', 'MDC_DIM_PERCENT', 'MDC', '%', '%', 'UCUM'],
    'MDC and UCUM unit',
  );

  t.same(
    [3, 4, 5, 6, 7].map((n) => [obx(msg, n).getComponent(3, 2), obx(msg, n).getField(5).toString()]),
    [
      ['MDC_ATTR_EVENT_PHASE', 'start'],
      ['MDC_ATTR_ALARM_STATE', 'active'],
      ['MDC_ATTR_ALARM_INACTIVATION_STATE', 'enabled'],
      ['MDC_ATTR_ALARM_PRIORITY', 'PH'],
      ['MDC_ATTR_ALERT_TYPE', 'SP'],
    ],
  );
});

t.test('each lifecycle event is one message with its ACM phase and states', async (t) => {
  const cases: Array<[AlarmPhase, AlarmEvent['state'], string, string, string]> = [
    ['raised', 'active', 'start', 'active', 'enabled'],
    ['escalated', 'active', 'escalate', 'active', 'enabled'],
    ['updated', 'active', 'update', 'active', 'enabled'],
    ['latched', 'latched', 'update', 'latched', 'enabled'],
    ['acknowledged', 'acknowledged', 'update', 'active', 'alert-acknowledged'],
    ['cleared', 'cleared', 'end', 'inactive', 'enabled'],
  ];
  for (const [phase, state, acmPhase, acmState, inactivation] of cases) {
    const msg = parse(buildAlarmReport(input({}, { phase, state })));
    t.same(
      [3, 4, 5].map((n) => obx(msg, n).getField(5).toString()),
      [acmPhase, acmState, inactivation],
      phase,
    );
    t.same(acmFacets(phase, state), { phase: acmPhase, state: acmState, inactivation }, `${phase} facets`);
  }
});

t.test('priorities, high limits, units per metric, technical alarms', async (t) => {
  const high = parse(
    buildAlarmReport(
      input(
        { key: '4:limit:hr' },
        { metric: 'hr', message: 'Heart rate high: 131 /min (limit >= 131)', value: 131, priority: 'medium' },
      ),
    ),
  );
  t.equal(obx(high, 1).getField(3).toString(), '196650^MDC_EVT_HI_GT_LIM^MDC');
  t.same(obx(high, 1).getField(8).toString().split('~'), ['H', 'PM', 'SP']);
  t.equal(obx(high, 2).getComponent(3, 1), '147842');
  t.equal(obx(high, 2).getComponent(3, 4), '8867-4');
  t.same(
    [1, 2, 4].map((c) => obx(high, 2).getComponent(6, c)),
    ['264864', 'MDC_DIM_BEAT_PER_MIN', '/min'],
  );

  const rr = parse(
    buildAlarmReport(
      input(
        { key: '4:limit:rr' },
        { metric: 'rr', message: 'Respiration rate high: 25 /min (limit >= 25)', value: 25, priority: 'low' },
      ),
    ),
  );
  t.equal(obx(rr, 2).getComponent(6, 2), 'MDC_DIM_RESP_PER_MIN', 'breaths, not beats');
  t.equal(obx(rr, 6).getField(5).toString(), 'PL');

  const temp = parse(
    buildAlarmReport(
      input(
        { key: '4:limit:temp' },
        { metric: 'temp', message: 'Temperature high: 39.2 Cel (limit >= 39.1)', value: 39.2 },
      ),
    ),
  );
  t.same(
    [1, 2, 4].map((c) => obx(temp, 2).getComponent(6, c)),
    ['268192', 'MDC_DIM_DEGC', 'Cel'],
  );
  t.equal(obx(temp, 2).getField(5).toString(), '39.2');

  const silent = parse(
    buildAlarmReport(
      input(
        { key: 'device:pox-12:silent' },
        {
          kind: 'technical',
          rule: 'device-silent',
          metric: null,
          value: null,
          priority: 'medium',
          message: 'Device pox-12 silent for 30 s',
        },
      ),
    ),
  );
  t.equal(
    obx(silent, 1).getField(3).toString(),
    '258047^MDC_EVT_NOS^MDC',
    'no specific code: not otherwise specified, the text says',
  );
  t.same(obx(silent, 1).getField(8).toString().split('~'), ['PM', 'ST']);
  t.equal(obx(silent, 2).getField(3).toString(), '68480^MDC_ATTR_ALERT_SOURCE^MDC');
  t.equal(obx(silent, 2).getField(5).toString(), 'pox-12');
  t.equal(obx(silent, 7).getField(5).toString(), 'ST');

  const battery = parse(
    buildAlarmReport(
      input(
        { key: 'device:pox-12:battery' },
        {
          kind: 'technical',
          rule: 'battery',
          metric: null,
          value: 8,
          priority: 'low',
          message: 'Device pox-12: battery 8 %',
        },
      ),
    ),
  );
  t.equal(obx(battery, 1).getField(3).toString(), '196802^MDC_EVT_BATT_LO^MDC');

  const news2 = parse(
    buildAlarmReport(
      input({ key: '12:news2' }, { rule: 'news2', metric: 'news2', value: 7, message: 'NEWS2 7: emergency response' }),
    ),
  );
  t.equal(obx(news2, 1).getField(3).toString(), '258047^MDC_EVT_NOS^MDC');
  t.equal(obx(news2, 1).getField(8).toString(), 'PH~SP', 'no limit side');
  t.equal(obx(news2, 2).getComponent(3, 2), 'MDC_ATTR_ALERT_SOURCE', 'NEWS2 has no MDC code: the source names it');
});

t.test('no patient in the bed: PID-3 empty, the location still there', async (t) => {
  const msg = parse(buildAlarmReport(input({ patient: undefined })));
  t.equal(msg.getSegment('PID')!.getField(3).toString(), '');
  t.equal(msg.getSegment('PV1')!.getComponent(3, 3), '12');
});

t.test('delimiters inside values are escaped, so no field splits', async (t) => {
  const text = buildAlarmReport(
    input(
      {
        patient: { identifier: 'A|B^C', authority: 'H&S' },
        header: {
          sendingApplication: 'WG~1',
          sendingFacility: '3B',
          receivingApplication: 'N\\C',
          receivingFacility: '',
          processingId: 'T',
        },
      },
      { message: 'SpO2 low: 85 % | see ^bed~12 & \\co', deviceId: 'pox|12' },
    ),
  );
  const msg = parse(text);
  t.equal(msg.header.getField(3).toString(), 'WG\\R\\1', 'escaped on the wire');
  t.equal(msg.header.getField(11).toString(), 'T');
  t.equal(msg.getAllSegments('OBX').length, 7);
  t.equal(obx(msg, 1).getField(5).toString(), 'SpO2 low: 85 % \\F\\ see \\S\\bed\\R\\12 \\T\\ \\E\\co');
  t.equal(msg.getSegment('PID')!.getComponent(3, 1), 'A\\F\\B\\S\\C');
  t.equal(obx(msg, 3).getField(5).toString(), 'start', 'the rows after the text are where they belong');
});

t.test(
  'the limit side comes from the limit the engine gives; an event recorded before the store kept limits, from its text',
  async (t) => {
    const limit = { side: 'high', value: 131 } as const;
    t.equal(limitSide({ rule: 'limit', message: 'whatever the text says', limit }), 'high', 'the data, not the text');
    t.equal(limitSide({ rule: 'limit', message: 'SpO2 low: 85 % (limit <= 88)' }), 'low', 'no limit recorded');
    t.equal(limitSide({ rule: 'limit', message: 'Heart rate high: 131 /min (limit >= 131)' }), 'high');
    t.equal(limitSide({ rule: 'rate', message: 'Heart rate rose 30 /min within 10 min (now 120)' }), undefined);
    t.equal(limitSide({ rule: 'news2', message: 'NEWS2 7: emergency response' }), undefined);
  },
);

t.test(
  "a limit alarm's report from the engine's own events: the side in OBX-3 and OBX-8, the limit in OBX-7",
  async (t) => {
    const h = alarmHarness({ limits: { rr: { low: 8, high: 24, delayMs: 0 } } });
    h.obs('mon-1', { rr: 27 });
    h.obs('mon-1', { rr: 16 });
    h.obs('mon-1', { rr: 6 });
    t.same(
      h.events.map((e) => [e.phase, e.limit]),
      [
        ['raised', { side: 'high', value: 24 }],
        ['cleared', { side: 'high', value: 24 }],
        ['raised', { side: 'low', value: 8 }],
      ],
      'every event of a limit alarm carries its side and limit',
    );
    const report = (event: AlarmEvent) =>
      parse(
        buildAlarmReport(
          input({ key: `1:limit:${event.metric}` }, { ...event, message: 'Respiration rate out of range' }),
        ),
      );
    const [high, , low] = h.events.map(report);
    t.equal(obx(high, 1).getField(3).toString(), '196650^MDC_EVT_HI_GT_LIM^MDC', 'the side, whatever the text');
    t.equal(obx(high, 1).getComponent(8, 1), 'H');
    t.equal(obx(high, 2).getField(5).toString(), '27');
    t.equal(obx(high, 2).getField(7).toString(), '<24', 'OBX-7: the values inside the high limit');
    t.equal(obx(low, 1).getField(3).toString(), '196672^MDC_EVT_LO_LT_LIM^MDC');
    t.equal(obx(low, 1).getComponent(8, 1), 'L');
    t.equal(obx(low, 2).getField(7).toString(), '>8', 'OBX-7: the values inside the low limit');

    // An event recorded before the store kept limits: the side from the text, no OBX-7.
    const recorded = parse(buildAlarmReport(input({}, { limit: undefined })));
    t.equal(obx(recorded, 1).getField(3).toString(), '196672^MDC_EVT_LO_LT_LIM^MDC');
    t.equal(obx(recorded, 2).getField(7).toString(), '');
  },
);

// The IHE ACM example reports (test/corpus/hl7/README.md): a Mindray limit
// alarm laid out as ours (the event in OBX-3 of row 1, the parameter in row
// 2), and a B.Braun technical alarm's start and end.
const published = (name: string) =>
  readFileSync(new URL(`../../corpus/hl7/${name}`, import.meta.url), 'utf8')
    .trim()
    .split(/\r?\n/)
    .join('\r') + '\r';
const facetRows = (msg: Hl7Message) =>
  new Map(
    msg
      .getAllSegments('OBX')
      .filter((r) => r.getComponent(3, 2).startsWith('MDC_ATTR_'))
      .map((r) => [r.getComponent(3, 2), r] as const),
  );

t.test('held against the IHE ACM example reports: the same fields in the same places', async (t) => {
  const mindray = parse(published('ihe-acm-mindray-pcd04-spo2-low.hl7'));
  const ours = parse(buildAlarmReport(input({}, { priority: 'medium' })));
  for (const field of [9, 12, 15, 16])
    t.equal(ours.header.getField(field).toString(), mindray.header.getField(field).toString(), `MSH-${field}`);
  for (const c of [1, 2, 4])
    t.equal(ours.header.getComponent(21, c), mindray.header.getComponent(21, c), `MSH-21.${c} the ACM profile`);
  t.equal(ours.getSegment('OBR')!.getField(4).toString(), mindray.getSegment('OBR')!.getField(4).toString(), 'OBR-4');

  const [oursType, theirType] = [obx(ours, 1), obx(mindray, 1)];
  t.equal(oursType.getField(2).toString(), theirType.getField(2).toString(), 'row 1: ST');
  t.equal(oursType.getComponent(3, 3), 'MDC');
  t.match(theirType.getComponent(3, 2), /^MDC_EVT_LO/, 'theirs: a low event in OBX-3');
  t.match(oursType.getComponent(3, 2), /^MDC_EVT_LO/, 'ours: a low event in OBX-3');
  t.equal(oursType.getField(8).toString(), theirType.getField(8).toString(), 'OBX-8 L~PM~SP: side, priority, source');

  const [oursSource, theirSource] = [obx(ours, 2), obx(mindray, 2)];
  for (const c of [1, 2, 3])
    t.equal(oursSource.getComponent(3, c), theirSource.getComponent(3, c), `row 2: OBX-3.${c} the SpO2 code`);
  t.equal(oursSource.getField(2).toString(), 'NM');
  for (const c of [1, 2, 3])
    t.equal(oursSource.getComponent(6, c), theirSource.getComponent(6, c), `row 2: OBX-6.${c} the MDC unit`);

  const theirs = facetRows(mindray);
  const mine = facetRows(ours);
  for (const name of ['MDC_ATTR_EVENT_PHASE', 'MDC_ATTR_ALARM_STATE', 'MDC_ATTR_ALARM_INACTIVATION_STATE']) {
    const [a, b] = [mine.get(name), theirs.get(name)];
    t.ok(a && b, `${name} in both`);
    t.equal(a!.getComponent(3, 1), b!.getComponent(3, 1), `${name}: the same number`);
    t.equal(a!.getField(5).toString(), b!.getField(5).toString(), `${name}: the same value for a raised alarm`);
    // OBX-4: a dotted sub-id whose last part is the facet's position.
    t.equal(a!.getField(4).toString().split('.').pop(), b!.getField(4).toString().split('.').pop(), `${name}: OBX-4`);
  }

  // A technical alarm's start and end, against B.Braun's occlusion.
  for (const [file, phase] of [
    ['ihe-acm-bbraun-pcd04-occlusion-start.hl7', 'raised'],
    ['ihe-acm-bbraun-pcd04-occlusion-end.hl7', 'cleared'],
  ] as const) {
    const bbraun = parse(published(file));
    const technical = parse(
      buildAlarmReport(
        input(
          { key: '12:silent:pox-12' },
          {
            phase,
            state: phase === 'cleared' ? 'cleared' : 'active',
            kind: 'technical',
            rule: 'silent',
            metric: null,
            value: null,
            message: 'Device pox-12 silent for 30 s',
          },
        ),
      ),
    );
    t.equal(technical.getSegment('OBR')!.getField(4).toString(), bbraun.getSegment('OBR')!.getField(4).toString());
    t.match(bbraun.getSegment('OBX')!.getField(8).toString(), /\bST\b/, `${file}: a technical alarm (ST)`);
    t.match(obx(technical, 1).getField(8).toString(), /\bST\b/, 'ours too');
    const [ourFacets, theirFacets] = [facetRows(technical), facetRows(bbraun)];
    for (const name of [
      'MDC_ATTR_ALERT_SOURCE',
      'MDC_ATTR_EVENT_PHASE',
      'MDC_ATTR_ALARM_STATE',
      'MDC_ATTR_ALARM_INACTIVATION_STATE',
    ]) {
      const [a, b] = [ourFacets.get(name), theirFacets.get(name)];
      t.ok(a && b, `${file}: ${name} in both`);
      t.equal(a!.getComponent(3, 1), b!.getComponent(3, 1), `${file}: ${name} numbered alike`);
      t.equal(a!.getField(4).toString(), b!.getField(4).toString(), `${file}: ${name} at the same OBX-4`);
      if (name !== 'MDC_ATTR_ALERT_SOURCE')
        t.equal(a!.getField(5).toString(), b!.getField(5).toString(), `${file}: ${name} the same value`);
    }
  }
});

t.test(
  "the gateway's HL7 reader takes the published reports; the status listener's reader says they are not for it",
  async (t) => {
    for (const file of [
      'ihe-acm-mindray-pcd04-spo2-low.hl7',
      'ihe-acm-bbraun-pcd04-occlusion-start.hl7',
      'ihe-acm-bbraun-pcd04-occlusion-end.hl7',
    ]) {
      const text = published(file);
      const read = parseHl7(text);
      t.notOk('code' in read, `${file}: parsed`);
      if (!('code' in read)) t.equal(read.segments.filter((s) => s.id === 'OBX').length, 5, `${file}: five OBX rows`);
      t.match(
        readAlarmStatus(text),
        { code: 'WG_ERR_HL7_UNSUPPORTED', field: 'MSH-9' },
        `${file}: a PCD-04 is not a PCD-05`,
      );
    }
  },
);
