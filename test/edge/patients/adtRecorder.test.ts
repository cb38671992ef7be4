// The ADT feed's effect on the ward's admissions, message by message, on a
// real database: what each event does, what a resend, a late event or a
// reused control id does, how the feed and the manual path meet, and the
// audit trail of both. Messages go through the handler (bytes in, ACK out).
import t, { type Test } from 'tap';
import { parseHl7, value, type Hl7Message } from '../../../edge/hl7/message.js';
import { adtConfigSchema } from '../../../edge/integration/adtConfig.js';
import { AdtHandler } from '../../../edge/integration/adtHandler.js';
import { Admissions } from '../../../edge/patients/admissions.js';
import { AdtRecorder } from '../../../edge/patients/adtRecorder.js';
import { AuditLog } from '../../../edge/store/auditLog.js';
import { openDatabase, type Db } from '../../../edge/store/database.js';
import { isRejection } from '../../../shared/timestamp.js';
import { adtMessage, type AdtSpec } from '../../helpers/adt.js';
import { tempDir } from '../../helpers/env.js';

interface Ward {
  db: Db;
  admissions: Admissions;
  audit: AuditLog;
  changed: string[][];
  send(spec: AdtSpec | string, address?: string): Promise<Hl7Message>;
}

const NOW = Date.UTC(2026, 11, 2, 12, 0, 0);

/** The ward's feed and admissions on a fresh database; `now` is the gateway's clock (NOW unless a test moves it). */
function ward(t: Test, config: Record<string, unknown> = {}, now: () => number = () => NOW): Ward {
  const db = openDatabase(tempDir(t));
  t.teardown(() => db.close());
  const audit = new AuditLog(db);
  const admissions = new Admissions(db, audit, now);
  const changed: string[][] = [];
  const adt = adtConfigSchema.parse({
    senders: [{ application: 'HIS' }],
    locations: [{ pointOfCare: '3B' }, { pointOfCare: 'ICU', room: '2', bed: 'A', wardBed: 'icu-2a' }],
    ...config,
  });
  const handler = new AdtHandler({
    config: adt,
    locations: adt.locations,
    recorder: new AdtRecorder(db, audit, now),
    application: 'gw-test',
    facility: '3B',
    now,
    onChanged: (beds) => {
      admissions.reload();
      changed.push([...beds]);
    },
  });
  return {
    db,
    admissions,
    audit,
    changed,
    async send(spec, address = '10.0.0.5') {
      const answer = await handler.handle(
        Buffer.from(typeof spec === 'string' ? spec : adtMessage(spec)),
        'peer',
        address,
      );
      const ack = parseHl7(answer.ack);
      if (isRejection(ack)) throw new Error(ack.message);
      return ack;
    },
  };
}

function msa(ack: Hl7Message): { code: string; controlId: string; err: string[] } {
  const m = ack.segments.find((s) => s.id === 'MSA');
  const errs = ack.segments
    .filter((s) => s.id === 'ERR')
    .map((e) => `${value(ack, e, 3)} ${value(ack, e, 4)} ${value(ack, e, 5)}`);
  return { code: value(ack, m, 1), controlId: value(ack, m, 2), err: errs };
}

function beds(w: Ward): Record<string, string | null> {
  return Object.fromEntries(w.admissions.current().map((a) => [a.bed, a.displayName]));
}

function identifierOf(w: Ward, bed: string): string | undefined {
  return (
    w.db
      .prepare(
        'SELECT p.identifier FROM admissions a JOIN patients p ON p.id = a.patient WHERE a.bed = ? AND a.discharged_at IS NULL',
      )
      .get(bed) as { identifier: string } | undefined
  )?.identifier;
}

function auditOf(w: Ward): Array<{ action: string; target: string | null; detail: Record<string, unknown> | null }> {
  return w.audit
    .recent(1000)
    .reverse()
    .map(({ action, target, detail }) => ({ action, target, detail }));
}

