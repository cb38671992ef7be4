// Vitals to the EHR through a running gateway: a nurse reviews a bed's
// current values over the API, confirms, corrects or enters them, and the
// interface engine (@medplum/hl7 on a real socket) receives the ORU^R01 with
// the patient's real identifier, status F and the nurse as observer; the
// correction is audited. Then everything the API must refuse.
import t from 'tap';
import { InterfaceEngine } from '../../helpers/interfaceEngine.js';
import { connectAs, passwordOf, startTestGateway } from '../../helpers/gateway.js';
import { waitFor } from '../../helpers/env.js';

type Json = Record<string, unknown>;
interface ReviewRow {
  metric: string;
  value: number | null;
  observation: number | null;
  deviceId: string | null;
  artifact: boolean;
  measuredAt: string | null;
}

const basic = (name: string) => `Basic ${Buffer.from(`${name}:${passwordOf(name)}`).toString('base64')}`;

async function ward(t: { teardown(fn: () => unknown): void }, extra: Json = {}) {
  const engine = await InterfaceEngine.start(t);
  const { gateway, config, url } = await startTestGateway(t, {
    extra: {
      ehr: {
        host: '127.0.0.1',
        port: engine.port,
        receivingApplication: 'EPIC',
        receivingFacility: 'GENERAL',
        facility: 'GENERAL',
        retryMinMs: 50,
        retryMaxMs: 200,
        ackTimeoutMs: 2000,
        observers: { 'nurse-ann': { id: 'N-4711', family: 'Ann', given: 'Nurse' } },
        ...extra,
      },
    },
  });
  const api = `http://127.0.0.1:${config.http.port}`;
  const call = async (method: string, path: string, who: string, body?: unknown) => {
    const res = await fetch(`${api}${path}`, {
      method,
      headers: { authorization: basic(who), 'content-type': 'application/json' },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
    return { status: res.status, body: (await res.json()) as Json };
  };
  const device = await connectAs(t, url, 'pox-1');
  let seq = 0;
  const publish = async (obs: Json[]) => {
    seq++;
    await device.publishAsync('wardgate/devices/pox-1/obs', JSON.stringify({ seq, obs }), { qos: 1 });
  };
  return { engine, gateway, call, publish, api };
}

t.test(
  'review, confirm, correct and enter; the EHR gets one ORU^R01 with the real identifier, F and the nurse; the correction is audited',
  async (t) => {
    const { engine, gateway, call, publish } = await ward(t);
    // Before the admission: these values are the previous patient's and must never reach the new chart.
    await publish([{ code: 'temp', value: 39.5, unit: 'Cel' }]);
    await new Promise((r) => setTimeout(r, 20));
    t.equal(
      (
        await call('POST', '/api/admissions', 'biomed', {
          bed: '1',
          identifier: 'MRN-77',
          authority: 'GENERAL',
          displayName: 'Doe, Jane',
        })
      ).status,
      201,
    );
    await publish([
      { code: 'spo2', value: 96, unit: '%' },
      { code: 'pr', value: 88, unit: '/min' },
    ]);
    await publish([{ code: 'nibp_sys', value: 400, unit: 'mm[Hg]' }]);

    const review = await waitFor(async () => {
      const r = await call('GET', '/api/beds/1/chart', 'nurse-ann');
      const rows = r.body.vitals as ReviewRow[] | undefined;
      return rows?.find((v) => v.metric === 'nibp_sys')?.value != null ? r : undefined;
    });
    t.equal(review.status, 200);
    const rows = review.body.vitals as ReviewRow[];
    const row = (m: string) => rows.find((v) => v.metric === m)!;
    t.match(review.body.patient, { label: 'Doe, Jane' });
    t.notOk(JSON.stringify(review.body).includes('MRN-77'), 'the review shows the name, not the identifier');
    t.match(row('spo2'), { value: 96, deviceId: 'pox-1', artifact: false });
    t.equal(row('temp').value, null, "the previous patient's temperature is not offered");
    t.equal(row('nibp_sys').artifact, true, 'an implausible value is marked as an artifact');

    const sent = await call('POST', '/api/beds/1/chart', 'nurse-ann', {
      values: [
        { metric: 'spo2', value: 96, observation: row('spo2').observation },
        { metric: 'pr', value: 84, observation: row('pr').observation },
        { metric: 'rr', value: 16 },
      ],
    });
    t.equal(sent.status, 201);
    t.match(sent.body, { confirmed: ['spo2'], corrected: [{ metric: 'pr', from: 88, to: 84 }], entered: ['rr'] });

    await engine.waitForCount(1);
    const msg = engine.received[0].message;
    t.equal(engine.received[0].controlId, sent.body.controlId, 'MSH-10 is the control id the API returned');
    t.equal(msg.header.getField(5).toString(), 'EPIC');
    t.equal(msg.header.getField(4).toString(), '3B', 'MSH-4 defaults to the ward');
    t.equal(msg.getSegment('PID')!.getComponent(3, 1), 'MRN-77', 'the real identifier goes to the EHR');
    t.equal(msg.getSegment('PID')!.getComponent(3, 4), 'GENERAL');
    t.same([msg.getSegment('PID')!.getComponent(5, 1), msg.getSegment('PID')!.getComponent(5, 2)], ['Doe', 'Jane']);
    t.equal(msg.getSegment('PV1')!.getComponent(3, 3), '1');
    t.equal(msg.getSegment('OBR')!.getField(25).toString(), 'F');
    const obx = msg.getAllSegments('OBX');
    t.same(
      obx.map((o) => [
        o.getComponent(3, 2),
        o.getField(5).toString(),
        o.getField(11).toString(),
        o.getComponent(17, 1),
        o.getComponent(18, 1),
      ]),
      [
        ['MDC_PULS_OXIM_SAT_O2', '96', 'F', 'AMEAS', 'pox-1'],
        ['MDC_PULS_OXIM_PULS_RATE', '84', 'F', 'MMEAS', 'pox-1'],
        ['MDC_RESP_RATE', '16', 'F', 'MMEAS', ''],
      ],
    );
    for (const o of obx)
      t.same([o.getComponent(16, 1), o.getComponent(16, 2)], ['N-4711', 'Ann'], 'OBX-16 the nurse as configured');

    const audit = (await call('GET', '/api/audit', 'biomed')).body.entries as Json[];
    const entry = audit.find((e) => e.action === 'chart-vitals')!;
    t.match(entry, {
      actor: 'nurse-ann',
      target: 'bed:1',
      detail: {
        controlId: sent.body.controlId,
        status: 'F',
        confirmed: ['spo2'],
        corrected: [{ metric: 'pr', from: 88, to: 84 }],
        entered: ['rr'],
      },
    });
    t.notOk(JSON.stringify(entry).includes('MRN-77'), 'the audit trail (which syncs) holds no identifier');

    await waitFor(async () => ((await call('GET', '/api/ehr', 'station')).body.sent === 1 ? true : undefined));
    t.match((await call('GET', '/api/ehr', 'station')).body, {
      link: 'ehr',
      connected: true,
      queued: 0,
      quarantined: 0,
      sent: 1,
    });
    const stored = gateway.db!.prepare('SELECT state, control_id FROM outbound_messages').all();
    t.same(stored, [{ state: 'sent', control_id: sent.body.controlId }], 'kept in the queue table as sent');
  },
);

t.test('what the API refuses', async (t) => {
  const { call, publish, api, gateway } = await ward(t);
  const db = gateway.db!;
  t.equal((await call('GET', '/api/beds/1/chart', 'nurse-ann')).status, 409, 'no patient admitted: nothing to chart');
  t.match((await call('POST', '/api/beds/1/chart', 'nurse-ann', { values: [{ metric: 'rr', value: 16 }] })).body, {
    code: 'WG_ERR_CONFLICT',
  });
  await call('POST', '/api/admissions', 'biomed', { bed: '1', identifier: 'MRN-1' });
  await call('POST', '/api/admissions', 'biomed', { bed: '2', identifier: 'MRN-2' });
  await publish([
    { code: 'spo2', value: 95, unit: '%' },
    { code: 'nibp_sys', value: 400, unit: 'mm[Hg]' },
  ]);
  const rows = await waitFor(async () => {
    const r = (await call('GET', '/api/beds/1/chart', 'nurse-ann')).body.vitals as ReviewRow[];
    return r.find((v) => v.metric === 'spo2')?.observation ? r : undefined;
  });
  const obs = rows.find((v) => v.metric === 'spo2')!.observation!;

  const cases: Array<[string, string, string, unknown, number, Json]> = [
    [
      'a viewer may not chart',
      'station',
      '/api/beds/1/chart',
      { values: [{ metric: 'rr', value: 16 }] },
      403,
      { code: 'WG_ERR_FORBIDDEN' },
    ],
    [
      'a metric the ward does not chart',
      'nurse-ann',
      '/api/beds/1/chart',
      { values: [{ metric: 'infusion_rate', value: 5 }] },
      400,
      { field: 'values[0].metric' },
    ],
    [
      'an implausible value',
      'nurse-ann',
      '/api/beds/1/chart',
      { values: [{ metric: 'spo2', value: 140 }] },
      400,
      { field: 'values[0].value' },
    ],
    [
      'a value that is not a number',
      'nurse-ann',
      '/api/beds/1/chart',
      { values: [{ metric: 'spo2', value: '96' }] },
      400,
      { field: 'values[0].value' },
    ],
    [
      'a metric twice',
      'nurse-ann',
      '/api/beds/1/chart',
      {
        values: [
          { metric: 'rr', value: 16 },
          { metric: 'rr', value: 17 },
        ],
      },
      400,
      { field: 'values[1].metric' },
    ],
    ['no values', 'nurse-ann', '/api/beds/1/chart', { values: [] }, 400, { field: 'values' }],
    [
      'an unknown field',
      'nurse-ann',
      '/api/beds/1/chart',
      { values: [{ metric: 'rr', value: 16, status: 'F' }] },
      400,
      { field: 'values[0].status' },
    ],
    [
      "another bed's reading",
      'nurse-ann',
      '/api/beds/2/chart',
      { values: [{ metric: 'spo2', value: 95, observation: obs }] },
      404,
      { field: 'values[0].observation' },
    ],
    [
      'a reading of another metric',
      'nurse-ann',
      '/api/beds/1/chart',
      { values: [{ metric: 'pr', value: 70, observation: obs }] },
      404,
      { field: 'values[0].observation' },
    ],
    [
      'an artifact confirmed as measured',
      'nurse-ann',
      '/api/beds/1/chart',
      {
        values: [
          { metric: 'nibp_sys', value: 400, observation: rows.find((v) => v.metric === 'nibp_sys')!.observation },
        ],
      },
      400,
      { field: 'values[0].value' },
    ],
  ];
  for (const [what, who, path, body, status, match] of cases) {
    const res = await call('POST', path, who, body);
    t.equal(res.status, status, what);
    t.match(res.body, match, what);
  }
  // A page of another site cannot make a browser send vitals: forged requests are refused before any check of the body.
  const forged: Array<Record<string, string>> = [
    { 'content-type': 'text/plain', authorization: basic('nurse-ann') },
    { 'content-type': 'application/json', authorization: basic('nurse-ann'), 'sec-fetch-site': 'cross-site' },
    { 'content-type': 'application/json', authorization: basic('nurse-ann'), origin: 'http://evil.example' },
  ];
  for (const headers of forged) {
    const res = await fetch(`${api}/api/beds/1/chart`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ values: [{ metric: 'rr', value: 16 }] }),
    });
    t.equal(
      res.status,
      403,
      `forged: ${JSON.stringify(headers['content-type'])} ${headers.origin ?? headers['sec-fetch-site'] ?? ''}`,
    );
  }
  t.equal(
    db.prepare('SELECT count(*) FROM outbound_messages').pluck().get(),
    0,
    'nothing was queued by any refused request',
  );
});

