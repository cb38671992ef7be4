// The MLLP client's side of an exchange, byte by byte: ACKs split across
// packets and behind junk, answers that are not an ACK for this message, a
// peer that closes, one that never answers, and a connection that cannot be
// made. A raw TCP server plays the receiver, so every byte is the test's.
import t from 'tap';
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { MllpClient, MllpSendError, readAck } from '../../../edge/integration/mllpClient.js';
import { freePort } from '../../helpers/env.js';

const MESSAGE = 'MSH|^~\\&|WARDGATE|3B|EHR|H|20261202100000+0000||ORU^R01^ORU_R01|C1|P|2.6\rPID|||M^^^H^MR\r';
const ack = (code: string, id = 'C1', extra = '') =>
  `MSH|^~\\&|EHR|H|WARDGATE|3B|20261202100001+0000||ACK^R01^ACK|A1|P|2.6\rMSA|${code}|${id}${extra}\r`;
const frame = (text: string) => Buffer.concat([Buffer.from([0x0b]), Buffer.from(text), Buffer.from([0x1c, 0x0d])]);

async function rawServer(
  t: { teardown(fn: () => unknown): void },
  onData: (socket: Socket, data: Buffer) => void,
): Promise<number> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('data', (d) => onData(socket, d));
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return (server.address() as AddressInfo).port;
}

function client(t: { teardown(fn: () => unknown): void }, port: number, ackTimeoutMs = 500) {
  const states: boolean[] = [];
  const c = new MllpClient({
    host: '127.0.0.1',
    port,
    connectTimeoutMs: 1000,
    ackTimeoutMs,
    onConnected: (on) => states.push(on),
  });
  t.teardown(() => c.close());
  return { c, states };
}

t.test('an ACK split into single bytes, behind junk, is read', async (t) => {
  const port = await rawServer(t, (socket) => {
    const bytes = Buffer.concat([Buffer.from('junk\r\n'), frame(ack('AA'))]);
    let i = 0;
    const drip = () => {
      if (i < bytes.length) socket.write(bytes.subarray(i, ++i), () => setImmediate(drip));
    };
    drip();
  });
  const { c, states } = client(t, port, 5000);
  t.same(await c.send(MESSAGE, 'C1'), { code: 'AA', controlId: 'C1', text: '' });
  t.same(states, [true]);
  t.equal(c.connected, true);
});

t.test('the message goes out framed, byte for byte', async (t) => {
  let got = Buffer.alloc(0);
  const port = await rawServer(t, (socket, d) => {
    got = Buffer.concat([got, d]);
    if (got.at(-1) === 0x0d && got.at(-2) === 0x1c) socket.write(frame(ack('AE', 'C1', '|bad unit')));
  });
  const { c } = client(t, port);
  t.same(
    await c.send(MESSAGE, 'C1'),
    { code: 'AE', controlId: 'C1', text: 'bad unit' },
    'MSA-3 is the text when there is no ERR',
  );
  t.same(got, frame(MESSAGE));
});

t.test(
  'no answer in time: a timeout, and the connection is closed so that a late ACK cannot pass for the next',
  async (t) => {
    const port = await rawServer(t, () => {});
    const { c, states } = client(t, port, 200);
    const err = await c.send(MESSAGE, 'C1').catch((e: unknown) => e);
    t.ok(err instanceof MllpSendError);
    t.equal((err as MllpSendError).kind, 'timeout');
    t.same(states, [true, false]);
    t.equal(c.connected, false);
  },
);

t.test('the peer closes before answering: a network failure', async (t) => {
  const port = await rawServer(t, (socket) => socket.destroy());
  const { c } = client(t, port);
  const err = (await c.send(MESSAGE, 'C1').catch((e: unknown) => e)) as MllpSendError;
  t.equal(err.kind, 'network');
  t.match(err.message, /closed before the acknowledgment/);
});

t.test('nobody listens: a network failure naming the address', async (t) => {
  const port = await freePort();
  const { c } = client(t, port);
  const err = (await c.send(MESSAGE, 'C1').catch((e: unknown) => e)) as MllpSendError;
  t.equal(err.kind, 'network');
  t.match(err.message, new RegExp(`cannot connect to 127.0.0.1:${port}`));
});

t.test('an answer that is not the ACK for this message is a protocol failure and ends the connection', async (t) => {
  const answers = [frame('not hl7 at all'), frame(ack('AA', 'OTHER')), frame(ack('ZZ'))];
  let n = 0;
  const port = await rawServer(t, (socket) => socket.write(answers[n++]));
  const { c } = client(t, port);
  for (const why of [/not HL7/, /acknowledges another message/, /not an acknowledgment code/]) {
    const err = (await c.send(MESSAGE, 'C1').catch((e: unknown) => e)) as MllpSendError;
    t.equal(err.kind, 'protocol');
    t.match(err.message, why);
    t.equal(c.connected, false);
  }
});

t.test('one send at a time; none after close', async (t) => {
  const port = await rawServer(t, () => {});
  const { c } = client(t, port, 300);
  const first = c.send(MESSAGE, 'C1').catch(() => undefined);
  await t.rejects(c.send(MESSAGE, 'C2'), /already in progress/);
  await first;
  c.close();
  await t.rejects(c.send(MESSAGE, 'C3'), /closed/);
});

t.test('readAck: codes, texts and what is not an ACK', async (t) => {
  const cases: Array<[string, string, unknown]> = [
    ['AA', ack('AA'), { code: 'AA', controlId: 'C1', text: '' }],
    ['CA (enhanced mode)', ack('CA'), { code: 'CA', controlId: 'C1', text: '' }],
    ['CR', ack('CR'), { code: 'CR', controlId: 'C1', text: '' }],
    [
      'AR with ERR-8 before MSA-3',
      `${ack('AR', 'C1', '|short')}ERR|||207^x^HL70357|E||||the long reason\r`,
      { code: 'AR', controlId: 'C1', text: 'the long reason' },
    ],
    ['escaped text', ack('AE', 'C1', '|a\\F\\b'), { code: 'AE', controlId: 'C1', text: 'a|b' }],
    ['no MSA', 'MSH|^~\\&|A|B|C|D|1||ACK|A1|P|2.6\r', 'the answer has no MSA segment'],
    ['an empty MSA-1', ack(''), "the answer's MSA-1 '' is not an acknowledgment code"],
    ['not HL7', 'HELLO', /^the answer is not HL7/],
  ];
  for (const [what, text, expected] of cases) {
    const got = readAck(text, 'C1');
    if (expected instanceof RegExp) t.match(got, expected, what);
    else t.same(got, expected, what);
  }
});