t.test('A01 admits to the bed PV1-3 names, from the feed, audited without the patient', async (t) => {
  const w = ward(t);
  const ack = await w.send({
    event: 'A01',
    controlId: 'C1',
    patient: 'P100',
    name: 'DOE^JANE^Q',
    location: '3B^301^7',
  });
  t.same(msa(ack), { code: 'AA', controlId: 'C1', err: [] });
  t.equal(value(ack, ack.segments[0], 9), 'ACK', 'MSH-9 ACK^A01^ACK');
  t.equal(value(ack, ack.segments[0], 9, 2), 'A01');
  t.equal(value(ack, ack.segments[0], 5), 'HIS', 'MSH-5 is the sender');
  t.equal(value(ack, ack.segments[0], 3), 'gw-test');
  t.same(beds(w), { 7: 'DOE, JANE Q' });
  t.equal(w.admissions.get('7')?.source, 'adt');
  t.equal(identifierOf(w, '7'), 'P100');
  t.same(w.changed, [['7']]);
  const [entry] = auditOf(w);
  t.match(entry, { action: 'admit', target: 'bed:7', detail: { source: 'adt', event: 'A01', controlId: 'C1' } });
  t.notMatch(JSON.stringify(w.audit.recent()), /P100|DOE|JANE/, 'no identifier or name in the audit trail');
  // A location mapped to a bed id of its own.
  t.equal(msa(await w.send({ event: 'A01', controlId: 'C2', patient: 'P200', location: 'ICU^2^A' })).code, 'AA');
  t.ok(w.admissions.get('icu-2a'));
});

t.test('a resend (same MSH-10 and content, new MSH-7) is answered AA and applied once', async (t) => {
  const w = ward(t);
  const spec = { event: 'A01', controlId: 'C1', patient: 'P100', location: '3B^301^7' };
  t.equal(msa(await w.send(spec)).code, 'AA');
  const again = adtMessage(spec).replace('|20261202090000+0000||', '|20261202090500+0000||');
  t.same(msa(await w.send(again)), { code: 'AA', controlId: 'C1', err: [] });
  t.equal(auditOf(w).length, 1, 'one audit entry');
  t.equal((w.db.prepare('SELECT count(*) AS n FROM admissions').get() as { n: number }).n, 1);
  t.same(w.changed, [['7']], 'the screens told once');
});

t.test('a reused MSH-10 with other content is refused AE, not taken for a resend', async (t) => {
  const w = ward(t);
  await w.send({ event: 'A01', controlId: 'C1', patient: 'P100', location: '3B^301^7' });
  const ack = msa(await w.send({ event: 'A03', controlId: 'C1', patient: 'P100', location: '3B^301^7' }));
  t.equal(ack.code, 'AE');
  t.same(ack.err, ['205 E WG_ERR_SEQ_CONFLICT']);
  t.ok(w.admissions.get('7'), 'still admitted');
});

t.test(
  'A02 moves the admission with the nurse entries; out of the ward it ends; A12 brings the patient back',
  async (t) => {
    const w = ward(t);
    await w.send({ event: 'A01', controlId: 'C1', patient: 'P100', location: '3B^301^7' });
    w.admissions.updateSettings('7', { spo2Scale: 2, onOxygen: true }, 'nurse-ann');
    t.equal(
      msa(
        await w.send({
          event: 'A02',
          controlId: 'C2',
          patient: 'P100',
          location: '3B^302^9',
          at: '20261202100000+0000',
        }),
      ).code,
      'AA',
    );
    t.same(Object.keys(beds(w)), ['9']);
    t.match(w.admissions.get('9'), { spo2Scale: 2, onOxygen: true }, 'the NEWS2 entries follow the patient');
    t.same(w.changed.at(-1), ['7', '9']);
    t.match(auditOf(w).at(-1), {
      action: 'transfer',
      target: 'bed:9',
      detail: { from: '7', event: 'A02', controlId: 'C2' },
    });
    t.same(
      Object.fromEntries(w.admissions.departed()),
      { 7: NOW },
      'bed 7 had a patient, who moved out (the alarm engine starts it so)',
    );
    // To another ward: no bed of ours holds the patient any more.
    t.equal(
      msa(
        await w.send({
          event: 'A02',
          controlId: 'C3',
          patient: 'P100',
          location: '4C^410^1',
          at: '20261202110000+0000',
        }),
      ).code,
      'AA',
    );
    t.same(beds(w), {});
    t.match(auditOf(w).at(-1), { action: 'adt-transfer-out', target: 'bed:9', detail: { admittedBy: 'adt' } });
    t.same(Object.fromEntries(w.admissions.departed()), { 7: NOW, 9: NOW });
    // The transfer is cancelled: PV1-3 is where the patient was before it.
    t.equal(
      msa(
        await w.send({
          event: 'A12',
          controlId: 'C4',
          patient: 'P100',
          location: '3B^302^9',
          at: '20261202111000+0000',
        }),
      ).code,
      'AA',
    );
    t.same(Object.keys(beds(w)), ['9']);
    t.same(
      Object.fromEntries(w.admissions.departed()),
      { 7: NOW, 9: NOW },
      'a bed with a patient in it keeps its last departure (the alarm engine tells it from the admission)',
    );
  },
);

