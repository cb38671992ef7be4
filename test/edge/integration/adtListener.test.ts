// The ADT feed in, end to end: a running gateway with hl7.adt, and
// @medplum/hl7 (an HL7 implementation the gateway does not use) playing the
// hospital's ADT system over a real loopback socket, sending the published
// samples of test/corpus/hl7/adt/ and parsing the ACKs with its own parser.
// The ACK fields a sending system relies on are asserted: MSH-9 answering
// the trigger, MSH-5/6 echoing the sender, MSA-1 and MSA-2, ERR-3/4/5.
import t, { type Test } from 'tap';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { Hl7Message } from '@medplum/core';
import { Hl7Client } from '@medplum/hl7';
import type { Gateway } from '../../../edge/gateway.js';
import { mllpFrame } from '../../../edge/hl7/mllp.js';
import { adtCorpus, adtMessage } from '../../helpers/adt.js';
import { freePort, tempDir, waitFor } from '../../helpers/env.js';
import { startTestGateway } from '../../helpers/gateway.js';
import { selfSignedCert } from '../../helpers/tls.js';

t.setTimeout(60_000);

async function adtGateway(t: Test, adt: Record<string, unknown>) {
  const port = await freePort();
  const { gateway } = await startTestGateway(t, { extra: { hl7: { port: 0, adt: { port, ...adt } } } });
  const client = new Hl7Client({ host: '127.0.0.1', port, connectTimeout: 2000 });
  t.teardown(() => client.close());
  const send = (text: string) => client.sendAndWait(Hl7Message.parse(text), { timeoutMs: 5000 });
  return { gateway, port, client, send };
}

function msa(ack: Hl7Message): [string, string] {
  const m = ack.getSegment('MSA')!;
  return [m.getField(1).toString(), m.getField(2).toString()];
}

function err(ack: Hl7Message): string[] {
  return ack
    .getAllSegments('ERR')
    .map((e) => `${e.getComponent(3, 1)} ${e.getField(4).toString()} ${e.getComponent(5, 1)}`);
}

function admitted(gateway: Gateway): Array<{ bed: string; identifier: string; source: string }> {
  return gateway
    .db!.prepare(
      'SELECT a.bed, p.identifier, a.source FROM admissions a JOIN patients p ON p.id = a.patient WHERE a.discharged_at IS NULL ORDER BY a.bed',
    )
    .all() as Array<{ bed: string; identifier: string; source: string }>;
}

function audit(gateway: Gateway): Array<{ action: string; target: string | null; detail: Record<string, unknown> }> {
  return (
    gateway.db!.prepare("SELECT action, target, detail FROM audit WHERE actor = 'adt' ORDER BY id").all() as Array<{
      action: string;
      target: string | null;
      detail: string;
    }>
  ).map((r) => ({ ...r, detail: JSON.parse(r.detail) as Record<string, unknown> }));
}

t.test('the AccMgr samples, in the order a ward would see them', async (t) => {
  const { gateway, send } = await adtGateway(t, {
    senders: [{ application: 'AccMgr', facility: '1' }],
    identifier: { typeCode: 'MRN' },
    locations: [
      { pointOfCare: 'IN1', room: '214', bed: '1', wardBed: 'in1-214-1' },
      { pointOfCare: 'PREOP', room: '101', bed: '1', wardBed: 'preop-101-1' },
    ],
  });
  // A13 cancels a discharge: the patient is back in PREOP 101 bed 1.
  let ack = await send(adtCorpus('accmgr-a13-cancel-discharge.hl7'));
  t.same(msa(ack), ['AA', '599102']);
  t.equal(ack.header.getField(9).toString(), 'ACK^A13^ACK', 'MSH-9 answers the trigger');
  t.equal(ack.header.getField(5).toString(), 'AccMgr', 'MSH-5: the sender');
  t.equal(ack.header.getField(6).toString(), '1', 'MSH-6: its facility');
  t.equal(ack.header.getField(3).toString(), 'gw-test', 'MSH-3: the gateway');
  t.equal(ack.header.getField(12).toString(), '2.3', 'MSH-12: the version it was sent in');
  t.same(admitted(gateway), [{ bed: 'preop-101-1', identifier: '10006579', source: 'adt' }]);
  // A02 moves the patient to IN1 214 bed 1.
  ack = await send(adtCorpus('accmgr-a02-transfer.hl7'));
  t.same(msa(ack), ['AA', '59910287']);
  t.same(
    admitted(gateway).map((a) => a.bed),
    ['in1-214-1'],
  );
  // The A08 carries the A02's control id with other content: a sender fault, refused, not taken for a resend.
  ack = await send(adtCorpus('accmgr-a08-update.hl7'));
  t.same(msa(ack), ['AE', '59910287']);
  t.same(err(ack), ['205 E WG_ERR_SEQ_CONFLICT']);
  // A03 discharges; a resend of it (the ACK lost) is answered AA once more, applied once.
  ack = await send(adtCorpus('accmgr-a03-discharge.hl7'));
  t.same(msa(ack), ['AA', '59912415']);
  t.same(admitted(gateway), []);
  ack = await send(adtCorpus('accmgr-a03-discharge.hl7'));
  t.same(msa(ack), ['AA', '59912415']);
  t.same(err(ack), []);
  t.same(
    audit(gateway).map((a) => [a.action, a.target, a.detail.event, a.detail.controlId]),
    [
      ['admit', 'bed:preop-101-1', 'A13', '599102'],
      ['transfer', 'bed:in1-214-1', 'A02', '59910287'],
      ['discharge', 'bed:in1-214-1', 'A03', '59912415'],
    ],
  );
  t.notMatch(JSON.stringify(audit(gateway)), /10006579|DUCK|DONALD/, 'no identifier or name in the audit trail');
});

