// `wardgate check hl7` run as an integration engineer runs it: the built
// bin/wardgate.js on corpus files and on a capture, with and without the
// ward's config; exit codes 0 (all accepted), 1 (something refused), 2 (usage,
// an unreadable file), as `check serial`.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { spawnWardgate } from '../../helpers/gateway.js';

t.setTimeout(60_000);

const CORPUS = new URL('../../corpus/hl7/', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'wardgate-check-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

async function run(args: string[]): Promise<{ code: number | string; out: string }> {
  const child = spawnWardgate(t, args);
  const code = await child.exited;
  return { code, out: child.output() };
}

t.test('text: per message and row, what is stored, refused and counted; no patient identifier printed', async (t) => {
  const { code, out } = await run([
    'check',
    'hl7',
    join(CORPUS, 'comen-nc5-spot-check.hl7'),
    join(CORPUS, 'philips-efficia-cm-orf-r04.hl7'),
    join(CORPUS, 'nist-pcd01-pulse-oximetry-panel.hl7'),
  ]);
  t.equal(code, 1, 'a message and a row would be refused: 1');
  t.match(out, /comen-nc5-spot-check\.hl7: 1 message\(s\)\n {2}message 1 \(MSH-10 20260726231332\.11090007\) -> AA/);
  t.match(out, /store {2}OBX\(5\) \S+ nibp_sys = 120 mm\[Hg\] at 2026-07-26T15:13:31\.000Z/);
  t.match(out, /codes not mapped \(counted\): 149522, 99COMEN:2279/);
  t.match(
    out,
    /philips-efficia-cm-orf-r04\.hl7: 1 message\(s\)\n {2}message 1 \(MSH-10 MONITORABC000000002D\) -> AR\n {4}refused WG_ERR_HL7_UNSUPPORTED at MSH\(1\)-9/,
  );
  t.match(
    out,
    /-> AR\n {4}bed 23, patient from PID-3\n {4}refuse OBX\(6\)-14 WG_ERR_HL7_TIMEZONE/,
    'no offset and no zone: refused, with why',
  );
  t.notMatch(out, /MRN12123|HO2009001|Hon\b/, 'patient identifiers are not printed');
});

t.test('--config applies the sender zone and location map; --json for scripts; MLLP-framed captures', async (t) => {
  const config = join(dir, 'wardgate.yaml');
  writeFileSync(
    config,
    [
      'hl7:',
      '  senders:',
      '    - { application: SendingApplication, beds: [icu-23], timeZone: America/New_York }',
      '  locations:',
      '    - { pointOfCare: ICU, room: "2", bed: "23", wardBed: icu-23 }',
    ].join('\n'),
  );
  const capture = join(dir, 'capture.mllp');
  const text = readFileSync(join(CORPUS, 'nist-pcd01-pulse-oximetry-panel.hl7'), 'utf8').trimEnd().replace(/\n/g, '\r');
  writeFileSync(
    capture,
    Buffer.concat([
      Buffer.from([0x0b]),
      Buffer.from(`${text}\r`),
      Buffer.from([0x1c, 0x0d]),
      Buffer.from([0x0b]),
      Buffer.from(`${text.replace('ICU^2^23', 'CCU^2^23')}\r`),
      Buffer.from([0x1c, 0x0d]),
    ]),
  );
  const { code, out } = await run(['check', 'hl7', '--config', config, '--json', capture]);
  t.equal(code, 1, 'the second message would be refused: 1');
  const [first, second] = (JSON.parse(out) as { files: Array<{ messages: Array<Record<string, unknown>> }> }).files[0]
    .messages;
  t.match(first, {
    ack: 'AA',
    bed: 'icu-23',
    stored: [{ code: 'pr', value: 55, unit: '/min', ts: '2012-05-30T15:23:40.000Z', device: '0123456789ABCDEF' }],
    rowsRefused: [],
  });
  t.match(second, { ack: 'AR', refused: { code: 'WG_ERR_HL7_LOCATION', where: 'PV1(3)-3' }, stored: [] });
});

t.test('exit codes: 2 for usage and an unreadable file', async (t) => {
  t.equal((await run(['check', 'hl7'])).code, 2, 'no FILE');
  t.equal((await run(['check', 'nothing', 'x'])).code, 2, 'unknown kind');
  t.equal((await run(['check', 'hl7', '--bogus', 'x'])).code, 2, 'unknown option');
  const missing = await run(['check', 'hl7', join(dir, 'absent.hl7')]);
  t.equal(missing.code, 2, 'as check serial: the file, not a verdict');
  t.match(missing.out, /cannot read .*absent\.hl7: ENOENT/);
  const help = await run(['check', 'hl7', '--help']);
  t.equal(help.code, 0);
  t.match(help.out, /Usage: wardgate check hl7/);
});

t.test(
  'exit code 0 only when every message and row would be accepted; 1 for one refused row among stored ones',
  async (t) => {
    const accepted = await run([
      'check',
      'hl7',
      join(CORPUS, 'comen-nc5-spot-check.hl7'),
      join(CORPUS, 'linkwatch-pcd01-bp.hl7'),
    ]);
    t.equal(accepted.code, 0, accepted.out);
    t.notMatch(accepted.out, /refuse/);

    const config = join(dir, 'zone.yaml');
    writeFileSync(
      config,
      'hl7:\n  senders:\n    - { application: SendingApplication, beds: ["23"], timeZone: America/New_York }\n',
    );
    const panel = readFileSync(join(CORPUS, 'nist-pcd01-pulse-oximetry-panel.hl7'), 'utf8').trimEnd().split('\n');
    const obx = panel.findIndex((s) => s.startsWith('OBX|'));
    // The same row again as OBX 2, withdrawn by its sender (OBX-11 W, "wrong"): refused, the first row stored.
    const wrong = panel[obx].replace(/^OBX\|1\|/, 'OBX|2|').replace('||R|||', '||W|||');
    const capture = join(dir, 'one-wrong-row.hl7');
    writeFileSync(capture, `${[...panel.slice(0, obx + 1), wrong].join('\r')}\r`);
    const { code, out } = await run(['check', 'hl7', '--config', config, capture]);
    t.match(
      out,
      /-> AA\n[^]*store {2}OBX\(6\)[^]*refuse OBX\(7\)-11 WG_ERR_HL7_STATUS/,
      'stored and refused rows in one message',
    );
    t.equal(code, 1, out);
  },
);