t.test(
  'the EHR refuses a message: quarantined, a technical alarm on the ward and a metric; an admin sends it again once fixed',
  async (t) => {
    const { engine, call, api } = await ward(t);
    engine.answer = () => 'AR';
    engine.reason = 'unknown patient MRN-5';
    await call('POST', '/api/admissions', 'biomed', { bed: '1', identifier: 'MRN-5' });
    const sent = await call('POST', '/api/beds/1/chart', 'nurse-ann', { values: [{ metric: 'rr', value: 18 }] });
    t.equal(sent.status, 201);
    const alarm = await waitFor(
      async () =>
        ((await call('GET', '/api/alarms', 'station')).body.alarms as Json[]).find(
          (a) => a.rule === 'outbound-quarantine',
        ),
      5000,
      'the quarantine alarm',
    );
    t.match(alarm, { kind: 'technical', priority: 'medium', state: 'active' });
    t.notMatch(
      JSON.stringify(alarm),
      /MRN-5/,
      "the receiver's reason, which names the patient, stays out of the alarm",
    );
    t.match((await call('GET', '/api/ehr', 'station')).body, {
      quarantined: 1,
      queued: 0,
      lastError: `AR for ${sent.body.controlId as string}: unknown patient MRN-5`,
    });
    t.match(
      await (await fetch(`${api}/metrics`)).text(),
      /wardgate_outbound_quarantined\{link="ehr"\} 1/,
      'and /metrics counts it',
    );

    t.equal(
      (await call('POST', '/api/ehr/retry', 'nurse-ann')).status,
      403,
      'only an admin sends refused messages again',
    );
    engine.answer = () => 'AA';
    const retry = await call('POST', '/api/ehr/retry', 'biomed');
    t.match(retry, { status: 201, body: { requeued: 1 } });
    await waitFor(
      async () => ((await call('GET', '/api/ehr', 'station')).body.sent === 1 ? true : undefined),
      5000,
      'sent after the retry',
    );
    t.same(
      engine.received.map((r) => r.controlId),
      [sent.body.controlId, sent.body.controlId],
      'the same control id the second time',
    );
    await waitFor(
      async () =>
        ((await call('GET', '/api/alarms', 'station')).body.alarms as Json[]).some(
          (a) => a.rule === 'outbound-quarantine',
        )
          ? undefined
          : true,
      5000,
      'the alarm clears',
    );
    const audit = (await call('GET', '/api/audit', 'biomed')).body.entries as Json[];
    t.match(
      audit.find((e) => e.action === 'ehr-retry-quarantined'),
      { actor: 'biomed', detail: { requeued: 1 } },
    );
  },
);