t.test("departed(): when each bed's last patient left it, discharged, moved out or moved to another bed", async (t) => {
  let now = NOW;
  const w = ward(t, {}, () => now);
  const HOUR = 3_600_000;
  /** The event `hours` after NOW, received then. */
  const at = async (hours: number, spec: { event: string; patient: string; location?: string }) => {
    now = NOW + hours * HOUR;
    const evn = new Date(now).toISOString().replace(/[-:T]/g, '').slice(0, 14);
    t.equal(msa(await w.send({ ...spec, controlId: `C${hours}`, at: `${evn}+0000` })).code, 'AA');
  };
  await at(0, { event: 'A01', patient: 'P100', location: '3B^301^7' });
  await at(1, { event: 'A02', patient: 'P100', location: '3B^302^9' });
  await at(2, { event: 'A03', patient: 'P100', location: '3B^302^9' });
  // Bed 7 again: a discharge after the move out of it.
  await at(3, { event: 'A01', patient: 'P200', location: '3B^301^7' });
  await at(4, { event: 'A03', patient: 'P200', location: '3B^301^7' });
  // Bed 11: a move out after a discharge; bed 12 has had a patient and never lost one.
  await at(5, { event: 'A01', patient: 'P300', location: '3B^303^11' });
  await at(6, { event: 'A03', patient: 'P300', location: '3B^303^11' });
  await at(7, { event: 'A01', patient: 'P400', location: '3B^303^11' });
  await at(8, { event: 'A02', patient: 'P400', location: '3B^303^12' });
  // Bed 13: moved out of the ward.
  await at(9, { event: 'A01', patient: 'P500', location: '3B^304^13' });
  await at(10, { event: 'A02', patient: 'P500', location: '4C^410^1' });
  t.same(Object.fromEntries(w.admissions.departed()), {
    7: NOW + 4 * HOUR,
    9: NOW + 2 * HOUR,
    11: NOW + 8 * HOUR,
    13: NOW + 10 * HOUR,
  });
});

