// Who may report what over HL7 (edge/hl7/senderPolicy.ts), as a table, and
// the demo ward's config: its HL7 monitor reports itself in its own bed and
// nothing else.
import t from 'tap';
import { loadConfig } from '../../../edge/config/load.js';
import { Gateway } from '../../../edge/gateway.js';
import { SenderPolicy, type SenderRule } from '../../../edge/hl7/senderPolicy.js';
import { createLogger } from '../../../edge/log.js';
import { writeDemoFiles } from '../../../simulators/demo/wardConfig.js';
import { pcd01Message, tenVitals } from '../../../simulators/pcd01.js';
import { demoPlans } from '../../../simulators/ward.js';
import { freePort, tempDir } from '../../helpers/env.js';
import { MllpClient } from '../../helpers/mllp.js';

const policy = (openToUnknown = false, allowedApplications: string[] = []) =>
  new SenderPolicy({
    senders: [
      { application: 'MON-7', addresses: ['10.0.0.7'], devices: ['mon-7'], beds: ['7'] },
      { application: 'CENTRAL', facility: 'ICU' },
    ],
    allowedApplications,
    declared: [
      { id: 'pox-1', bed: '1', source: 'mqtt' },
      { id: 'pox-2', bed: '2', source: 'serial' },
      { id: 'mon-7', bed: '7', source: 'hl7' },
      { id: 'mon-8', bed: '8', source: 'mqtt' },
    ],
    openToUnknown,
  });

const who = (application: string, address = '10.0.0.7', facility = '') => ({ application, address, facility });
const rule = (p: SenderPolicy, w: ReturnType<typeof who>): SenderRule => {
  const r = p.identify(w);
  if ('code' in r) throw new Error(r.message);
  return r;
};

t.test(
  'identity: application, facility and address must all match an entry; nobody else sends unless lab mode',
  async (t) => {
    const p = policy();
    const cases: Array<[string, ReturnType<typeof who>, boolean]> = [
      ['a listed monitor from its address', who('MON-7'), true],
      ['a listed monitor from another address', who('MON-7', '10.0.0.99'), false],
      ['a central station with its facility', who('CENTRAL', '10.0.0.50', 'ICU'), true],
      ['a central station with another facility', who('CENTRAL', '10.0.0.50', 'ER'), false],
      ['an unlisted application', who('ROGUE'), false],
      ['an empty MSH-3', who(''), false],
      ['__proto__ as MSH-3', who('__proto__'), false],
    ];
    for (const [name, w, ok] of cases) {
      const r = p.identify(w);
      t.equal(!('code' in r), ok, name);
      if ('code' in r) t.equal(r.code, 'WG_ERR_HL7_SENDER', `${name}: WG_ERR_HL7_SENDER`);
    }
    t.notOk('code' in policy(true).identify(who('ROGUE')), 'lab mode: an unlisted sender may send');
    t.ok(
      'code' in policy(true).identify(who('MON-7', '10.0.0.99')),
      'lab mode: a listed application from elsewhere still may not',
    );
    t.ok('code' in policy(false, ['CENTRAL']).identify(who('MON-7')), 'hl7.allowedApplications still applies');
  },
);

