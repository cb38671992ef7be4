// What comes back from the alarm manager (PCD-05 ORA^R41, plain ACKs), read
// from published examples and from messages built by an HL7 implementation
// we do not ship; and our PCD-04 against published PCD-04 reports.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { Hl7Message } from '@medplum/core';
import { buildAlarmReport } from '../../../edge/integration/alarmReport.js';
import {
  acceptedBy,
  readAlarmStatus,
  statusOf,
  type AlarmStatusReport,
} from '../../../edge/integration/alarmStatus.js';

const CORPUS = new URL('../../corpus/hl7/', import.meta.url).pathname;
/** Corpus files hold one segment per line; HL7 ends segments with CR. */
const corpus = (name: string) =>
  readFileSync(CORPUS + name, 'utf8')
    .trim()
    .split('\n')
    .join('\r') + '\r';

t.test('published PCD-05: a delivery status for the alarm named in OBR-3', async (t) => {
  const report = readAlarmStatus(corpus('draeger-das-pcd05-delivered.hl7'));
  t.match(report, { kind: 'status', controlId: '79', alarmId: '1' });
  const status = report as AlarmStatusReport;
  t.equal(status.recipients.length, 1);
  t.match(status.recipients[0], { status: 'delivered', text: 'Delivered', personId: '', device: '' });
});

t.test('published ACK^R40 to a PCD-04', async (t) => {
  t.match(readAlarmStatus(corpus('draeger-das-ack-r40.hl7')), { kind: 'ack', code: 'AA', answers: '79' });
});

t.test('a PCD-05 built by another implementation: who accepted, where, on which device', async (t) => {
  const msg = Hl7Message.parse(
    [
      'MSH|^~\\&|NURSECALL|HOSP|WARDGATE|3B|20261202093012+0000||ORA^R41^ORA_R41|NC-5521|P|2.7',
      'MSA|AA|AM7',
      'OBR|1|3f2b8c1e-5a7d-4c2e-9b1a-0d6e4f8a2c11^gw-3b|3f2b8c1e-5a7d-4c2e-9b1a-0d6e4f8a2c11^gw-3b|196616^MDC_EVT_ALARM^MDC',
      'PRT|1|UC|Delivered to endpoint|RCT|N123^Smith^Anna||||3B^Corridor^Bay 2|PHONE-0451|20261202093005+0000',
      'PRT|2|UC|Accepted by user^Accepted|RCT|N123^Smith^Anna||||3B^Corridor^Bay 2|PHONE-0451|20261202093011+0000',
    ].join('\r'),
  );
  const report = readAlarmStatus(msg.toString());
  t.equal('kind' in report && report.kind, 'status');
  const status = report as AlarmStatusReport;
  t.match(status, {
    controlId: 'NC-5521',
    manager: 'NURSECALL',
    alarmId: '3f2b8c1e-5a7d-4c2e-9b1a-0d6e4f8a2c11',
    answers: 'AM7',
  });
  t.same(
    status.recipients.map((r) => r.status),
    ['delivered', 'accepted'],
  );
  const accepted = status.recipients[1];
  t.match(accepted, {
    personId: 'N123',
    personName: 'Anna Smith',
    location: '3B Corridor Bay 2',
    device: 'PHONE-0451',
    at: Date.UTC(2026, 11, 2, 9, 30, 11),
  });
  t.equal(acceptedBy(accepted, status.manager), 'Anna Smith');
  t.equal(acceptedBy({ ...accepted, personName: '' }, status.manager), 'N123');
  t.equal(acceptedBy({ ...accepted, personName: '', personId: '' }, status.manager), 'NURSECALL');
});

t.test('dissemination statuses as managers word them', async (t) => {
  const table: Array<[string, string]> = [
    ['Received by AM', 'received'],
    ['Delivered', 'delivered'],
    ['Delivered to endpoint', 'delivered'],
    ['Read at endpoint', 'read'],
    ['Accepted by user', 'accepted'],
    ['accepted', 'accepted'],
    ['Rejected', 'rejected'],
    ['Declined by user', 'rejected'],
    ['Cancelled by AM', 'cancelled'],
    ['Not delivered', 'undeliverable'],
    ['Undeliverable', 'undeliverable'],
    ['Delivery failed', 'undeliverable'],
    ['Callback start', 'other'],
    ['', 'other'],
  ];
  for (const [text, status] of table) t.equal(statusOf(text), status, JSON.stringify(text));
});

