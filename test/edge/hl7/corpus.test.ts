// The HL7 conformance corpus (test/corpus/hl7, provenance in its README):
// messages written by monitor vendors, standards bodies and other projects,
// each with exactly what the gateway must store, flag or refuse, decided by
// the same code the listener runs (decision.ts, through preview.ts). Then
// one regression per class of real-world variation, each built on a corpus
// message, and the corpus over a real MLLP connection into a real gateway.
import { readFileSync } from 'node:fs';
import t from 'tap';
import { LocationMap } from '../../../edge/hl7/locationMap.js';
import { previewMessage, splitCapture, type MessagePreview } from '../../../edge/hl7/preview.js';
import { SenderPolicy } from '../../../edge/hl7/senderPolicy.js';
import type { Hl7Config } from '../../../edge/config/schema.js';
import { freePort } from '../../helpers/env.js';
import { startTestGateway } from '../../helpers/gateway.js';
import { MllpClient } from '../../helpers/mllp.js';

t.setTimeout(120_000);

const file = (name: string) =>
  readFileSync(new URL(`../../corpus/hl7/${name}`, import.meta.url), 'utf8')
    .trimEnd()
    .split('\n');
const message = (...lines: string[]) => `${lines.join('\r')}\r`;
const corpus = (name: string) => message(...file(name));
/** Row-only samples are checked inside a minimal PCD-01 header of our own (the rows are the vendor's). */
const HEADER = [
  'MSH|^~\\&|ROWS||||20240101120000+0000||ORU^R01^ORU_R01|ROWS1|P|2.6',
  'OBR|1|||182777000^monitoring of patient^SCT|||20240101120000+0000',
];
const GE = message(...file('ge-b40-example1-head.hl7'), ...file('ge-b40-obx-rows.hl7'));
const NOW = Date.UTC(2026, 11, 2, 12);

type Senders = Hl7Config['senders'];
const SENDERS: Senders = [
  // The GE B40 and the NIST pulse oximetry panel give no UTC offset anywhere: their zones are configuration.
  { application: 'VSP', beds: ['V2'], timeZone: 'America/Chicago' },
  { application: 'SendingApplication', beds: ['23'], timeZone: 'America/New_York' },
];

function check(
  text: string,
  o: {
    senders?: Senders;
    locations?: Hl7Config['locations'];
    other?: Hl7Config['otherLocations'];
    address?: string;
    now?: number;
  } = {},
): MessagePreview {
  const policy = new SenderPolicy({
    senders: o.senders ?? SENDERS,
    allowedApplications: [],
    declared: [],
    openToUnknown: true,
  });
  return previewMessage(text, 1, o.address ?? '10.0.0.9', o.now ?? NOW, {
    policy,
    locations: new LocationMap(o.locations ?? [], o.other ?? 'refuse'),
    maxSegments: 2000,
    maxFutureSkewMs: 300_000,
  });
}
const values = (p: MessagePreview) => p.stored.map((r) => [r.code, r.value, r.unit]);