t.test("devices: never one declared for MQTT or serial; a listed device is its sender's alone", async (t) => {
  const p = policy(true);
  const mon7 = rule(p, who('MON-7'));
  const central = rule(p, who('CENTRAL', '10.0.0.50', 'ICU'));
  const lab = rule(p, who('ROGUE'));
  const cases: Array<[string, SenderRule, string, RegExp | undefined]> = [
    ['a monitor reporting itself', mon7, 'mon-7', undefined],
    ['a monitor reporting another device', mon7, 'mon-9', /not one of this sender's devices/],
    ['a declared MQTT device', central, 'pox-1', /declared for mqtt; it is never accepted over HL7/],
    ["a serial port's device", central, 'pox-2', /declared for serial/],
    ['an MQTT device not listed for any sender', lab, 'mon-8', /declared for mqtt/],
    ["another sender's device", central, 'mon-7', /belongs to another sender/],
    ['new equipment from a central station', central, '0012345678ABCDEF', undefined],
    ['new equipment in lab mode', lab, 'EQ-1', undefined],
    ['__proto__ as a device', central, '__proto__', undefined],
  ];
  for (const [name, r, device, why] of cases) {
    const got = p.device(r, device);
    if (why) t.match(got, why, name);
    else t.equal(got, undefined, name);
  }
});

t.test("beds: a safe id, the sender's own, or one the config declares", async (t) => {
  const p = policy(true);
  const mon7 = rule(p, who('MON-7'));
  const central = rule(p, who('CENTRAL', '10.0.0.50', 'ICU'));
  const lab = rule(p, who('ROGUE'));
  const cases: Array<[string, SenderRule, string, string | undefined]> = [
    ['no bed', central, '', undefined],
    ['its own bed', mon7, '7', undefined],
    ['another bed', mon7, '1', 'WG_ERR_HL7_SENDER'],
    ['a declared bed from a central station', central, '2', undefined],
    ['an undeclared bed from a central station', central, '99', 'WG_ERR_HL7_SENDER'],
    ['an undeclared bed in lab mode', lab, '99', undefined],
    ['MQTT wildcards', lab, 'x/#', 'WG_ERR_HL7_FORMAT'],
    ['a plus', central, '+', 'WG_ERR_HL7_FORMAT'],
    ['a space', lab, 'bed 1', 'WG_ERR_HL7_FORMAT'],
    ['a NUL', lab, '1\u0000', 'WG_ERR_HL7_FORMAT'],
    ['33 characters', lab, 'b'.repeat(33), 'WG_ERR_HL7_FORMAT'],
    ['__proto__', lab, '__proto__', 'WG_ERR_HL7_FORMAT'],
  ];
  for (const [name, r, bed, code] of cases) t.equal(p.bed(r, bed)?.code, code, name);
  t.notMatch(p.bed(lab, '\u0001x/#')?.message ?? '', /\u0001/, 'control characters are not echoed into the ACK');
});

t.test(
  'the demo ward: its HL7 monitor reports itself in its own bed, and may not speak for an MQTT device',
  { timeout: 60_000 },
  async (t) => {
    const dir = tempDir(t);
    const ports = { mqtt: await freePort(), http: await freePort(), hl7: await freePort() };
    const files = await writeDemoFiles(dir, demoPlans(false), ports, undefined);
    const config = loadConfig({ file: files.configFile, env: {} });
    const gateway = new Gateway(config, { log: createLogger('silent'), env: {} });
    await gateway.start();
    t.teardown(() => gateway.stop());
    const hl7 = demoPlans(false).flatMap((p) =>
      p.devices.filter((d) => d.transport === 'hl7').map((d) => ({ id: d.id, bed: p.bed })),
    );
    t.ok(hl7.length >= 1, `the demo has HL7 monitors (${hl7.map((d) => d.id).join(', ')})`);
    const { id, bed } = hl7[0];
    const mqttDevice = demoPlans(false)
      .flatMap((p) => p.devices)
      .find((d) => d.transport === 'mqtt')!.id;
    const client = await MllpClient.connect(t, ports.hl7);
    const message = (controlId: string, equipment: string, inBed: string) =>
      pcd01Message({
        controlId,
        ts: Date.now() - 5000,
        sendingApplication: id,
        equipment,
        location: { unit: 'WARD', room: '', bed: inBed },
        metrics: tenVitals(1),
      });
    client.send(message('D1', id, bed));
    client.send(message('D2', mqttDevice, bed));
    client.send(message('D3', id, bed === '2' ? '3' : '2'));
    const acks = await client.waitForAcks(3);
    t.same(
      acks.map((a) => a.code),
      ['AA', 'AR', 'AR'],
    );
    const stored = gateway.db!.prepare('SELECT DISTINCT bed FROM readings').all() as Array<{ bed: string }>;
    t.same(
      stored.map((r) => r.bed),
      [bed],
      'only its own bed has readings',
    );
  },
);
