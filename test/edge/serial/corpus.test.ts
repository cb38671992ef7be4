// The serial conformance corpus (test/corpus/serial, provenance in its
// README): every sample, as the gateway's framing, driver and validation read
// it, must be stored, flagged, left without value or refused exactly as
// written here. Then `wardgate check serial` run as a user would, on the same
// files: its report and its exit codes (0, 1, 2).
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SerialDriverName } from '../../../edge/config/schema.js';
import { checkSerial, type CheckedRecord } from '../../../edge/serial/check.js';
import { tempDir } from '../../helpers/env.js';

const CORPUS = fileURLToPath(new URL('../../corpus/serial/', import.meta.url));
const BIN = fileURLToPath(new URL('../../../bin/wardgate.js', import.meta.url));

/** A corpus file's bytes: text files as they are, with the CR LF the devices end lines with; .hex files as the bytes they spell. */
function capture(file: string): Buffer {
  const text = readFileSync(join(CORPUS, file), 'latin1');
  if (!file.endsWith('.hex'))
    return Buffer.from(
      text
        .split('\n')
        .filter(Boolean)
        .map((l) => `${l}\r\n`)
        .join(''),
      'latin1',
    );
  const hex = text
    .split('\n')
    .map((l) => l.replace(/#.*/, ''))
    .join(' ')
    .trim()
    .split(/\s+/)
    .filter(Boolean);
  return Buffer.from(hex.map((h) => parseInt(h, 16)));
}

/** A record in brief: outcome, values (! unreliable, ~ artifact), the sensor state when not monitoring, the code when refused. */
function brief(r: CheckedRecord): string {
  const values = r.values.map(
    (v) => `${v.code}=${v.value}${v.flags.includes('unreliable') ? '!' : ''}${v.flags.includes('artifact') ? '~' : ''}`,
  );
  if (r.outcome === 'not-monitoring') return `not-monitoring ${r.sensor}`;
  if (r.outcome === 'refuse') return `refuse ${r.code}`;
  return [r.outcome, ...values].join(' ');
}

const corpus: Array<{
  file: string;
  driver: SerialDriverName;
  expect: string[];
  exceptions?: Array<readonly string[] | undefined>;
}> = [
  {
    file: 'masimo-rad8-ascii1-capture.txt',
    driver: 'masimo-ascii',
    expect: [
      'store spo2=98 pr=97',
      'store spo2=98 pr=96',
      'store spo2=98 pr=96',
      'store spo2=98 pr=96',
      'store spo2=98 pr=97',
    ],
  },
  {
    file: 'masimo-rad8-trend-manual.txt',
    driver: 'masimo-ascii',
    expect: [
      'not-monitoring off',
      'not-monitoring off',
      'store spo2=97 pr=69',
      'store spo2=96! pr=74!',
      'store spo2=98 pr=78',
      'no-value',
      'not-monitoring off',
      'store spo2=96 pr=78',
    ],
    exceptions: [
      ['sensor-off', 'set-mode'],
      ['pulse-search', 'sensor-off', 'set-mode'],
      ['set-mode'],
      ['low-signal-iq', 'set-mode'],
      ['set-mode'],
      ['set-mode'],
      ['sensor-off', 'set-mode'],
      ['set-mode'],
    ],
  },
  {
    file: 'masimo-rad57-trend-manual.txt',
    driver: 'masimo-ascii',
    expect: [
      'not-monitoring off',
      'not-monitoring off',
      'store spo2=97 pr=69',
      'store spo2=96! pr=74!',
      'store spo2=98 pr=78',
    ],
  },
  {
    file: 'nonin-realtime-manual.txt',
    driver: 'nonin-ascii',
    expect: ['store spo2=97 pr=72', 'store spo2=96 pr=74', 'no-value', 'store spo2=95 pr=71'],
  },
  {
    file: 'nonin-timeprefixed-manual.txt',
    driver: 'nonin-ascii',
    expect: ['store spo2=97 pr=72', 'no-value', 'store spo2=96 pr=73', 'store spo2=96 pr=73'],
  },
  {
    file: 'nonin-format1-spec.hex',
    driver: 'nonin-binary-1',
    expect: [
      'store spo2=97 pr=72',
      'store spo2=93 pr=300',
      'not-monitoring absent',
      'store spo2=95! pr=80!',
      'store spo2=95! pr=80!',
      'store spo2=95 pr=80',
      'store spo2=95! pr=80!',
    ],
    exceptions: [
      undefined,
      undefined,
      ['sensor-disconnected'],
      ['out-of-track'],
      ['low-perfusion'],
      ['marginal-perfusion'],
      ['artifact'],
    ],
  },
  {
    file: 'nonin-format8-spec.hex',
    driver: 'nonin-binary-8',
    expect: [
      'store spo2=97 pr=72',
      'not-monitoring absent',
      'not-monitoring fault',
      'store spo2=95! pr=80!',
      'store spo2=96 pr=70',
      'store spo2=96 pr=70',
    ],
    exceptions: [
      undefined,
      ['sensor-disconnected'],
      ['sensor-alarm'],
      ['out-of-track', 'artifact'],
      ['low-battery'],
      ['critical-battery'],
    ],
  },
  // Three packets a second repeat the numerics: one in three is read, a reading a second.
  ...(['2', '7'] as const).map((f) => ({
    file: `nonin-format${f}-spec.hex`,
    driver: `nonin-binary-${f}` as SerialDriverName,
    expect: ['store spo2=97 pr=72', 'not-monitoring absent', 'store spo2=95! pr=80!', 'not-monitoring fault'],
    exceptions: [undefined, ['sensor-disconnected'], ['out-of-track', 'artifact', 'low-perfusion'], ['sensor-alarm']],
  })),
];

const OPTIONS = {
  deviceClock: 'utc',
  maxLineBytes: 1024,
  now: Date.UTC(2026, 10, 27, 9, 0, 0),
  maxFutureMs: 300_000,
} as const;

for (const { file, driver, expect, exceptions } of corpus) {
  t.test(`${file} through ${driver}`, async (t) => {
    const report = await checkSerial(capture(file), driver, OPTIONS);
    t.same(
      report.records.map(brief),
      expect,
      'what is stored, flagged, left without value or refused, record by record',
    );
    if (exceptions)
      t.same(
        report.records.map((r) => r.exceptions),
        exceptions,
        'the conditions the device reports',
      );
    t.same(report.faults, { junk: 0, overlong: 0, partial: 0 }, 'nothing lost in framing');
  });
}

t.test('the device times of a Masimo capture are read as its clock says', async (t) => {
  const report = await checkSerial(capture('masimo-rad8-ascii1-capture.txt'), 'masimo-ascii', OPTIONS);
  t.equal(report.records[0].deviceTs, Date.UTC(2016, 1, 22, 22, 47, 45));
});

t.test(
  'a binary capture joined to junk and cut short: the records around the junk are read, the loss is counted',
  async (t) => {
    const good = capture('nonin-format7-spec.hex');
    const damaged = Buffer.concat([
      Buffer.from('\x00\x13garbage', 'latin1'),
      good.subarray(0, 375),
      Buffer.from([0xff, 0x01]),
      good.subarray(375, 700),
    ]);
    const report = await checkSerial(damaged, 'nonin-binary-7', OPTIONS);
    t.same(report.records.map(brief), ['store spo2=97 pr=72', 'not-monitoring absent']);
    t.ok(report.faults.junk >= 11, `junk bytes counted (${report.faults.junk})`);
    t.equal(report.faults.partial, 1, 'the packet cut by the end of the capture');
  },
);

// ---- the command, as a user runs it (dist/: built with `npx tsc -p tsconfig.json`) ----

function wardgate(...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

t.test('wardgate check serial on the corpus: a line per record, exit 0 when all would be accepted', async (t) => {
  const trend = wardgate(
    'check',
    'serial',
    '--driver',
    'masimo-ascii',
    '--device-clock',
    'utc',
    join(CORPUS, 'masimo-rad8-trend-manual.txt'),
  );
  t.equal(trend.status, 0, trend.stderr);
  const lines = trend.stdout.trim().split('\n');
  t.equal(lines.length, 9, 'eight records and a summary');
  t.match(
    lines[0],
    /^line 1: not monitoring \(sensor off\): no value stored, technical alarm after its delay \[device reports sensor-off, set-mode; device time 2008-09-21T09:56:08.000Z\]$/,
  );
  t.match(
    lines[3],
    /^line 4: store spo2 96 % \(unreliable\), pr 74 \/min \(unreliable\) \[device reports low-signal-iq, set-mode;/,
  );
  t.match(lines[5], /^line 6: nothing to store, the device sends no value/);
  t.equal(lines[8], '8 lines read, 0 refused; framing lost 0 junk bytes, 0 over-long lines, 0 cut lines');

  const dir = tempDir(t);
  const bin = join(dir, 'format8.bin');
  writeFileSync(bin, capture('nonin-format8-spec.hex'));
  const binary = wardgate('check', 'serial', '--driver', 'nonin-binary-8', '--json', bin);
  t.equal(binary.status, 0, binary.stderr);
  const json = JSON.parse(binary.stdout) as { records: CheckedRecord[] };
  t.same(
    json.records.map(brief),
    corpus.find((c) => c.file === 'nonin-format8-spec.hex')!.expect,
    '--json: the same verdicts',
  );
});

t.test('wardgate check serial: exit 1 when a record would be refused or bytes lost, 2 on bad usage', async (t) => {
  const dir = tempDir(t);
  const wrong = wardgate('check', 'serial', '--driver', 'nonin-ascii', join(CORPUS, 'masimo-rad8-ascii1-capture.txt'));
  t.equal(wrong.status, 1, 'a Masimo capture read as Nonin');
  t.match(
    wrong.stdout,
    /^line 1: refuse WG_ERR_SERIAL_LINE: not a nonin-ascii line: expected \[HH:MM:SS \]SPO2=XXX HR=YYY/m,
  );
  t.match(wrong.stdout, '5 lines read, 5 refused');
  const noisy = join(dir, 'noisy.txt');
  writeFileSync(noisy, Buffer.concat([Buffer.from([0x00, 0xff, 0x13]), capture('nonin-realtime-manual.txt')]));
  const junk = wardgate('check', 'serial', '--driver', 'nonin-ascii', noisy);
  t.equal(junk.status, 1, 'junk bytes lost in framing');
  t.match(junk.stdout, 'framing lost 3 junk bytes');

  t.equal(wardgate('check', 'serial', '--driver', 'nonin-ascii').status, 2, 'no file');
  const unknown = wardgate('check', 'serial', '--driver', 'philips', noisy);
  t.equal(unknown.status, 2, 'an unknown driver');
  t.match(unknown.stderr, /--driver: expected one of masimo-ascii, nonin-ascii, nonin-binary-1/);
  t.equal(
    wardgate('check', 'serial', '--driver', 'nonin-ascii', join(dir, 'absent.txt')).status,
    2,
    'a file that is not there',
  );
  t.equal(wardgate('check', 'modbus', noisy).status, 2, 'an unknown kind of check');
  t.equal(wardgate('check', 'serial', '--help').status, 0);
});