t.test('corpus: every message, what is stored, flagged or refused', async (t) => {
  t.test(
    'GE B40 (PCD-01, no offset anywhere, sender zone America/Chicago): the mapped numerics, two RR and two temperature sites',
    async (t) => {
      const p = check(GE);
      t.equal(p.ack, 'AA');
      t.equal(p.bed, 'V2');
      t.equal(p.patient, 'named');
      t.same(values(p), [
        ['hr', 80, '/min'],
        ['spo2', 100, '%'],
        ['rr', 18, '/min'],
        ['rr', 30, '/min'],
        ['temp', 37.1, 'Cel'],
        ['temp', 36.5, 'Cel'],
      ]);
      t.ok(
        p.stored.every((r) => r.device === '080019FFFE0B4020' && r.ts === '2013-01-22T19:41:00.000Z'),
        'OBX-18 device; 13:41 CST is 19:41 UTC',
      );
      t.same(
        p.unmapped,
        ['150033', '150034', '150035', '149522', '148066'],
        'invasive pressures, invasive pulse and PVC rate: counted, not stored',
      );
      t.same(p.rowsRefused, []);
    },
  );
  t.test('GE B40 head alone: only the MDS row, nothing to store', async (t) => {
    t.match(check(corpus('ge-b40-example1-head.hl7')), { ack: 'AA', stored: [], skipped: { hierarchy: 1 } });
  });
  t.test('Philips Efficia CM ORU^R01 (v2.4): an alarm as a TX row with an MDIL code, counted', async (t) => {
    t.match(check(corpus('philips-efficia-cm-oru-r01.hl7')), {
      ack: 'AA',
      stored: [],
      unmapped: ['MDIL-ALERT:2'],
      bed: 'LOCATION34',
    });
  });
  t.test('Philips Efficia CM ORF^R04: not a PCD-01 report, AR', async (t) => {
    t.match(check(corpus('philips-efficia-cm-orf-r04.hl7')), {
      ack: 'AR',
      refused: { code: 'WG_ERR_HL7_UNSUPPORTED', where: 'MSH(1)-9' },
      stored: [],
    });
  });
  t.test('Philips Efficia CM rows marked X (a "?" on screen): no result, counted, nothing refused', async (t) => {
    t.match(check(message(...HEADER, ...file('philips-efficia-cm-invalid-rows.hl7'))), {
      ack: 'AA',
      stored: [],
      skipped: { status: 2 },
      rowsRefused: [],
    });
  });
  t.test('LinkWatch (PCD-01 BP profile): device from the MDS row OBX-18, offsets given', async (t) => {
    const p = check(corpus('linkwatch-pcd01-bp.hl7'));
    t.match(p, { ack: 'AA', skipped: { hierarchy: 1 } });
    t.same(values(p), [
      ['nibp_sys', 125, 'mm[Hg]'],
      ['nibp_dia', 80, 'mm[Hg]'],
      ['pr', 66, '/min'],
    ]);
    t.ok(p.stored.every((r) => r.device === '5C313EFFFE020E12' && r.ts === '2017-05-03T10:00:00.000Z'));
    t.equal(p.patient, undefined, 'no PID: no patient');
  });
  t.test('Philips IntelliVue MX500 (HL7 PoCD guide): MSH-11 D, debugging data, nothing stored', async (t) => {
    const p = check(corpus('philips-intellivue-mx500-pocd.hl7'));
    t.match(p, { ack: 'AA', demo: /MSH-11 'D'/, stored: [], unmapped: ['184327'] });
  });
  t.test('NIST PCD-01 NIBP (ACME gateway): UCUM units, equipment in OBX-18', async (t) => {
    const p = check(corpus('nist-pcd01-acme-nibp.hl7'));
    t.match(p, { ack: 'AA', bed: '1', patient: 'named', skipped: { hierarchy: 3 } });
    t.same(values(p), [
      ['nibp_sys', 120, 'mm[Hg]'],
      ['nibp_dia', 80, 'mm[Hg]'],
      ['nibp_map', 93, 'mm[Hg]'],
      ['pr', 63, '/min'],
    ]);
    t.ok(p.stored.every((r) => r.device === '080019FFFE3ED02D172.16.172.135' && r.ts === '2011-06-02T04:58:42.000Z'));
  });
  t.test(
    'NIST PCD-01 pulse oximetry panel: LOINC first, MDC as the alternate; no offset: refused without a zone, placed with one',
    async (t) => {
      const text = corpus('nist-pcd01-pulse-oximetry-panel.hl7');
      const without = check(text, { senders: [] });
      t.match(without, { ack: 'AR', stored: [], rowsRefused: [{ where: 'OBX(6)-14', code: 'WG_ERR_HL7_TIMEZONE' }] });
      const placed = check(text);
      t.same(values(placed), [['pr', 55, '/min']]);
      t.match(placed.stored[0], { device: '0123456789ABCDEF', ts: '2012-05-30T15:23:40.000Z' }, '11:23:40 EDT');
      t.equal(placed.bed, '23');
    },
  );
  t.test('Mindray D-series sample as a project published it (fields shifted by one): AR, MSH-9 named', async (t) => {
    t.match(check(corpus('mindray-d-series-waveform.hl7')), {
      ack: 'AR',
      refused: { code: 'WG_ERR_HL7_UNSUPPORTED', where: 'MSH(1)-9' },
    });
  });
  t.test(
    'Comen NC5 spot check (a capture): cuff codes, temperature in Cel; local Comen and unmapped MDC codes counted; no MSH-3',
    async (t) => {
      const p = check(corpus('comen-nc5-spot-check.hl7'), { address: '10.1.2.3' });
      t.equal(p.ack, 'AA');
      t.same(values(p), [
        ['nibp_sys', 120, 'mm[Hg]'],
        ['nibp_map', 90, 'mm[Hg]'],
        ['nibp_dia', 80, 'mm[Hg]'],
        ['spo2', 98, '%'],
        ['temp', 39, 'Cel'],
      ]);
      t.ok(
        p.stored.every((r) => r.ts === '2026-07-26T15:13:31.000Z' && r.device === 'hl7-10.1.2.3-KC575235977G'),
        'no MSH-3, no OBX-18: named by address and MSH-4',
      );
      t.same(
        p.unmapped,
        [
          '149522',
          '99COMEN:2279',
          '99COMEN:2267',
          '99COMEN:2269',
          '99COMEN:2270',
          '99COMEN:2271',
          '99COMEN:2275',
          '188740',
          '188736',
        ],
        '149522 is the number: its MDC_PULS_RATE label does not make it a pulse rate',
      );
      t.equal(p.bed, undefined, 'PV1-3 ^^&24 has no bed component');
    },
  );
  t.test('Welch Allyn WACS row: an ST value under a local code, counted', async (t) => {
    t.match(check(message(...HEADER, ...file('welch-allyn-wacs-obx-row.hl7'))), {
      ack: 'AA',
      stored: [],
      unmapped: ['WAP:Heart?Rate'],
    });
  });
});