t.test('arrived(): when the patient in each bed came into it, admitted there or moved in', async (t) => {
  let now = NOW;
  const w = ward(t, {}, () => now);
  const HOUR = 3_600_000;
  /** The event `hours` after NOW, received then. */
  const at = async (hours: number, spec: { event: string; patient: string; location?: string }) => {
    now = NOW + hours * HOUR;
    const evn = new Date(now).toISOString().replace(/[-:T]/g, '').slice(0, 14);
    t.equal(msa(await w.send({ ...spec, controlId: `C${hours}`, at: `${evn}+0000` })).code, 'AA');
  };
  await at(0, { event: 'A01', patient: 'P100', location: '3B^301^7' });
  await at(1, { event: 'A01', patient: 'P200', location: '3B^302^9' });
  // P200 moves to bed 11, back to bed 9, and to bed 11 again: its latest move into bed 11 counts.
  await at(2, { event: 'A02', patient: 'P200', location: '3B^303^11' });
  await at(3, { event: 'A02', patient: 'P200', location: '3B^302^9' });
  await at(4, { event: 'A02', patient: 'P200', location: '3B^303^11' });
  // The move is cancelled: P200 is back in bed 9 from then.
  await at(5, { event: 'A12', patient: 'P200', location: '3B^302^9' });
  // P300 is admitted to bed 11 after P200 left it, then moved to bed 12.
  await at(6, { event: 'A01', patient: 'P300', location: '3B^303^11' });
  await at(7, { event: 'A02', patient: 'P300', location: '3B^303^12' });
  await at(8, { event: 'A01', patient: 'P400', location: '3B^303^11' });
  t.same(Object.fromEntries(w.admissions.arrived()), {
    7: NOW,
    9: NOW + 5 * HOUR,
    11: NOW + 8 * HOUR,
    12: NOW + 7 * HOUR,
  });
  t.equal(w.admissions.get('9')?.admittedAt, NOW + HOUR, 'the admission keeps its first time');
});

t.test('A03 discharges, A13 cancels the discharge, A11 cancels the admission, A08 renames', async (t) => {
  const w = ward(t);
  await w.send({ event: 'A01', controlId: 'C1', patient: 'P100', name: 'DOE^JANE', location: '3B^301^7' });
  await w.send({
    event: 'A08',
    controlId: 'C2',
    patient: 'P100',
    name: 'DOE-SMITH^JANE',
    location: '3B^301^7',
    at: '20261202093000+0000',
  });
  t.same(beds(w), { 7: 'DOE-SMITH, JANE' });
  t.match(auditOf(w).at(-1), { action: 'patient-update', target: 'bed:7' });
  // An A08 naming another bed moves nobody: moves come with A02.
  await w.send({
    event: 'A08',
    controlId: 'C2b',
    patient: 'P100',
    name: 'DOE-SMITH^JANE',
    location: '3B^301^8',
    at: '20261202093100+0000',
  });
  t.same(Object.keys(beds(w)), ['7']);
  await w.send({ event: 'A03', controlId: 'C3', patient: 'P100', location: '3B^301^7', at: '20261202100000+0000' });
  t.same(beds(w), {});
  t.match(auditOf(w).at(-1), { action: 'discharge', target: 'bed:7', detail: { source: 'adt', event: 'A03' } });
  await w.send({ event: 'A13', controlId: 'C4', patient: 'P100', location: '3B^301^7', at: '20261202101000+0000' });
  t.same(Object.keys(beds(w)), ['7']);
  await w.send({ event: 'A11', controlId: 'C5', patient: 'P100', location: '3B^301^7', at: '20261202102000+0000' });
  t.same(beds(w), {});
  t.match(auditOf(w).at(-1), { action: 'adt-cancel-admit' });
});

t.test('an event older than the last one applied for the patient changes nothing (out of order)', async (t) => {
  const w = ward(t);
  await w.send({ event: 'A01', controlId: 'C1', patient: 'P100', location: '3B^301^7', at: '20261202090000+0000' });
  await w.send({ event: 'A03', controlId: 'C3', patient: 'P100', location: '3B^301^7', at: '20261202110000+0000' });
  // The transfer of 10:00 arrives after the discharge of 11:00.
  t.equal(
    msa(
      await w.send({ event: 'A02', controlId: 'C2', patient: 'P100', location: '3B^301^8', at: '20261202100000+0000' }),
    ).code,
    'AA',
  );
  t.same(beds(w), {}, 'the discharge stands');
  t.equal(
    (w.db.prepare("SELECT outcome FROM adt_messages WHERE control_id = 'C2'").get() as { outcome: string }).outcome,
    'stale',
  );
  // Its resend is a resend.
  t.equal(
    msa(
      await w.send({ event: 'A02', controlId: 'C2', patient: 'P100', location: '3B^301^8', at: '20261202100000+0000' }),
    ).code,
    'AA',
  );
});