t.test('the standard A01 and a merge (A40), and a sender that names no application', async (t) => {
  const { gateway, send } = await adtGateway(t, {
    senders: [{ application: 'ADT1' }, { application: 'EPIC', facility: 'HOSPITAL_A' }],
    locations: [{ pointOfCare: '2000' }],
  });
  let ack = await send(adtCorpus('hl7-standard-a01-admit.hl7'));
  t.same(msa(ack), ['AA', 'MSG00001']);
  t.equal(ack.header.getField(9).toString(), 'ACK^A01^ACK');
  t.same(admitted(gateway), [{ bed: '01', identifier: 'PATID1234', source: 'adt' }]);
  const bed = gateway.db!.prepare("SELECT display_name FROM admissions WHERE bed = '01'").get() as {
    display_name: string;
  };
  t.equal(bed.display_name, 'SMITH, WILLIAM A', 'PID-5 shown on the ward');
  // The hospital registered a second record for someone now in bed 02, then merges it (the published A40's identifiers).
  const duplicate = adtCorpus('hl7-standard-a01-admit.hl7')
    .replace('PATID1234^5^M11^ADT1^MR^MCM', '999999^^^HOSP_A^MR')
    .replace('MSG00001', 'MSG00002')
    .replace('2000^2012^01', '2000^2012^02');
  t.same(msa(await send(duplicate)), ['AA', 'MSG00002']);
  ack = await send(adtCorpus('majware-a40-merge.hl7'));
  t.same(msa(ack), ['AA', 'MSG00025']);
  t.equal(ack.header.getField(9).toString(), 'ACK^A40^ACK');
  t.same(
    admitted(gateway).map((a) => [a.bed, a.identifier]),
    [
      ['01', 'PATID1234'],
      ['02', '123456'],
    ],
    'bed 02 follows the surviving identifier',
  );
  // An outpatient registration from a sender with an empty MSH-3: not a listed sender.
  ack = await send(adtCorpus('vinah-a04-outpatient.hl7'));
  t.same(msa(ack), ['AR', '12334456778890']);
  t.same(err(ack), ['207 E WG_ERR_HL7_SENDER']);
  t.equal(ack.header.getField(9).toString(), 'ACK^A04^ACK');
});

t.test(
  "pipelined messages are answered in order, each after its commit; the ward's screens and status follow",
  async (t) => {
    const { gateway, port } = await adtGateway(t, {
      senders: [{ application: 'HIS' }],
      locations: [{ pointOfCare: '3B' }],
    });
    // A raw MLLP writer: the whole burst leaves before the first ACK comes back.
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = connect(port, '127.0.0.1', () => resolve(s)).on('error', reject);
    });
    t.teardown(() => socket.destroy());
    const acks = collectAcks(socket);
    const messages = Array.from({ length: 20 }, (_, i) =>
      adtMessage({ event: 'A01', controlId: `B${i}`, patient: `P${i}`, location: `3B^1^${i + 1}` }),
    );
    socket.write(Buffer.concat(messages.map((m) => mllpFrame(m))));
    await waitFor(() => (acks.length === 20 ? true : undefined), 5000, 'twenty ACKs');
    t.same(
      acks.map(msa),
      messages.map((_, i) => ['AA', `B${i}`]),
      'in the order sent',
    );
    t.equal(admitted(gateway).length, 20);
    t.ok(admitted(gateway).every((a) => a.source === 'adt'));
    // The link's status, as `wardgate status` reads it from the data directory.
    const file = join(gateway.config.gateway.dataDir, 'adt-status.json');
    const status = await waitFor(
      () => {
        const s = JSON.parse(readFileSync(file, 'utf8')) as {
          answers: Record<string, number>;
          events: Record<string, number>;
          connections: number;
          port: number;
          lastMessageTs: string | null;
        };
        return s.answers.applied === 20 ? s : undefined;
      },
      5000,
      'the status file',
    );
    t.match(status, { port, connections: 1, events: { A01: 20 } });
    t.ok(status.lastMessageTs);
  },
);

