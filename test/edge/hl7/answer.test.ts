// The ACK every MLLP handler answers with (PCD-01, ADT, PCD-05): MSA-2 is
// the sender's MSH-10 and the ACK goes back to the sender (our MSH-5/MSH-6
// its MSH-3/MSH-4, in its version and processing mode), also for a message
// that did not parse as a whole, as long as its MSH segment can be read.
import t from 'tap';
import { acknowledge } from '../../../edge/hl7/answer.js';
import { parseHl7 } from '../../../edge/hl7/message.js';
import { isRejection } from '../../../shared/timestamp.js';

const us = { gatewayId: 'WARDGATE', ward: '3B', ackControlId: 'WG1', now: Date.UTC(2026, 11, 3, 9, 0, 0) };
const MSH = 'MSH|^~\\&|MON|ICU|WARDGATE|3B|20261203090000+0000||ORU^R01^ORU_R01|C\\F\\7|T|2.5';
const error = { code: 'WG_ERR_HL7_FORMAT', message: 'not a message', hl7Code: 100 } as const;

/** The ACK's MSH-5, MSH-6, MSH-11, MSH-12 and its MSA, as sent. */
function answered(ack: string) {
  const [msh, msa] = ack.split('\r');
  const f = msh.split('|');
  return { to: [f[4], f[5], f[10], f[11]], msa };
}

t.test('MSA-2 and the addressee, for messages whole, broken and unreadable', async (t) => {
  const parsed = parseHl7(`${MSH}\rOBX|1\r`);
  if (isRejection(parsed)) throw new Error(parsed.message);
  const sender = ['MON', 'ICU', 'T', '2.5'];
  const nobody = ['', '', 'P', '2.6'];
  const cases: Array<[string, Parameters<typeof acknowledge>[0], string[], string]> = [
    ['parsed', parsed, sender, 'MSA|AR|C\\F\\7|not a message'],
    // The id is read decoded (C|7) and escaped once again: not C\E\F\E\7.
    ['a broken segment after MSH', `${MSH}\r1X|junk\r`, sender, 'MSA|AR|C\\F\\7|not a message'],
    ['a head cut inside a segment id', `${MSH}\rPID|1\rOB`, sender, 'MSA|AR|C\\F\\7|not a message'],
    ['LF between segments', `${MSH}\n\u0000\n`, sender, 'MSA|AR|C\\F\\7|not a message'],
    ['no MSH', 'hello there', nobody, 'MSA|AR||not a message'],
    ['MSH-2 unreadable', 'MSH|^^\\&|MON|ICU|||||ORU^R01|C7|P|2.6\r', nobody, 'MSA|AR||not a message'],
    ['nothing', '', nobody, 'MSA|AR||not a message'],
    ['not known at all', undefined, nobody, 'MSA|AR||not a message'],
  ];
  for (const [name, received, to, msa] of cases) {
    const answer = acknowledge(received, 'AR', us, error);
    t.same(answered(answer.ack), { to, msa }, name);
    t.same(answer.rejection, { code: 'WG_ERR_HL7_FORMAT', message: 'not a message' }, `${name}: the rejection`);
  }
});

t.test(
  "the sender's MSH-3 and MSH-4 go back whole: every component of the HD, in the ACK's own encoding",
  async (t) => {
    // A central station naming itself by namespace, OID and type, with its own component and escape characters.
    const text =
      'MSH|$~!&|CENTRAL$1.2.840.114350$ISO|ICU!F!A$2.16.840.1.113883.19$ISO|WARDGATE|3B|20261203090000+0000||ORU$R01|C9|P|2.6\r';
    const answer = acknowledge(parseHl7(text) as Parameters<typeof acknowledge>[0], 'AA', us);
    t.same(answered(answer.ack).to, ['CENTRAL^1.2.840.114350^ISO', 'ICU\\F\\A^2.16.840.1.113883.19^ISO', 'P', '2.6']);
    // Trailing empty components are not sent; a lone namespace stays one component.
    const plain = acknowledge(`MSH|^~\\&|MON^^|ICU|||||ORU^R01|C1|P|2.6\r`, 'AA', us);
    t.same(answered(plain.ack).to, ['MON', 'ICU', 'P', '2.6']);
  },
);
