// The HL7 listener through a real TCP client: single, pipelined and split
// messages, retransmissions, malformed input, allow-lists, several
// connections; ACKs checked against what is stored.
import t from 'tap';
import type { Gateway } from '../../../edge/gateway.js';
import { readStatus } from '../../../edge/store/statusQuery.js';
import { pcd01Message, tenVitals } from '../../../simulators/pcd01.js';
import { freePort, waitFor } from '../../helpers/env.js';
import { startTestGateway } from '../../helpers/gateway.js';
import { MllpClient } from '../../helpers/mllp.js';

t.setTimeout(120_000);

const TS = Date.now() - 60_000;
const PATIENT = { id: 'MRN-4711', authority: 'HOSP' };
const LOCATION = { unit: '3B', room: '12', bed: '12' };
const msg = (i: number, extra: Partial<Parameters<typeof pcd01Message>[0]> = {}) =>
  pcd01Message({
    controlId: `C${i}`,
    ts: TS + i * 1000,
    patient: PATIENT,
    location: LOCATION,
    equipment: 'MON-0012345678ABCDEF',
    metrics: tenVitals(i),
    ...extra,
  });

/** The test monitors send as MONITOR (MSH-3) and name bed 12: listed as a sender that may register its equipment there. */
const SENDERS = [{ application: 'MONITOR', beds: ['12'] }];

async function withHl7(t: Parameters<typeof startTestGateway>[0], hl7: Record<string, unknown> = {}) {
  const port = await freePort();
  const { gateway } = await startTestGateway(t, { extra: { hl7: { port, senders: SENDERS, ...hl7 } } });
  return { gateway, port };
}