t.test('a discharge that changed nothing here still stops a late transfer into our bed', async (t) => {
  const w = ward(t);
  await w.send({ event: 'A01', controlId: 'C1', patient: 'P100', location: '3B^301^7', at: '20261202090000+0000' });
  await w.send({ event: 'A02', controlId: 'C2', patient: 'P100', location: '4C^410^1', at: '20261202100000+0000' });
  // Discharged from the other ward at 11:00: nothing to do here.
  await w.send({ event: 'A03', controlId: 'C4', patient: 'P100', location: '4C^410^1', at: '20261202110000+0000' });
  // A transfer of 10:30 back to our bed arrives late: the patient has gone home since.
  t.equal(
    msa(
      await w.send({ event: 'A02', controlId: 'C3', patient: 'P100', location: '3B^301^8', at: '20261202103000+0000' }),
    ).code,
    'AA',
  );
  t.same(beds(w), {});
});

t.test('the feed wins over the manual path, and says so in the audit trail', async (t) => {
  const w = ward(t);
  // The feed was down: the ward admitted by hand, with the hospital's identifier and authority.
  w.admissions.admit({ bed: '7', identifier: 'P100', authority: 'HOSP', displayName: 'Jane' }, 'biomed');
  w.admissions.admit({ bed: '8', identifier: 'P555', authority: 'HOSP' }, 'biomed');
  t.match(auditOf(w)[0], { action: 'admit', detail: { source: 'manual' } });
  // The feed confirms the first: the admission is adopted, not duplicated.
  await w.send({ event: 'A01', controlId: 'C1', patient: 'P100', name: 'DOE^JANE', location: '3B^301^7' });
  t.equal(w.admissions.get('7')?.source, 'adt');
  t.equal((w.db.prepare('SELECT count(*) AS n FROM admissions').get() as { n: number }).n, 2);
  t.match(auditOf(w).slice(-2), [
    { action: 'adt-adopt', target: 'bed:7' },
    { action: 'patient-update', target: 'bed:7' },
  ]);
  // The feed puts another patient in bed 8: the manual admission there ends, named as a conflict.
  await w.send({ event: 'A01', controlId: 'C2', patient: 'P200', location: '3B^301^8' });
  t.equal(identifierOf(w, '8'), 'P200');
  t.match(auditOf(w).slice(-2), [
    { action: 'adt-bed-conflict', target: 'bed:8', detail: { admittedBy: 'manual' } },
    { action: 'admit', target: 'bed:8' },
  ]);
  // A nurse discharges an ADT admission by hand; the feed's discharge later finds nothing to do.
  w.admissions.discharge('7', 'biomed');
  t.match(auditOf(w).at(-1), { action: 'discharge', detail: { source: 'manual', admittedBy: 'adt' } });
  t.equal(
    msa(
      await w.send({ event: 'A03', controlId: 'C3', patient: 'P100', location: '3B^301^7', at: '20261202100000+0000' }),
    ).code,
    'AA',
  );
  t.equal(auditOf(w).at(-1)?.action, 'discharge', 'no audit entry for a change that did not happen');
});

t.test('A40 merge: the open admission follows the surviving identifier', async (t) => {
  const w = ward(t);
  await w.send({ event: 'A01', controlId: 'C1', patient: 'TEMP77', location: '3B^301^7' });
  const before = w.admissions.get('7')!;
  await w.send({ event: 'A40', controlId: 'C2', patient: 'P100', prior: 'TEMP77' });
  t.equal(identifierOf(w, '7'), 'P100', 'the patient row took the surviving identifier');
  t.equal(w.admissions.get('7')?.admission, before.admission, 'same admission');
  t.match(auditOf(w).at(-1), { action: 'merge', target: 'bed:7', detail: { event: 'A40' } });
  // Both known: the prior one's admission moves to the survivor's row.
  await w.send({ event: 'A01', controlId: 'C3', patient: 'DUP1', location: '3B^301^8' });
  w.db
    .prepare("INSERT INTO patients (identifier, authority, first_seen, last_seen) VALUES ('P300', 'HOSP', 0, 0)")
    .run();
  await w.send({ event: 'A40', controlId: 'C4', patient: 'P300', prior: 'DUP1' });
  t.equal(identifierOf(w, '8'), 'P300');
  // A merge of patients the ward never had changes nothing and creates nothing.
  const patients = (w.db.prepare('SELECT count(*) AS n FROM patients').get() as { n: number }).n;
  t.equal(msa(await w.send({ event: 'A40', controlId: 'C5', patient: 'X1', prior: 'X2' })).code, 'AA');
  t.equal((w.db.prepare('SELECT count(*) AS n FROM patients').get() as { n: number }).n, patients);
});