t.test(
  'a reading already charted: the review says so, the same value again is refused, a new value goes as a correction (OBX-11 C)',
  async (t) => {
    const { engine, call, publish } = await ward(t);
    await call('POST', '/api/admissions', 'biomed', { bed: '1', identifier: 'MRN-81' });
    await publish([
      { code: 'spo2', value: 95, unit: '%' },
      { code: 'pr', value: 70, unit: '/min' },
    ]);
    const first = await waitFor(async () => {
      const rows = (await call('GET', '/api/beds/1/chart', 'nurse-ann')).body.vitals as ReviewRow[] | undefined;
      return rows?.find((v) => v.metric === 'spo2')?.value != null ? rows : undefined;
    });
    const spo2 = first.find((v) => v.metric === 'spo2')!;
    const pr = first.find((v) => v.metric === 'pr')!;
    t.equal((first as Array<ReviewRow & { charted: unknown }>).find((v) => v.metric === 'spo2')!.charted, null);
    const sent = await call('POST', '/api/beds/1/chart', 'nurse-ann', {
      values: [
        { metric: 'spo2', value: 95, observation: spo2.observation },
        { metric: 'pr', value: 70, observation: pr.observation },
      ],
    });
    t.equal(sent.status, 201);

    const again = (await call('GET', '/api/beds/1/chart', 'nurse-ann')).body.vitals as Array<ReviewRow & Json>;
    t.match(
      again.find((v) => v.metric === 'spo2'),
      {
        observation: spo2.observation,
        charted: { value: 95, by: 'nurse-ann', controlId: sent.body.controlId },
      },
    );

    const same = await call('POST', '/api/beds/1/chart', 'nurse-ann', {
      values: [{ metric: 'spo2', value: 95, observation: spo2.observation }],
    });
    t.match(same, { status: 409, body: { code: 'WG_ERR_CONFLICT', field: 'values[0].value' } }, 'already charted');
    t.match(String(same.body.message), /charted already as 95/);

    const fixed = await call('POST', '/api/beds/1/chart', 'nurse-ann', {
      values: [{ metric: 'spo2', value: 93, observation: spo2.observation }],
    });
    t.equal(fixed.status, 201);
    t.match(fixed.body, {
      confirmed: [],
      corrected: [],
      entered: [],
      amended: [{ metric: 'spo2', from: 95, to: 93, controlId: sent.body.controlId }],
    });
    const twice = await call('POST', '/api/beds/1/chart', 'nurse-ann', {
      values: [{ metric: 'spo2', value: 92, observation: spo2.observation }],
    });
    t.match(twice.body, { amended: [{ from: 93, to: 92, controlId: fixed.body.controlId }] }, 'held against the last');

    await engine.waitForCount(3);
    const [original, correction] = [engine.received[0].message, engine.received[1].message];
    t.equal(engine.received[1].controlId, fixed.body.controlId);
    const before = original.getAllSegments('OBX').find((o) => o.getComponent(3, 2) === 'MDC_PULS_OXIM_SAT_O2')!;
    const after = correction.getSegment('OBX')!;
    t.equal(after.getComponent(3, 2), 'MDC_PULS_OXIM_SAT_O2');
    t.equal(after.getField(5).toString(), '93');
    t.equal(after.getField(11).toString(), 'C', 'OBX-11 C: corrected');
    t.equal(before.getField(11).toString(), 'F');
    t.equal(after.getField(14).toString(), before.getField(14).toString(), 'OBX-14: the same measurement');
    t.equal(after.getComponent(18, 1), 'pox-1', 'OBX-18: the same device');
    t.equal(after.getComponent(17, 1), 'MMEAS', 'no longer as the device measured it');
    t.equal(after.getComponent(16, 1), 'N-4711', 'OBX-16: the nurse who corrected it');
    t.equal(correction.getSegment('OBR')!.getField(25).toString(), 'C', 'OBR-25 C');

    const audit = (await call('GET', '/api/audit', 'biomed')).body.entries as Json[];
    t.match(
      audit.find((e) => e.action === 'chart-vitals' && (e.detail as Json).controlId === fixed.body.controlId),
      { actor: 'nurse-ann', detail: { status: 'C', amended: [{ metric: 'spo2', from: 95, to: 93 }] } },
    );
  },
);