const rows = <T>(g: Gateway, sql: string, ...p: unknown[]) => g.db!.prepare(sql).all(...p) as T[];
const readingCount = (g: Gateway) => (g.db!.prepare('SELECT count(*) AS n FROM readings').get() as { n: number }).n;
async function metric(g: Gateway, name: string, labels: string): Promise<number> {
  const text = await g.metrics!.registry.metrics();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}} `));
  return line ? Number(line.split(' ')[1]) : 0;
}

t.test(
  'one PCD-01 message: AA after commit, readings normalized, patient and bed associated, device registered',
  async (t) => {
    const { gateway, port } = await withHl7(t);
    t.equal(gateway.ports.hl7, port);
    const client = await MllpClient.connect(t, port);
    client.send(msg(1));
    const [ack] = await client.waitForAcks(1);
    t.same([ack.code, ack.controlId], ['AA', 'C1']);
    t.equal(ack.err, undefined);
    // The ACK is the promise: the rows exist when it arrives.
    const stored = rows<{ code: string; value: number; bed: string; patient: number; ts: number }>(
      gateway,
      'SELECT code, value, bed, patient, ts FROM readings ORDER BY code',
    );
    t.equal(stored.length, 10);
    t.match(
      stored.find((r) => r.code === 'temp'),
      { value: 36.6, bed: '12', ts: TS + 1000 },
    );
    t.match(
      stored.find((r) => r.code === 'fio2'),
      { value: 22 },
    );
    const patients = rows<{ id: number; identifier: string; authority: string; id_type: string }>(
      gateway,
      'SELECT id, identifier, authority, id_type FROM patients',
    );
    t.same(
      patients.map(({ identifier, authority, id_type }) => ({ identifier, authority, id_type })),
      [{ identifier: 'MRN-4711', authority: 'HOSP', id_type: 'MR' }],
    );
    t.ok(
      stored.every((r) => r.patient === patients[0].id),
      'every reading points to the patient',
    );
    const status = readStatus(gateway.db!);
    t.match(
      status.devices.find((d) => d.id === 'MON-0012345678ABCDEF'),
      { source: 'hl7', bed: '12', declared: false },
    );
    t.equal(status.readings.total, 10);
    t.equal(await metric(gateway, 'wardgate_hl7_messages_total', 'ack="AA"'), 1);
    t.equal(await metric(gateway, 'wardgate_hl7_obx_skipped_total', 'reason="hierarchy"'), 2);
  },
);

t.test('pipelined messages on one connection: one ACK each, in order; a retransmission is stored once', async (t) => {
  const { gateway, port } = await withHl7(t);
  const client = await MllpClient.connect(t, port);
  client.write(Buffer.concat(Array.from({ length: 100 }, (_, i) => Buffer.from(`\x0b${msg(i)}\x1c\r`))));
  const acks = await client.waitForAcks(100);
  t.same(
    acks.map((a) => a.controlId),
    Array.from({ length: 100 }, (_, i) => `C${i}`),
    'ACKs in message order',
  );
  t.ok(acks.every((a) => a.code === 'AA'));
  t.equal(readingCount(gateway), 1000);
  // A monitor that lost an ACK resends, possibly under a new control id.
  client.send(msg(5));
  client.send(msg(6).replace('|C6|P|', '|C6-RETRY|P|'));
  const again = await client.waitForAcks(102);
  t.same(
    again.slice(100).map((a) => [a.code, a.controlId]),
    [
      ['AA', 'C5'],
      ['AA', 'C6-RETRY'],
    ],
  );
  t.equal(readingCount(gateway), 1000, 'nothing stored twice');
  t.equal(await metric(gateway, 'wardgate_ingest_messages_total', 'source="hl7",outcome="duplicate"'), 2);
});

t.test('a message split across packets, byte by byte and in odd pieces, with junk around frames', async (t) => {
  const { gateway, port } = await withHl7(t);
  const client = await MllpClient.connect(t, port);
  const bytes = Buffer.from(`junk\x0b${msg(1)}\x1c\r\r\n\x0b${msg(2)}\x1c\r`);
  for (let i = 0; i < bytes.length;) {
    const n = i < 200 ? 1 : 97;
    client.write(bytes.subarray(i, i + n));
    i += n;
    if (i % 50 === 0) await new Promise((r) => setTimeout(r, 1));
  }
  const acks = await client.waitForAcks(2);
  t.same(
    acks.map((a) => [a.code, a.controlId]),
    [
      ['AA', 'C1'],
      ['AA', 'C2'],
    ],
  );
  t.equal(readingCount(gateway), 20);
  t.equal(
    await metric(gateway, 'wardgate_hl7_frame_errors_total', 'fault="junk"'),
    2,
    'junk before and between frames counted',
  );
});

t.test(
  'malformed and unusable messages: AR/AE with MSA and ERR, dead-lettered without patient data, nothing half-stored',
  async (t) => {
    const { gateway, port } = await withHl7(t, { maxMessageBytes: 4096 });
    const client = await MllpClient.connect(t, port);
    const badUnit = msg(3).replace('262688^MDC_DIM_PERCENT^MDC|||||R|||', 'kPa^kPa^UCUM|||||R|||');
    const cases: Array<[string, string, string, RegExp]> = [
      ['not HL7', 'hello there', 'AR', /^ERR\|\|\|100\^Segment sequence error\^HL70357\|E\|WG_ERR_HL7_FORMAT/],
      ['ADT', msg(1).replace('ORU^R01^ORU_R01', 'ADT^A01^ADT_A01'), 'AR', /^ERR\|\|MSH\^1\^9\|200\^/],
      // One row refused, the rest stored: AA, and the row named in an ERR of severity W (warning).
      [
        'SpO2 in kPa',
        badUnit,
        'AA',
        /^ERR\|\|OBX\^9\^6\|103\^Table value not found\^HL70357\|W\|WG_ERR_UNIT\^\^WARDGATE\|\|\|OBX-6: 'kPa' does not fit spo2/,
      ],
      ['too large', msg(4) + `NTE|1||${'x'.repeat(5000)}\r`, 'AR', /WG_ERR_TOO_LARGE/],
      ['future', msg(5, { ts: Date.now() + 3_600_000 }), 'AE', /WG_ERR_TIMESTAMP/],
    ];
    for (const [, text] of cases) client.send(text);
    client.send(msg(6));
    const acks = await client.waitForAcks(cases.length + 1);
    cases.forEach(([name, , code, err], i) => {
      t.equal(acks[i].code, code, `${name}: ${code}`);
      t.match(acks[i].err, err, `${name}: ERR`);
    });
    t.same(
      [acks[1].controlId, acks[2].controlId, acks[3].controlId],
      ['C1', 'C3', 'C4'],
      'MSA-2 echoes MSH-10 when it can be read',
    );
    t.same([acks[cases.length].code, acks[cases.length].controlId], ['AA', 'C6'], 'the connection keeps working');
    t.equal(
      readingCount(gateway),
      19,
      'the good message and the 9 good rows beside the kPa one are stored; a refused message leaves no readings',
    );
    const letters = rows<{ reason: string; source: string; raw: Buffer; field: string | null }>(
      gateway,
      'SELECT reason, source, raw, field FROM dead_letters ORDER BY id',
    );
    t.same(
      letters.map((l) => l.reason),
      [
        'WG_ERR_HL7_FORMAT',
        'WG_ERR_HL7_UNSUPPORTED',
        'WG_ERR_UNIT',
        'WG_ERR_TOO_LARGE',
        ...Array(10).fill('WG_ERR_TIMESTAMP'),
      ],
      'each refused row is a dead letter of its own',
    );
    t.equal(letters[2].field, 'OBX(9)-6');
    t.ok(
      letters.every(
        (l) => l.source === 'hl7' && !l.raw.toString().includes('MRN-4711') && !l.raw.toString().includes('Doe'),
      ),
      'no patient identifier in dead letters',
    );
    t.equal(await metric(gateway, 'wardgate_hl7_messages_total', 'ack="AE"'), 1);
    t.equal(await metric(gateway, 'wardgate_hl7_messages_total', 'ack="AR"'), 3);
  },
);

t.test('allow-lists: an unknown sending application gets AR; an address not listed is disconnected', async (t) => {
  const { gateway, port } = await withHl7(t, { allowedApplications: ['MONITOR'] });
  const client = await MllpClient.connect(t, port);
  client.send(msg(1, { sendingApplication: 'ROGUE' }));
  client.send(msg(2));
  const acks = await client.waitForAcks(2);
  t.same(
    acks.map((a) => a.code),
    ['AR', 'AA'],
  );
  t.match(acks[0].err, /WG_ERR_HL7_SENDER/);
  t.equal(readingCount(gateway), 10);

  const other = await withHl7(t, { allowedAddresses: ['192.0.2.10'] });
  const refused = await MllpClient.connect(t, other.port);
  refused.send(msg(1));
  await waitFor(() => (refused.closed ? true : undefined), 5000, 'the connection to be closed');
  t.equal(refused.acks.length, 0);
  t.equal(readingCount(other.gateway), 0);
});

t.test('several connections at once, each pipelining', async (t) => {
  const { gateway, port } = await withHl7(t);
  const clients = await Promise.all(Array.from({ length: 8 }, () => MllpClient.connect(t, port)));
  clients.forEach((c, k) => {
    for (let i = 0; i < 25; i++) c.send(msg(k * 100 + i, { equipment: `MON-${k}`, ts: TS + i * 1000 }));
  });
  const all = await Promise.all(clients.map((c) => c.waitForAcks(25)));
  t.ok(
    all.every((acks, k) => acks.every((a, i) => a.code === 'AA' && a.controlId === `C${k * 100 + i}`)),
    'each connection gets its own ACKs, in order',
  );
  t.equal(readingCount(gateway), 8 * 25 * 10);
  t.equal(readStatus(gateway.db!).devices.filter((d) => d.source === 'hl7').length, 8, 'eight monitors registered');
});
