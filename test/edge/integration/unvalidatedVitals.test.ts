// Unvalidated vitals (ehr.unvalidated): each admitted bed's values measured
// since the last run go to the EHR as a preliminary report (OBX-11 and OBR-25
// P, or R as configured), with no responsible observer; a bed with nothing
// new sends nothing; artifacts never go.
import t from 'tap';
import { createLogger } from '../../../edge/log.js';
import { ehrConfigSchema } from '../../../edge/integration/ehrConfig.js';
import { OutboundLink } from '../../../edge/integration/outboundLink.js';
import { VitalsCharting } from '../../../edge/integration/vitalsCharting.js';
import { Admissions } from '../../../edge/patients/admissions.js';
import { AuditLog } from '../../../edge/store/auditLog.js';
import { waitFor } from '../../helpers/env.js';
import { connectAs, startTestGateway } from '../../helpers/gateway.js';
import { InterfaceEngine } from '../../helpers/interfaceEngine.js';

for (const status of ['P', 'R'] as const) {
  t.test(`values since the last run go as status ${status}; nothing new, nothing sent`, async (t) => {
    const engine = await InterfaceEngine.start(t);
    const { gateway, url } = await startTestGateway(t);
    const db = gateway.db!;
    const admissions = new Admissions(db, new AuditLog(db));
    admissions.admit({ bed: '1', identifier: 'MRN-31', displayName: 'Poe, Al' }, 'biomed');
    admissions.admit({ bed: '2', identifier: 'MRN-32' }, 'biomed');
    const config = ehrConfigSchema.parse({
      host: '127.0.0.1',
      port: engine.port,
      unvalidated: { intervalMs: 900_000, status },
    });
    const link = new OutboundLink({
      name: 'ehr',
      receiver: 'the EHR',
      db,
      connection: { host: '127.0.0.1', port: engine.port, connectTimeoutMs: 1000, ackTimeoutMs: 1000 },
      retry: { minMs: 50, maxMs: 100 },
      alarms: { set: () => {} },
      log: createLogger('silent'),
    });
    await link.start();
    t.teardown(() => link.stop());
    const charting = new VitalsCharting({ config, ward: '3B', db, admissions, audit: new AuditLog(db), link });

    const device = await connectAs(t, url, 'pox-1');
    let seq = 0;
    const publish = (obs: unknown[]) =>
      device.publishAsync('wardgate/devices/pox-1/obs', JSON.stringify({ seq: ++seq, obs }), { qos: 1 });
    await publish([
      { code: 'spo2', value: 93, unit: '%' },
      { code: 'pr', value: 77, unit: '/min' },
      { code: 'rr', value: 500, unit: '/min' },
    ]);
    await waitFor(() =>
      (db.prepare('SELECT count(*) AS n FROM observations').get() as { n: number }).n === 1 ? true : undefined,
    );

    t.equal(charting.sendUnvalidated(), 1, 'one report: bed 2 has no values');
    await engine.waitForCount(1);
    const msg = engine.received[0].message;
    t.equal(msg.getSegment('PID')!.getComponent(3, 1), 'MRN-31');
    t.equal(msg.getSegment('OBR')!.getField(25).toString(), status);
    const rows = msg.getAllSegments('OBX');
    t.same(
      rows.map((o) => o.getComponent(3, 2)),
      ['MDC_PULS_OXIM_PULS_RATE', 'MDC_PULS_OXIM_SAT_O2'],
      'in the configured order; the artifact respiration rate is left out',
    );
    for (const o of rows) {
      t.equal(o.getField(11).toString(), status, 'OBX-11');
      t.equal(o.getField(16).toString(), '', 'no responsible observer: nobody validated these');
      t.equal(o.getComponent(17, 1), 'AMEAS');
      t.equal(o.getComponent(18, 1), 'pox-1');
    }

    t.equal(charting.sendUnvalidated(), 0, 'nothing measured since: nothing sent');
    await new Promise((r) => setTimeout(r, 20));
    await publish([{ code: 'spo2', value: 91, unit: '%' }]);
    await waitFor(() =>
      (db.prepare('SELECT count(*) AS n FROM observations').get() as { n: number }).n === 2 ? true : undefined,
    );
    t.equal(charting.sendUnvalidated(), 1);
    await engine.waitForCount(2);
    t.same(
      engine.received[1].message.getAllSegments('OBX').map((o) => [o.getComponent(3, 2), o.getField(5).toString()]),
      [['MDC_PULS_OXIM_SAT_O2', '91']],
      'only what is new',
    );
    t.equal(
      db.prepare("SELECT count(*) AS n FROM audit WHERE action = 'chart-vitals'").pluck().get(),
      0,
      'nobody charted these: no audit entry names a nurse',
    );
  });
}

t.test('a reading a nurse charted final does not go again as preliminary', async (t) => {
  const engine = await InterfaceEngine.start(t);
  const { gateway, url } = await startTestGateway(t);
  const db = gateway.db!;
  const audit = new AuditLog(db);
  const admissions = new Admissions(db, audit);
  admissions.admit({ bed: '1', identifier: 'MRN-41' }, 'biomed');
  const config = ehrConfigSchema.parse({
    host: '127.0.0.1',
    port: engine.port,
    unvalidated: { intervalMs: 900_000, status: 'P' },
  });
  const link = new OutboundLink({
    name: 'ehr',
    receiver: 'the EHR',
    db,
    connection: { host: '127.0.0.1', port: engine.port, connectTimeoutMs: 1000, ackTimeoutMs: 1000 },
    retry: { minMs: 50, maxMs: 100 },
    alarms: { set: () => {} },
    log: createLogger('silent'),
  });
  await link.start();
  t.teardown(() => link.stop());
  const charting = new VitalsCharting({ config, ward: '3B', db, admissions, audit, link });
  const device = await connectAs(t, url, 'pox-1');
  await device.publishAsync(
    'wardgate/devices/pox-1/obs',
    JSON.stringify({
      seq: 1,
      obs: [
        { code: 'spo2', value: 94, unit: '%' },
        { code: 'pr', value: 80, unit: '/min' },
      ],
    }),
    { qos: 1 },
  );
  const spo2 = await waitFor(() => charting.review('1').vitals.find((v) => v.metric === 'spo2' && v.value !== null));
  charting.send('1', [{ metric: 'spo2', value: 94, observation: spo2.observation! }], 'nurse-ann');
  t.equal(charting.sendUnvalidated(), 1);
  await engine.waitForCount(2);
  const preliminary = engine.received.find((r) => r.message.getSegment('OBR')!.getField(25).toString() === 'P')!;
  t.same(
    preliminary.message.getAllSegments('OBX').map((o) => o.getComponent(3, 2)),
    ['MDC_PULS_OXIM_PULS_RATE'],
    'only the pulse: the SpO2 is in the chart as final',
  );
});

t.test('off unless configured', async (t) => {
  t.equal(ehrConfigSchema.parse({ host: 'h', port: 1 }).unvalidated, undefined);
  t.throws(
    () => ehrConfigSchema.parse({ host: 'h', port: 1, unvalidated: { intervalMs: 1000 } }),
    /60000/,
    'not more often than once a minute',
  );
  t.throws(
    () => ehrConfigSchema.parse({ host: 'h', port: 1, unvalidated: { intervalMs: 60_000, status: 'F' } }),
    'never final: final needs a nurse',
  );
});