t.test(
  'a value the nurse entered is corrected by naming the message that charted it (OBX-11 C, same time)',
  async (t) => {
    const { engine, call } = await ward(t);
    await call('POST', '/api/admissions', 'biomed', { bed: '1', identifier: 'MRN-82' });
    const first = await call('POST', '/api/beds/1/chart', 'nurse-ann', { values: [{ metric: 'rr', value: 16 }] });
    t.equal(first.status, 201);
    const rows = (await call('GET', '/api/beds/1/chart', 'nurse-ann')).body.vitals as Array<ReviewRow & Json>;
    t.match(
      rows.find((v) => v.metric === 'rr'),
      { value: null, observation: null, charted: { value: 16, by: 'nurse-ann', controlId: first.body.controlId } },
      'no device reading: the review shows the value entered',
    );

    const refusals: Array<[unknown, number, string]> = [
      [{ metric: 'rr', value: 18, amends: 'V0000000000000000000' }, 409, 'values[0].amends'],
      [{ metric: 'rr', value: 16, amends: first.body.controlId }, 409, 'values[0].value'],
      [{ metric: 'rr', value: 18, amends: first.body.controlId, observation: 1 }, 400, 'values[0].amends'],
      [{ metric: 'rr', value: 18, amends: 'not|an id' }, 400, 'values[0].amends'],
    ];
    for (const [value, status, field] of refusals)
      t.match(await call('POST', '/api/beds/1/chart', 'nurse-ann', { values: [value] }), { status, body: { field } });

    const fixed = await call('POST', '/api/beds/1/chart', 'nurse-ann', {
      values: [{ metric: 'rr', value: 18, amends: first.body.controlId }],
    });
    t.equal(fixed.status, 201);
    t.match(fixed.body, {
      entered: [],
      amended: [{ metric: 'rr', from: 16, to: 18, controlId: first.body.controlId }],
    });
    const after = (await call('GET', '/api/beds/1/chart', 'nurse-ann')).body.vitals as Array<ReviewRow & Json>;
    t.match(
      after.find((v) => v.metric === 'rr'),
      { charted: { value: 18, controlId: fixed.body.controlId } },
    );

    await engine.waitForCount(2);
    const [original, correction] = engine.received.map((r) => r.message.getSegment('OBX')!);
    t.same(
      [correction.getField(5).toString(), correction.getField(11).toString(), correction.getComponent(17, 1)],
      ['18', 'C', 'MMEAS'],
    );
    t.equal(correction.getField(14).toString(), original.getField(14).toString(), 'OBX-14: the time it was entered');
    t.equal(correction.getField(18).toString(), '', 'no device');
  },
);
