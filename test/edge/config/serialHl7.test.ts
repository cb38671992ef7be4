// The `serial` and `hl7` config sections: defaults, and errors that name the field.
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../../../edge/config/load.js';
import { WardgateError } from '../../../shared/errors.js';
import { tempDir } from '../../helpers/env.js';

function load(t: Parameters<typeof tempDir>[0], yaml: string) {
  const file = join(tempDir(t), 'c.yaml');
  writeFileSync(file, yaml);
  return loadConfig({ file, env: {} });
}

function errorOf(t: Parameters<typeof tempDir>[0], yaml: string): string {
  try {
    load(t, yaml);
  } catch (err) {
    if (err instanceof WardgateError && err.code === 'WG_ERR_CONFIG') return err.message;
    throw err;
  }
  return '';
}

t.test('serial ports get the vendor defaults (9600 8N1) and hl7 is off unless configured', async (t) => {
  const c = load(t, 'serial:\n  - { path: /dev/ttyUSB0, driver: masimo-ascii, deviceId: pox-12, bed: "12" }\n');
  t.same(c.serial, [
    {
      path: '/dev/ttyUSB0',
      driver: 'masimo-ascii',
      deviceId: 'pox-12',
      bed: '12',
      baudRate: 9600,
      dataBits: 8,
      parity: 'none',
      stopBits: 1,
      deviceClock: 'local',
      maxLineBytes: 1024,
      silentAfterMs: 10_000,
      reopenMinMs: 500,
      reopenMaxMs: 30_000,
    },
  ]);
  t.equal(c.hl7, undefined, 'no hl7 key: listener off');
  t.same(
    load(t, 'hl7: {}\n').hl7,
    {
      host: '127.0.0.1',
      port: 2575,
      senders: [],
      locations: [],
      otherLocations: 'refuse',
      allowedApplications: [],
      allowedAddresses: [],
      maxMessageBytes: 1_048_576,
      maxSegmentsPerMessage: 2000,
      maxConnections: 64,
      maxConnectionsPerAddress: 8,
      firstMessageTimeoutMs: 90_000,
      idleTimeoutMs: 600_000,
    },
    'hl7 on loopback, port 2575 by default; no sender listed: nobody may report',
  );
  t.same(load(t, '{}\n').serial, []);
  const nonin = load(
    t,
    'serial:\n  - { path: /dev/ttyS1, driver: nonin-ascii, deviceId: n1, stopBits: 2, parity: even, dataBits: 7 }\n',
  ).serial[0];
  t.match(nonin, { stopBits: 2, parity: 'even', dataBits: 7 });
});

t.test('each error names the path and what was expected', async (t) => {
  const cases: Array<[string, string, RegExp]> = [
    [
      'baud rate as text',
      'serial:\n  - { path: /a, driver: jsonl, deviceId: a }\n  - { path: /b, driver: jsonl, deviceId: b, baudRate: fast }\n',
      /serial\[1\]\.baudRate: expected a number/,
    ],
    [
      'unknown driver',
      'serial:\n  - { path: /a, driver: philips, deviceId: a }\n',
      /serial\[0\]\.driver: expected one of "masimo-ascii", "nonin-ascii", "nonin-binary-1", "nonin-binary-2", "nonin-binary-7", "nonin-binary-8", "jsonl"/,
    ],
    [
      'missing device id',
      'serial:\n  - { path: /a, driver: jsonl }\n',
      /serial\[0\]\.deviceId: expected a string \(missing\)/,
    ],
    [
      'bad stop bits',
      'serial:\n  - { path: /a, driver: jsonl, deviceId: a, stopBits: 3 }\n',
      /serial\[0\]\.stopBits: expected one of 1, 1.5, 2/,
    ],
    [
      'bad parity',
      'serial:\n  - { path: /a, driver: jsonl, deviceId: a, parity: x }\n',
      /serial\[0\]\.parity: expected one of/,
    ],
    [
      'unknown key',
      'serial:\n  - { path: /a, driver: jsonl, deviceId: a, speed: 9600 }\n',
      /serial\[0\]\.speed: unknown key/,
    ],
    [
      'same path twice',
      'serial:\n  - { path: /a, driver: jsonl, deviceId: a }\n  - { path: /a, driver: jsonl, deviceId: b }\n',
      /serial\[1\]\.path: '\/a' is already used by serial\[0\]/,
    ],
    [
      'same device twice',
      'serial:\n  - { path: /a, driver: jsonl, deviceId: a }\n  - { path: /b, driver: jsonl, deviceId: a }\n',
      /serial\[1\]\.deviceId: 'a' is already used by serial\[0\]/,
    ],
    [
      'backoff upside down',
      'serial:\n  - { path: /a, driver: jsonl, deviceId: a, reopenMinMs: 5000, reopenMaxMs: 100 }\n',
      /serial\[0\]\.reopenMaxMs: expected at least reopenMinMs/,
    ],
    ['hl7 port', 'hl7: { port: 70000 }\n', /hl7\.port: expected at most 65535/],
    ['hl7 unknown key', 'hl7: { prot: 2575 }\n', /hl7\.prot: unknown key/],
    ['hl7 allow-list type', 'hl7: { allowedApplications: MONITOR }\n', /hl7\.allowedApplications: expected an array/],
    [
      'hl7 sender without application',
      'hl7: { senders: [{ devices: [mon-1] }] }\n',
      /hl7\.senders\[0\]\.application: expected a string \(missing\)/,
    ],
    [
      'hl7 sender bed with a wildcard',
      'hl7: { senders: [{ application: M, beds: ["x/#"] }] }\n',
      /hl7\.senders\[0\]\.beds\[0\]: expected 1-32 letters/,
    ],
    [
      'hl7 sender unknown key',
      'hl7: { senders: [{ application: M, bed: "1" }] }\n',
      /hl7\.senders\[0\]\.bed: unknown key/,
    ],
    [
      'hl7 sender time zone not IANA',
      'hl7: { senders: [{ application: M, timeZone: Mars/Olympus }] }\n',
      /hl7\.senders\[0\]\.timeZone: expected an IANA time zone such as Europe\/Paris/,
    ],
    [
      'hl7 location without point of care',
      'hl7: { locations: [{ bed: "1", wardBed: b1 }] }\n',
      /hl7\.locations\[0\]\.pointOfCare: expected a string \(missing\)/,
    ],
    [
      'hl7 location ward bed with a wildcard',
      'hl7: { locations: [{ pointOfCare: ICU, wardBed: "a/+" }] }\n',
      /hl7\.locations\[0\]\.wardBed: expected 1-32 letters/,
    ],
    [
      'hl7 other locations',
      'hl7: { otherLocations: map }\n',
      /hl7\.otherLocations: expected one of "refuse", "no-bed"/,
    ],
  ];
  for (const [name, yaml, expected] of cases) t.match(errorOf(t, yaml), expected, name);
});
