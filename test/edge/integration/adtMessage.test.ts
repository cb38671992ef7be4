// What the gateway reads from published ADT messages (test/corpus/hl7/adt/)
// and from variations of them: event, patient, name, location, merge, time,
// and why a message is refused.
import t from 'tap';
import { parseHl7, type Hl7Message } from '../../../edge/hl7/message.js';
import { readAdt, type AdtReading } from '../../../edge/integration/adtMessage.js';
import { isRejection } from '../../../shared/timestamp.js';
import { adtCorpus as corpus } from '../../helpers/adt.js';

const NOW = Date.UTC(2026, 11, 2, 12, 0, 0);
const MR = { typeCode: 'MR' };
const MRN = { typeCode: 'MRN' };

function parse(text: string): Hl7Message {
  const parsed = parseHl7(text);
  if (isRejection(parsed)) throw new Error(parsed.message);
  return parsed;
}

function event(reading: AdtReading) {
  if (reading.kind !== 'event') throw new Error(`expected an event, got ${JSON.stringify(reading)}`);
  return reading.adt;
}

t.test('the standard A01: MR repetition of PID-3 with its authority, name, PV1-3, EVN-2 time', async (t) => {
  const adt = event(readAdt(parse(corpus('hl7-standard-a01-admit.hl7')), MR, NOW));
  t.equal(adt.event, 'A01');
  t.equal(adt.controlId, 'MSG00001');
  t.same(adt.patient, { identifier: 'PATID1234', authority: 'ADT1' }, 'the MR repetition, not the SS one');
  t.equal(adt.displayName, 'SMITH, WILLIAM A');
  t.same(adt.location, { pointOfCare: '2000', room: '2012', bed: '01' });
  t.equal(adt.eventTs, Date.UTC(1988, 7, 18, 11, 23), 'EVN-2, read as UTC for ordering when no offset is known');
  t.equal(adt.prior, undefined);
});

t.test('the AccMgr set: MSH-9 names the event even where EVN-1 is stale; the MRN type is configured', async (t) => {
  const cases: Array<[string, string, string]> = [
    ['accmgr-a02-transfer.hl7', 'A02', 'IN1^214^1'],
    ['accmgr-a03-discharge.hl7', 'A03', 'IN1^214^1'],
    ['accmgr-a08-update.hl7', 'A08', 'IN1^214^1'],
    ['accmgr-a11-cancel-admit.hl7', 'A11', 'IN1^214^1'],
    ['accmgr-a12-cancel-transfer.hl7', 'A12', 'IN1^214^1'],
    ['accmgr-a13-cancel-discharge.hl7', 'A13', 'PREOP^101^1'],
  ];
  for (const [file, code, where] of cases) {
    const adt = event(readAdt(parse(corpus(file)), MRN, NOW));
    t.equal(adt.event, code, file);
    t.same(adt.patient, { identifier: '10006579', authority: '1' }, `${file}: PID-3 typed MRN, not the VN account`);
    t.equal(adt.displayName, 'DUCK, DONALD D');
    t.equal([adt.location?.pointOfCare, adt.location?.room, adt.location?.bed].join('^'), where, `${file}: PV1-3`);
  }
  const a02 = event(readAdt(parse(corpus('accmgr-a02-transfer.hl7')), MRN, NOW));
  const a08 = event(readAdt(parse(corpus('accmgr-a08-update.hl7')), MRN, NOW));
  t.equal(a02.controlId, a08.controlId, 'the sender reuses MSH-10 across events');
  t.not(a02.digest, a08.digest, 'the content tells them apart');
});

t.test('with the default type MR, the AccMgr messages name no usable patient: AE material, not a guess', async (t) => {
  const reading = readAdt(parse(corpus('accmgr-a03-discharge.hl7')), MR, NOW);
  t.equal(reading.kind, 'refused');
  if (reading.kind !== 'refused') return;
  t.equal(reading.error.code, 'WG_ERR_HL7_PATIENT');
  t.same(reading.error.where, { segment: 'PID', position: 3, field: 3 });
  t.notMatch(reading.error.message, /10006579/, 'the identifier is never quoted');
});

t.test('an authority restricts the choice', async (t) => {
  const text = corpus('hl7-standard-a01-admit.hl7');
  t.equal(readAdt(parse(text), { typeCode: 'MR', authority: 'ADT1' }, NOW).kind, 'event');
  const other = readAdt(parse(text), { typeCode: 'MR', authority: 'OTHER' }, NOW);
  t.equal(other.kind, 'refused');
  t.equal(
    event(readAdt(parse(text), { typeCode: 'SS' }, NOW)).patient.identifier,
    '123456789',
    'another type, another repetition',
  );
});

t.test('the A40 merge: PID-3 survives, MRG-1 goes', async (t) => {
  const adt = event(readAdt(parse(corpus('majware-a40-merge.hl7')), MR, NOW));
  t.equal(adt.event, 'A40');
  t.same(adt.patient, { identifier: '123456', authority: 'HOSP_A' });
  t.same(adt.prior, { identifier: '999999', authority: 'HOSP_A' });
  t.equal(adt.location, undefined, 'no PV1');
  const noMrg = readAdt(parse(corpus('majware-a40-merge.hl7').replace(/MRG\|[^\r]*\r/, '')), MR, NOW);
  t.match(noMrg, { kind: 'refused', error: { code: 'WG_ERR_HL7_PATIENT' } });
});

