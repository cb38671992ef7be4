// The listener the alarm manager sends its PCD-05 status reports to, over a
// real loopback socket, with @medplum/hl7 playing the alarm manager.
import t from 'tap';
import { Hl7Message } from '@medplum/core';
import { Hl7Client } from '@medplum/hl7';
import { readFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import type { Rejection } from '../../../shared/errors.js';
import { createLogger } from '../../../edge/log.js';
import { AlarmStatusListener } from '../../../edge/integration/alarmStatusListener.js';
import type { AckReport, AlarmStatusReport } from '../../../edge/integration/alarmStatus.js';
import { tempDir } from '../../helpers/env.js';
import { selfSignedCert } from '../../helpers/tls.js';

async function started(
  t: { teardown(fn: () => unknown): void },
  onStatus: (r: AlarmStatusReport) => Rejection | undefined,
  acks: AckReport[] = [],
) {
  const listener = new AlarmStatusListener({
    host: '127.0.0.1',
    port: 0,
    allowedAddresses: [],
    application: 'WARDGATE',
    facility: '3B',
    log: createLogger('silent'),
    onStatus,
    onAck: (a) => acks.push(a),
  });
  await listener.start();
  t.teardown(() => listener.stop());
  const client = new Hl7Client({ host: '127.0.0.1', port: listener.port!, connectTimeout: 2000 });
  t.teardown(() => client.close());
  return { listener, client };
}

const pcd05 = (controlId: string, alarmId: string, status: string) =>
  Hl7Message.parse(
    [
      `MSH|^~\\&|NURSECALL|HOSP|WARDGATE|3B|20261202093012+0000||ORA^R41^ORA_R41|${controlId}|P|2.7`,
      `OBR|1|${alarmId}^gw|${alarmId}^gw|196616^MDC_EVT_ALARM^MDC`,
      `PRT|1|UC|${status}|RCT|N123^Smith^Anna||||3B^Bay 2|PHONE-0451`,
    ].join('\r'),
  );

t.test('each status report is answered ACK^R41 AA, and handed over with who and where', async (t) => {
  const seen: AlarmStatusReport[] = [];
  const { client } = await started(t, (r) => void seen.push(r));
  const ack = await client.sendAndWait(pcd05('NC-1', 'alarm-1', 'Accepted'), { timeoutMs: 5000 });
  t.equal(ack.header.getField(9).toString(), 'ACK^R41^ACK');
  t.equal(ack.getSegment('MSA')!.getField(1).toString(), 'AA');
  t.equal(ack.getSegment('MSA')!.getField(2).toString(), 'NC-1', "MSA-2: the manager's control id");
  t.same(
    [3, 4, 5, 6, 11, 12].map((n) => ack.header.getField(n).toString()),
    ['WARDGATE', '3B', 'NURSECALL', 'HOSP', 'P', '2.7'],
    'addressed back to the manager, in its version',
  );
  t.equal(seen.length, 1);
  t.match(seen[0], {
    alarmId: 'alarm-1',
    manager: 'NURSECALL',
    recipients: [{ status: 'accepted', personName: 'Anna Smith', device: 'PHONE-0451', location: '3B Bay 2' }],
  });
  const second = await client.sendAndWait(pcd05('NC-2', 'alarm-1', 'Read'), { timeoutMs: 5000 });
  t.equal(second.getSegment('MSA')!.getField(2).toString(), 'NC-2', 'several reports on one connection, each answered');
});

t.test('a status the gateway cannot apply is answered AE with the reason; a message of another kind AR', async (t) => {
  const { client } = await started(t, () => ({
    code: 'WG_ERR_NOT_FOUND',
    message: 'no alarm alarm-9 was reported to the alarm manager',
  }));
  const refused = await client.sendAndWait(pcd05('NC-3', 'alarm-9', 'Accepted'), { timeoutMs: 5000 });
  t.equal(refused.getSegment('MSA')!.getField(1).toString(), 'AE');
  t.match(refused.getSegment('ERR')!.toString(), /WG_ERR_NOT_FOUND/);
  const other = await client.sendAndWait(
    Hl7Message.parse('MSH|^~\\&|NURSECALL|HOSP|WARDGATE|3B|20261202093012+0000||ORU^R01^ORU_R01|NC-4|P|2.6\rOBR|1\r'),
    { timeoutMs: 5000 },
  );
  t.equal(other.getSegment('MSA')!.getField(1).toString(), 'AR');
  t.equal(other.getSegment('MSA')!.getField(2).toString(), 'NC-4');
  const noPrt = await client.sendAndWait(
    Hl7Message.parse(
      'MSH|^~\\&|NURSECALL|HOSP|WARDGATE|3B|20261202093012+0000||ORA^R41^ORA_R41|NC-5|P|2.7\rOBR|1||a1\r',
    ),
    { timeoutMs: 5000 },
  );
  t.equal(noPrt.getSegment('MSA')!.getField(1).toString(), 'AE');
  t.match(noPrt.getSegment('ERR')!.toString(), /WG_ERR_SCHEMA/);
});

t.test('a plain ACK is read and not answered; the next message still is', async (t) => {
  const acks: AckReport[] = [];
  const seen: AlarmStatusReport[] = [];
  const { listener } = await started(t, (r) => void seen.push(r), acks);
  const socket = createConnection({ host: '127.0.0.1', port: listener.port! });
  t.teardown(() => socket.destroy());
  const received: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => received.push(chunk));
  const frame = (text: string) => Buffer.concat([Buffer.from([0x0b]), Buffer.from(text), Buffer.from([0x1c, 0x0d])]);
  socket.write(
    frame('MSH|^~\\&|NURSECALL|HOSP|WARDGATE|3B|20261202093012+0000||ACK^R40^ACK|NC-6|P|2.6\rMSA|AA|AM42\r'),
  );
  socket.write(frame(pcd05('NC-7', 'alarm-2', 'Delivered').toString()));
  const deadline = Date.now() + 5000;
  while (!Buffer.concat(received).includes(0x1c) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  await new Promise((r) => setTimeout(r, 100));
  const answers = Buffer.concat(received).toString().split('\x1c\r').filter(Boolean);
  t.equal(answers.length, 1, 'one answer: for the status report, none for the ACK');
  t.match(answers[0], /MSA\|AA\|NC-7/);
  t.match(acks, [{ code: 'AA', answers: 'AM42', manager: 'NURSECALL' }]);
  t.equal(seen.length, 1);
});

t.test(
  'a message that does not parse, or is too large, is still answered to its sender with its control id',
  async (t) => {
    const seen: AlarmStatusReport[] = [];
    const { listener } = await started(t, (r) => void seen.push(r));
    const socket = createConnection({ host: '127.0.0.1', port: listener.port! });
    t.teardown(() => socket.destroy());
    const received: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => received.push(chunk));
    const frame = (text: string) => Buffer.concat([Buffer.from([0x0b]), Buffer.from(text), Buffer.from([0x1c, 0x0d])]);
    const header = (id: string) =>
      `MSH|^~\\&|NURSECALL|HOSP|WARDGATE|3B|20261202093012+0000||ORA^R41^ORA_R41|${id}|P|2.7\r`;
    socket.write(frame(`${header('NC-8')}1X|not a segment\r`));
    socket.write(frame(`${header('NC-9')}NTE|1||${'x'.repeat(70_000)}\r`));
    const answers = () => Buffer.concat(received).toString().split('\x1c\r').filter(Boolean);
    const deadline = Date.now() + 5000;
    while (answers().length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    const [broken, large] = answers().map((a) => a.slice(1).split('\r'));
    t.match(broken[0], /^MSH\|\^~\\&\|WARDGATE\|3B\|NURSECALL\|HOSP\|\d+[+-]\d{4}\|\|ACK\^R41\^ACK\|WGS1\|P\|2\.7$/);
    t.match(broken[1], /^MSA\|AE\|NC-8\|/);
    t.match(broken[2], /WG_ERR_HL7_FORMAT/);
    t.match(large[0], /\|NURSECALL\|HOSP\|.*\|WGS2\|P\|2\.7$/);
    t.match(large[1], /^MSA\|AR\|NC-9\|a status report of \d+ bytes is larger than 65536$/);
    t.match(large[2], /^ERR\|\|\|200\^.*WG_ERR_TOO_LARGE/);
    t.equal(seen.length, 0);
  },
);

t.test('an address not allowed is refused at connect', async (t) => {
  const listener = new AlarmStatusListener({
    host: '127.0.0.1',
    port: 0,
    allowedAddresses: ['10.9.9.9'],
    application: 'WARDGATE',
    facility: '3B',
    log: createLogger('silent'),
    onStatus: () => undefined,
  });
  await listener.start();
  t.teardown(() => listener.stop());
  const socket = createConnection({ host: '127.0.0.1', port: listener.port! });
  const closed = await new Promise<boolean>((resolve) => {
    socket.on('close', () => resolve(true));
    socket.on('error', () => {});
    setTimeout(() => resolve(false), 3000);
  });
  t.ok(closed, 'closed by the gateway');
});

/** A self-signed certificate and its key, read. */
function selfSigned(dir: string, name: string): { cert: Buffer; key: Buffer } {
  const made = selfSignedCert(dir, name, name);
  return { cert: readFileSync(made.cert), key: readFileSync(made.key) };
}

/** Sends one framed message on a TLS connection and resolves with the answer's text, or null when none comes. */
function exchange(socket: TLSSocket, text: string): Promise<string | null> {
  return new Promise((resolve) => {
    let got = '';
    const timer = setTimeout(() => resolve(null), 3000);
    socket.on('data', (d: Buffer) => {
      got += d.toString('utf8');
      if (got.includes('\x1c\r')) {
        clearTimeout(timer);
        resolve(got.slice(got.indexOf('\x0b') + 1, got.indexOf('\x1c\r')));
      }
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(null);
    });
    socket.write(Buffer.concat([Buffer.from([0x0b]), Buffer.from(text), Buffer.from([0x1c, 0x0d])]));
  });
}

t.test('TLS where the site has it: MLLP inside TLS only; with a CA, the manager must show a certificate', async (t) => {
  const dir = tempDir(t);
  const server = selfSigned(dir, 'ward.example');
  const manager = selfSigned(dir, 'nursecall.example');
  const seen: AlarmStatusReport[] = [];
  const listener = new AlarmStatusListener({
    host: '127.0.0.1',
    port: 0,
    allowedAddresses: [],
    tls: { ...server, ca: manager.cert },
    application: 'WARDGATE',
    facility: '3B',
    log: createLogger('silent'),
    onStatus: (r) => void seen.push(r),
  });
  await listener.start();
  t.teardown(() => listener.stop());
  const open = (options: { cert?: Buffer; key?: Buffer }) =>
    new Promise<TLSSocket>((resolve) => {
      const s = tlsConnect(
        { host: '127.0.0.1', port: listener.port!, servername: 'ward.example', ca: server.cert, ...options },
        () => resolve(s),
      );
      s.on('error', () => {});
      t.teardown(() => s.destroy());
    });

  const answer = await exchange(await open(manager), pcd05('NC-T1', 'alarm-t', 'Accepted').toString());
  t.match(answer, /MSA\|AA\|NC-T1/, 'a status report over TLS is answered');
  t.equal(seen.length, 1);

  const anonymous = await exchange(await open({}), pcd05('NC-T2', 'alarm-t', 'Read').toString());
  t.equal(anonymous, null, 'without a certificate the CA signed: no answer');
  const plain = createConnection({ host: '127.0.0.1', port: listener.port! });
  plain.on('error', () => {});
  t.teardown(() => plain.destroy());
  plain.write(
    Buffer.concat([
      Buffer.from([0x0b]),
      Buffer.from(pcd05('NC-T3', 'alarm-t', 'Read').toString()),
      Buffer.from([0x1c, 0x0d]),
    ]),
  );
  await new Promise<void>((resolve) => {
    plain.once('close', () => resolve());
    setTimeout(resolve, 3000);
  });
  t.equal(seen.length, 1, 'plain MLLP on the TLS port, or no certificate: nothing taken');
});