t.test("another ward's patients: accepted, nothing stored about them", async (t) => {
  const w = ward(t);
  t.equal(msa(await w.send({ event: 'A01', controlId: 'C1', patient: 'P900', location: '4C^410^1' })).code, 'AA');
  t.equal(
    msa(await w.send({ event: 'A01', controlId: 'C2', patient: 'P901', location: '3B' })).code,
    'AA',
    'our unit, no bed yet',
  );
  t.equal((w.db.prepare('SELECT count(*) AS n FROM patients').get() as { n: number }).n, 0);
  t.equal(
    (w.db.prepare('SELECT count(*) AS n FROM adt_messages').get() as { n: number }).n,
    0,
    'not even their control ids: no write for them',
  );
  t.same(w.audit.recent(), []);
  t.same(w.changed, []);
});

t.test(
  'refusals: sender, message type, identifier, bed id; events not used and demo data are AA without effect',
  async (t) => {
    const w = ward(t, { senders: [{ application: 'HIS', addresses: ['10.0.0.5'] }] });
    const a01 = { event: 'A01', controlId: 'C1', patient: 'P100', location: '3B^301^7' };
    t.same(msa(await w.send({ ...a01, sender: 'LAB' })).err, ['207 E WG_ERR_HL7_SENDER']);
    t.equal(msa(await w.send({ ...a01, sender: 'LAB' })).code, 'AR');
    t.equal(msa(await w.send(a01, '10.0.0.6')).code, 'AR', 'listed, but not from that address');
    t.match(msa(await w.send(adtMessage(a01).replace('ADT^A01^ADT_A01', 'ORU^R01^ORU_R01'))), {
      code: 'AR',
      err: ['200 E WG_ERR_HL7_UNSUPPORTED'],
    });
    t.match(msa(await w.send(adtMessage(a01).replace('^^^HOSP^MR', '^^^HOSP^XX'))), {
      code: 'AE',
      err: ['101 E WG_ERR_HL7_PATIENT'],
    });
    t.match(msa(await w.send({ ...a01, location: '3B^301^bed/1' })), { code: 'AR', err: ['102 E WG_ERR_HL7_FORMAT'] });
    t.match(msa(await w.send({ ...a01, event: 'A31' })), { code: 'AA', err: ['201 I WG_ERR_HL7_UNSUPPORTED'] });
    t.match(msa(await w.send(adtMessage(a01).replace('|P|2.5', '|T|2.5'))), {
      code: 'AA',
      err: ['0 I WG_ERR_HL7_DEMO'],
    });
    t.match(msa(await w.send('not hl7 at all')), { code: 'AR', controlId: '' });
    t.same(beds(w), {}, 'none of them admitted anyone');
    t.equal(msa(await w.send(a01)).code, 'AA', 'the same admission from the listed sender');
  },
);

t.test('the store failing: AR, nothing applied, the resend is applied', async (t) => {
  const w = ward(t);
  w.db.exec('ALTER TABLE adt_messages RENAME TO adt_messages_away');
  const spec = { event: 'A01', controlId: 'C1', patient: 'P100', location: '3B^301^7' };
  t.match(msa(await w.send(spec)), { code: 'AR', err: ['207 E WG_ERR_STORE'] });
  t.same(beds(w), {});
  w.db.exec('ALTER TABLE adt_messages_away RENAME TO adt_messages');
  t.equal(msa(await w.send(spec)).code, 'AA');
  t.same(Object.keys(beds(w)), ['7']);
});