t.test('regressions on corpus messages, one per class', async (t) => {
  const acme = corpus('nist-pcd01-acme-nibp.hl7');
  const linkwatch = corpus('linkwatch-pcd01-bp.hl7');
  t.test(
    'a unit by MDC number, by reference id only, or UCUM: kPa and Fahrenheit converted exactly; EtCO2 in % refused alone',
    async (t) => {
      const kpa = check(
        acme
          .replace('|120|mm[Hg]^mm[Hg]^UCUM|', '|16|265987^MDC_DIM_KILO_PASCAL^MDC|')
          .replace('|80|mm[Hg]^mm[Hg]^UCUM|', '|10.7|^MDC_DIM_KILO_PASCAL^MDC|'),
      );
      t.same(values(kpa).slice(0, 2), [
        ['nibp_sys', 120.0099, 'mm[Hg]'],
        ['nibp_dia', 80.2566, 'mm[Hg]'],
      ]);
      const fahr = check(
        GE.replace('|37.1|268192^MDC_DIM_DEGC^MDC|', '|98.6|266560^MDC_DIM_FAHR^MDC|').replace(
          '|36.5|268192^MDC_DIM_DEGC^MDC|',
          '|97.7|[degF]^[degF]^UCUM|',
        ),
      );
      t.same(
        fahr.stored.filter((r) => r.code === 'temp').map((r) => r.value),
        [37, 36.5],
      );
      const pulse = check(linkwatch.replace('264864^MDC_DIM_BEAT_PER_MIN^MDC', '264896^MDC_DIM_PULS_PER_MIN^MDC'));
      t.same(values(pulse)[2], ['pr', 66, '/min'], 'MDC_DIM_PULS_PER_MIN');
      const etco2 = check(
        linkwatch.replace(
          '150022^MDC_PRESS_BLD_NONINV_DIA^MDC|1.0.1.2|80|266016^MDC_DIM_MMHG^MDC',
          '151708^MDC_CONC_AWAY_CO2_ET^MDC|1.0.1.2|5.1|262688^MDC_DIM_PERCENT^MDC',
        ),
      );
      t.equal(etco2.ack, 'AA', 'the other rows are stored');
      t.same(values(etco2), [
        ['nibp_sys', 125, 'mm[Hg]'],
        ['pr', 66, '/min'],
      ]);
      t.match(etco2.rowsRefused, [{ where: 'OBX(5)-6', code: 'WG_ERR_UNIT', message: /'%' does not fit etco2/ }]);
    },
  );
  t.test('alternate codes by name and number; MDC_TEMP_AXIL and MDC_TEMP_EAR; RR by method', async (t) => {
    const p = check(
      GE.replace('150344^MDC_TEMP^MDC|1.26.1.1', '188496^MDC_TEMP_AXIL^MDC|1.26.1.1')
        .replace('150344^MDC_TEMP^MDC|1.26.1.2', '^MDC_TEMP_EAR^MDC|1.26.1.2')
        .replace('151562^MDC_RESP_RATE^MDC|1.20.1.1', '^MDC_CO2_RESP_RATE^MDC|1.20.1.1')
        .replace('151562^MDC_RESP_RATE^MDC|1.6.1.1', '151578^MDC_TTHOR_RESP_RATE^MDC|1.6.1.1'),
    );
    t.same(values(p), [
      ['hr', 80, '/min'],
      ['spo2', 100, '%'],
      ['rr', 18, '/min'],
      ['rr', 30, '/min'],
      ['temp', 37.1, 'Cel'],
      ['temp', 36.5, 'Cel'],
    ]);
  });
  t.test(
    'OBX-8 abnormal flags and OBX-11 statuses become reading flags; D and W refuse the row; a demo row is not stored',
    async (t) => {
      const p = check(
        acme
          .replace('|120|mm[Hg]^mm[Hg]^UCUM|||||R|', '|120|mm[Hg]^mm[Hg]^UCUM||HH~A|||R|')
          .replace('|80|mm[Hg]^mm[Hg]^UCUM|||||R|', '|80|mm[Hg]^mm[Hg]^UCUM|||||P|')
          .replace('|93|mm[Hg]^mm[Hg]^UCUM|||||R|', '|93|mm[Hg]^mm[Hg]^UCUM|||||W|')
          .replace('|63|{beat}/min^{beat}/min^UCUM|||||R|', '|63|{beat}/min^{beat}/min^UCUM||DEMO|||R|'),
      );
      t.equal(p.ack, 'AA');
      t.same(
        p.stored.map((r) => [r.code, r.flags]),
        [
          ['nibp_sys', ['high', 'critical', 'abnormal']],
          ['nibp_dia', ['unreliable', 'preliminary']],
        ],
      );
      t.match(p.rowsRefused, [{ where: 'OBX(10)-11', code: 'WG_ERR_HL7_STATUS' }]);
      t.match(p.skipped, { demo: 1 });
    },
  );
  t.test('MSH-11 T (training): nothing stored, whatever the rows', async (t) => {
    t.match(check(linkwatch.replace('|P|2.6|', '|T|2.6|')), { ack: 'AA', demo: /training/, stored: [] });
  });
  t.test("MSH-7's offset places rows without one; the clock offset is measured against arrival", async (t) => {
    const p = check(linkwatch.replace(/\|\|\|20170503120000\+0200$/gm, '|||20170503120000'), {
      now: Date.UTC(2017, 4, 3, 10, 0, 30),
    });
    t.ok(p.stored.length === 3 && p.stored.every((r) => r.ts === '2017-05-03T10:00:00.000Z'), '12:00 at +0200');
    t.equal(p.clockOffsetSeconds, -30);
  });
  t.test('placeholder patient ids are no identity', async (t) => {
    for (const id of ['Unknown Patient', 'UNKNOWN', '0000000', 'N/A', '-']) {
      const p = check(acme.replace('HO2009001^^^NIST^PI', `${id}^^^NIST^PI`));
      t.equal(p.patient, 'placeholder', id);
      t.equal(p.stored.length, 4, `${id}: the readings are kept`);
    }
    t.equal(check(acme.replace('HO2009001^^^NIST^PI', '^^^NIST^PI')).patient, undefined, 'empty');
  });
  t.test(
    "two units' bed 1 do not collide through hl7.locations; a location the ward does not own is refused or kept without a bed",
    async (t) => {
      const locations = [
        { pointOfCare: 'HO Surgery', room: 'OR', wardBed: 'or-1' },
        { pointOfCare: 'ICU', wardBed: 'icu-1', bed: '1' },
      ];
      t.equal(check(acme, { locations }).bed, 'or-1');
      t.equal(check(acme.replace('HO Surgery^OR^1', 'ICU^OR^1'), { locations }).bed, 'icu-1');
      t.match(check(acme.replace('HO Surgery^OR^1', 'CARDIO^OR^1'), { locations }), {
        ack: 'AR',
        refused: { code: 'WG_ERR_HL7_LOCATION', where: 'PV1(3)-3' },
      });
      const kept = check(acme.replace('HO Surgery^OR^1', 'CARDIO^OR^1'), { locations, other: 'no-bed' });
      t.match(kept, { ack: 'AA', bed: undefined });
      t.equal(kept.stored.length, 4);
    },
  );
  t.test(
    'the device: OBX-18, else a PRT after the row (v2.7+), else MSH-3, else address and MSH-4 (never one constant)',
    async (t) => {
      const prt = check(
        linkwatch
          .replace('|||||||5C313EFFFE020E12^EUI64', '')
          .replace(/(OBX\|1\|[^\r]*)\r/, '$1\rPRT|1|UC||EQUIP^Equipment^HL70912||||||0012AB34CD56EF78^EUI-64\r'),
      );
      t.ok(
        prt.stored.every((r) => r.device === '0012AB34CD56EF78'),
        'PRT-10',
      );
      const msh3 = check(linkwatch.replace('|||||||5C313EFFFE020E12^EUI64', ''));
      t.ok(
        msh3.stored.every((r) => r.device === 'LinkWatchAndroid'),
        'MSH-3',
      );
      const a = check(
        linkwatch.replace('|||||||5C313EFFFE020E12^EUI64', '').replace('MSH|^~\\&|LinkWatchAndroid|', 'MSH|^~\\&||'),
        { address: '10.0.0.1' },
      );
      const b = check(
        linkwatch.replace('|||||||5C313EFFFE020E12^EUI64', '').replace('MSH|^~\\&|LinkWatchAndroid|', 'MSH|^~\\&||'),
        { address: '10.0.0.2' },
      );
      t.not(a.stored[0].device, b.stored[0].device, 'two senders without MSH-3 are two devices');
    },
  );
});