t.test('bad input gets a reason, not an exception', async (t) => {
  t.match(readAlarmStatus('garbage'), { code: 'WG_ERR_HL7_FORMAT' });
  t.match(readAlarmStatus('MSH|^~\\&|NC||||20261202||ORU^R01|1|P|2.6\rOBX|1|NM|x||1\r'), {
    code: 'WG_ERR_HL7_UNSUPPORTED',
    field: 'MSH-9',
  });
  t.match(readAlarmStatus('MSH|^~\\&|NC||||20261202||ORA^R41^ORA_R41|1|P|2.7\rPRT|||Accepted\r'), {
    code: 'WG_ERR_SCHEMA',
    field: 'OBR-3',
  });
  t.match(readAlarmStatus('MSH|^~\\&|NC||||20261202||ORA^R41^ORA_R41|1|P|2.7\rOBR|||abc\r'), {
    code: 'WG_ERR_SCHEMA',
    field: 'PRT',
  });
  t.match(readAlarmStatus('MSH|^~\\&|NC||||20261202||ACK^R40|1|P|2.7\r'), { code: 'WG_ERR_HL7_FORMAT', field: 'MSA' });
  const escaped = readAlarmStatus(
    'MSH|^~\\&|NC||||20261202||ORA^R41^ORA_R41|1|P|2.7\rOBR|||a\\F\\b\rPRT|||Accepted|RCT|N1^O\\T\\Brien^Pat\r',
  ) as AlarmStatusReport;
  t.equal(escaped.alarmId, 'a|b', 'escapes decoded after splitting');
  t.equal(escaped.recipients[0].personName, 'Pat O&Brien');
});

/** The ACM facets of a PCD-04 by their reference id (names, not numbers: early examples numbered them differently). */
function facets(text: string): Map<string, string> {
  const msg = Hl7Message.parse(text);
  const out = new Map<string, string>();
  for (const obx of msg.getAllSegments('OBX')) {
    const refid = obx.getComponent(3, 2);
    if (/^\d+(\.\d+){4}$/.test(obx.getField(4).toString())) out.set(refid, obx.getField(5).toString());
  }
  return out;
}

t.test('our PCD-04 carries the facets published alarm reporters send, in the same places', async (t) => {
  const ours = buildAlarmReport({
    event: {
      alarmId: 'a1',
      phase: 'raised',
      ts: Date.UTC(2026, 11, 2),
      by: null,
      bed: '12',
      deviceId: 'pox-12',
      kind: 'physiological',
      rule: 'limit',
      metric: 'spo2',
      priority: 'medium',
      state: 'active',
      message: 'SpO2 low: 85 % (limit <= 88)',
      value: 85,
      escalations: 0,
    },
    key: '12:limit:spo2',
    raisedAt: Date.UTC(2026, 11, 2),
    controlId: 'AM1',
    now: Date.UTC(2026, 11, 2),
    header: {
      sendingApplication: 'WARDGATE',
      sendingFacility: '3B',
      receivingApplication: '',
      receivingFacility: '',
      processingId: 'P',
    },
    location: { pointOfCare: '3B', room: '', bed: '12', facility: '' },
    patient: undefined,
    assigner: 'gw',
  });
  const mine = facets(ours);
  for (const file of ['ge-mural-pcd04-advisory.hl7', 'draeger-das-pcd04-watchdog.hl7']) {
    const text = corpus(file);
    const published = Hl7Message.parse(text);
    t.equal(published.header.getField(9).toString(), 'ORU^R40^ORU_R40', `${file}: the same message type`);
    // The Draeger note puts the profile one field early (MSH-20): as published.
    const profile = published.header.getComponent(21, 1) || published.header.getComponent(20, 1);
    t.equal(profile, Hl7Message.parse(ours).header.getComponent(21, 1), `${file}: the same profile (MSH-21.1)`);
    t.equal(published.getSegment('OBR')!.getField(4).toString(), '196616^MDC_EVT_ALARM^MDC', `${file}: OBR-4`);
    const theirs = facets(text);
    for (const name of [
      'MDC_ATTR_EVENT_PHASE',
      'MDC_ATTR_ALARM_INACTIVATION_STATE',
      'MDC_ATTR_ALARM_PRIORITY',
      'MDC_ATTR_ALERT_TYPE',
    ]) {
      t.ok(theirs.has(name) && mine.has(name), `${file}: ${name} in both`);
    }
    // The same vocabulary: phase, inactivation state, priority and type values from the ACM tables.
    t.match(theirs.get('MDC_ATTR_EVENT_PHASE'), /^(start|continue|end|update|escalate|de-escalate)$/);
    t.match(theirs.get('MDC_ATTR_ALARM_PRIORITY'), /^P[HMLN]$/);
    t.match(theirs.get('MDC_ATTR_ALERT_TYPE'), /^S[PTA]$/);
  }
  t.same(
    [
      mine.get('MDC_ATTR_EVENT_PHASE'),
      mine.get('MDC_ATTR_ALARM_STATE'),
      mine.get('MDC_ATTR_ALARM_PRIORITY'),
      mine.get('MDC_ATTR_ALERT_TYPE'),
    ],
    ['start', 'active', 'PM', 'SP'],
  );
});