t.test('the outpatient A04: PV1-3 empty is no location', async (t) => {
  const adt = event(readAdt(parse(corpus('vinah-a04-outpatient.hl7')), { typeCode: 'A' }, NOW));
  t.equal(adt.event, 'A04');
  t.equal(adt.location, undefined);
  t.same(adt.patient, { identifier: '0000112234', authority: '100' });
});

t.test('events the ward does not use, demo data, other message types, missing control id', async (t) => {
  const a01 = corpus('hl7-standard-a01-admit.hl7');
  t.match(readAdt(parse(a01.replace('ADT^A01|', 'ADT^A31|')), MR, NOW), {
    kind: 'ignored',
    event: 'A31',
    controlId: 'MSG00001',
  });
  t.match(readAdt(parse(a01.replace('|P|2.3.1', '|T|2.3.1')), MR, NOW), { kind: 'demo', processingId: 'T' });
  t.match(readAdt(parse(a01.replace('ADT^A01|', 'ORU^R01|')), MR, NOW), {
    kind: 'refused',
    error: { code: 'WG_ERR_HL7_UNSUPPORTED', hl7Code: 200 },
  });
  t.match(readAdt(parse(a01.replace('|MSG00001|', '||')), MR, NOW), {
    kind: 'refused',
    error: { code: 'WG_ERR_HL7_FORMAT', hl7Code: 101 },
  });
  t.match(readAdt(parse(a01.replace(/PID\|[^\r]*\r/, '')), MR, NOW), {
    kind: 'refused',
    error: { code: 'WG_ERR_HL7_PATIENT' },
  });
  // MSH-9 without a trigger: EVN-1 says the event.
  t.equal(event(readAdt(parse(a01.replace('ADT^A01|', 'ADT|')), MR, NOW)).event, 'A01');
});

t.test('placeholder identifiers are no patient', async (t) => {
  const a01 = corpus('hl7-standard-a01-admit.hl7');
  for (const id of ['UNKNOWN', '0000', 'N/A']) {
    const reading = readAdt(parse(a01.replace('PATID1234^5^M11', `${id}^5^M11`)), MR, NOW);
    t.match(reading, { kind: 'refused', error: { code: 'WG_ERR_HL7_PATIENT' } }, id);
  }
});

t.test('event time: EVN-6, then EVN-2, then MSH-7; offsets honoured; unreadable falls back to arrival', async (t) => {
  const base = corpus('hl7-standard-a01-admit.hl7');
  t.equal(
    event(readAdt(parse(base.replace('EVN|A01|198808181123', 'EVN|A01|198808181123||||198808181100')), MR, NOW))
      .eventTs,
    Date.UTC(1988, 7, 18, 11, 0),
  );
  t.equal(
    event(readAdt(parse(base.replace('EVN|A01|198808181123', 'EVN|A01|198808181123+0200')), MR, NOW)).eventTs,
    Date.UTC(1988, 7, 18, 9, 23),
  );
  // MSH-7's offset places an EVN time without one.
  const placed = base.replace('|198808181126|', '|198808181126-0500|');
  t.equal(event(readAdt(parse(placed), MR, NOW)).eventTs, Date.UTC(1988, 7, 18, 16, 23));
  t.equal(
    event(readAdt(parse(base.replace('EVN|A01|198808181123', 'EVN|A01|')), MR, NOW)).eventTs,
    Date.UTC(1988, 7, 18, 11, 26),
    'MSH-7',
  );
  t.equal(
    event(
      readAdt(
        parse(base.replace('EVN|A01|198808181123', 'EVN|A01|yesterday').replace('|198808181126|', '|soon|')),
        MR,
        NOW,
      ),
    ).eventTs,
    NOW,
  );
});

t.test('the digest ignores MSH-7 (a resend with a new send time is the same message) and sees the rest', async (t) => {
  const base = corpus('hl7-standard-a01-admit.hl7');
  const d = (text: string) => event(readAdt(parse(text), MR, NOW)).digest;
  t.equal(d(base), d(base.replace('|198808181126|', '|198808181130|')));
  t.not(d(base), d(base.replace('2000^2012^01', '2000^2012^02')));
  t.not(d(base), d(base.replace('ADT^A01|', 'ADT^A04|')));
});

t.test('a name with control characters or of great length is cleaned and cut for the screens', async (t) => {
  const base = corpus('hl7-standard-a01-admit.hl7');
  const long = event(readAdt(parse(base.replace('SMITH^WILLIAM^A^III', `${'X'.repeat(300)}^Y`)), MR, NOW));
  t.equal(long.displayName?.length, 128);
  const escaped = event(readAdt(parse(base.replace('SMITH^WILLIAM^A^III', 'O\\X0D\\BRIEN^ANN')), MR, NOW));
  t.equal(escaped.displayName, 'O BRIEN, ANN');
  const none = event(readAdt(parse(base.replace('SMITH^WILLIAM^A^III', '')), MR, NOW));
  t.equal(none.displayName, undefined);
});