t.test('splitCapture: MLLP frames or plain text, CR, LF or CR LF', async (t) => {
  const two = `${corpus('linkwatch-pcd01-bp.hl7')}${corpus('nist-pcd01-acme-nibp.hl7')}`;
  t.equal(splitCapture(Buffer.from(two)).length, 2, 'CR');
  t.equal(splitCapture(Buffer.from(two.replace(/\r/g, '\r\n'))).length, 2, 'CR LF');
  const framed = splitCapture(
    Buffer.from(`\x0b${corpus('linkwatch-pcd01-bp.hl7')}\x1c\r\x0b${corpus('nist-pcd01-acme-nibp.hl7')}\x1c\r`),
  );
  t.equal(framed.length, 2, 'MLLP');
  t.equal(check(framed[1]).stored.length, 4);
});

t.test('over MLLP into a real gateway: the ACKs and the store agree with the preview', async (t) => {
  const port = await freePort();
  const { gateway } = await startTestGateway(t, {
    extra: {
      hl7: {
        port,
        senders: [
          { application: 'LinkWatchAndroid', beds: ['Bed1'] },
          {
            application: 'SendingApplication',
            facility: 'SendingFacility',
            beds: ['23'],
            timeZone: 'America/New_York',
          },
        ],
      },
      ingest: { acceptUnknownDevices: false },
    },
  });
  const client = await MllpClient.connect(t, port);
  const etco2 = corpus('linkwatch-pcd01-bp.hl7').replace(
    '150022^MDC_PRESS_BLD_NONINV_DIA^MDC|1.0.1.2|80|266016^MDC_DIM_MMHG^MDC',
    '151708^MDC_CONC_AWAY_CO2_ET^MDC|1.0.1.2|5.1|262688^MDC_DIM_PERCENT^MDC',
  );
  client.send(etco2);
  client.send(corpus('nist-pcd01-pulse-oximetry-panel.hl7').replace('||9879790003|', '||9879790004|'));
  client.send(corpus('philips-intellivue-mx500-pocd.hl7').replace('| SendingApplication|', '|LinkWatchAndroid|'));
  const acks = await client.waitForAcks(3);
  t.equal(acks[0].code, 'AA', 'EtCO2 in %: the row refused, the rest stored');
  t.match(acks[0].err, /^ERR\|\|OBX\^5\^6\|103\^Table value not found\^HL70357\|W\|WG_ERR_UNIT/);
  t.equal(acks[1].code, 'AA', 'the pulse oximetry panel placed in the sender zone');
  t.equal(acks[2].code, 'AA', 'demo data acknowledged');
  t.match(acks[2].err, /\|I\|WG_ERR_HL7_DEMO/);
  const rows = gateway.db!.prepare('SELECT code, value, ts FROM readings ORDER BY ts, code').all() as Array<{
    code: string;
    value: number;
    ts: number;
  }>;
  t.same(
    rows.map((r) => [r.code, r.value]),
    [
      ['pr', 55],
      ['nibp_sys', 125],
      ['pr', 66],
    ],
    'nothing of the demo message',
  );
  t.equal(rows[0].ts, Date.UTC(2012, 4, 30, 15, 23, 40));
  const letters = gateway.db!.prepare("SELECT reason, field FROM dead_letters WHERE source = 'hl7'").all();
  t.same(letters, [{ reason: 'WG_ERR_UNIT', field: 'OBX(5)-6' }], 'the refused row, dead-lettered alone');
  const metrics = await gateway.metrics!.registry.metrics();
  t.match(
    metrics,
    /wardgate_hl7_demo_rows_total\{sender="LinkWatchAndroid"\} 1/,
    'the demo message counted under its sender: its one heart rate row',
  );
  t.match(metrics, /wardgate_hl7_obx_unmapped_total\{code="184327"\} 1/);
  t.match(metrics, /wardgate_hl7_sender_clock_offset_seconds\{sender="SendingApplication\/SendingFacility"\} -\d+/);
});