t.test(
  'an engine connected and silent for hours keeps its link; when all slots are taken, a silent one gives way',
  async (t) => {
    const { gateway, port, send } = await adtGateway(t, {
      senders: [{ application: 'HIS' }],
      locations: [{ pointOfCare: '3B' }],
      maxConnections: 1,
    });
    const silent = await new Promise<Socket>((resolve, reject) => {
      const s = connect(port, '127.0.0.1', () => resolve(s)).on('error', reject);
    });
    t.teardown(() => silent.destroy());
    const closed = new Promise<void>((resolve) => silent.once('close', () => resolve()));
    // The second connection (the medplum client) takes the silent one's slot, and is answered.
    const ack = await send(adtMessage({ event: 'A01', controlId: 'S1', patient: 'P1', location: '3B^1^2' }));
    t.same(msa(ack), ['AA', 'S1']);
    await closed;
    t.same(
      admitted(gateway).map((a) => a.bed),
      ['2'],
    );
    // A third connection finds the only slot held by a sender that spoke: refused, the feed's link unharmed.
    const third = await new Promise<Socket>((resolve, reject) => {
      const s = connect(port, '127.0.0.1', () => resolve(s)).on('error', reject);
    });
    await new Promise<void>((resolve) => third.once('close', () => resolve()));
    t.same(
      msa(
        await send(
          adtMessage({ event: 'A02', controlId: 'S2', patient: 'P1', location: '3B^1^3', at: '20261202100000+0000' }),
        ),
      ),
      ['AA', 'S2'],
    );
  },
);

t.test('TLS where the site has it: the ADT port speaks MLLP inside TLS only', async (t) => {
  const dir = tempDir(t);
  const { cert, key } = selfSignedCert(dir, 'cert', 'ward.example');
  const { gateway, port } = await adtGateway(t, {
    senders: [{ application: 'HIS' }],
    locations: [{ pointOfCare: '3B' }],
    tls: { cert, key },
  });
  const socket = await new Promise<Socket>((resolve, reject) => {
    const s = tlsConnect({ host: '127.0.0.1', port, servername: 'ward.example', ca: readFileSync(cert) }, () =>
      resolve(s),
    ).on('error', reject);
  });
  t.teardown(() => socket.destroy());
  const acks = collectAcks(socket);
  socket.write(mllpFrame(adtMessage({ event: 'A01', controlId: 'T1', patient: 'P1', location: '3B^1^4' })));
  await waitFor(() => (acks.length === 1 ? true : undefined), 5000, 'the ACK over TLS');
  t.same(msa(acks[0]), ['AA', 'T1']);
  t.same(
    admitted(gateway).map((a) => a.bed),
    ['4'],
  );
  // Plain MLLP on the TLS port is not understood: no ACK, nothing applied.
  const plain = await new Promise<Socket>((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => resolve(s)).on('error', reject);
  });
  t.teardown(() => plain.destroy());
  const plainAcks = collectAcks(plain);
  plain.write(mllpFrame(adtMessage({ event: 'A01', controlId: 'T2', patient: 'P2', location: '3B^1^5' })));
  await new Promise<void>((resolve) => plain.once('close', () => resolve()));
  t.equal(plainAcks.length, 0);
  t.same(
    admitted(gateway).map((a) => a.bed),
    ['4'],
  );
});

/** ACKs as they arrive on a socket, parsed by @medplum/core. */
function collectAcks(socket: Socket): Hl7Message[] {
  const acks: Hl7Message[] = [];
  let buffered = '';
  socket.on('data', (d: Buffer) => {
    buffered += d.toString('utf8');
    let end: number;
    while ((end = buffered.indexOf('\x1c\r')) >= 0) {
      acks.push(Hl7Message.parse(buffered.slice(buffered.indexOf('\x0b') + 1, end)));
      buffered = buffered.slice(end + 2);
    }
  });
  return acks;
}
