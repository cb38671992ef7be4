// The EHR service's own timer for unvalidated vitals (ehr.unvalidated): it
// runs by itself every intervalMs and its reports reach the interface engine
// (@medplum/hl7 on a real socket) with OBX-11 P; stopped, it sends no more.
// The interval is shortened here below the config's one-minute floor, which
// the config test holds.
import t from 'tap';
import { createLogger } from '../../../edge/log.js';
import { ehrConfigSchema } from '../../../edge/integration/ehrConfig.js';
import { EhrService } from '../../../edge/integration/ehrService.js';
import { Admissions } from '../../../edge/patients/admissions.js';
import { AuditLog } from '../../../edge/store/auditLog.js';
import { connectAs, startTestGateway } from '../../helpers/gateway.js';
import { InterfaceEngine } from '../../helpers/interfaceEngine.js';

t.test('the periodic send runs by itself, and stops with the service', async (t) => {
  const engine = await InterfaceEngine.start(t);
  const { gateway, url } = await startTestGateway(t);
  const db = gateway.db!;
  const audit = new AuditLog(db);
  const admissions = new Admissions(db, audit);
  admissions.admit({ bed: '1', identifier: 'MRN-51' }, 'biomed');
  const parsed = ehrConfigSchema.parse({
    host: '127.0.0.1',
    port: engine.port,
    retryMinMs: 50,
    unvalidated: { intervalMs: 60_000, status: 'P' },
  });
  const config = { ...parsed, unvalidated: { ...parsed.unvalidated!, intervalMs: 300 } };
  const service = new EhrService({
    config,
    ward: '3B',
    db,
    audit,
    admissions,
    alarms: { set: () => {} },
    log: createLogger('silent'),
    route: () => {},
  });
  await service.start();
  let stopped = false;
  t.teardown(() => (stopped ? undefined : service.stop()));

  const device = await connectAs(t, url, 'pox-1');
  await device.publishAsync(
    'wardgate/devices/pox-1/obs',
    JSON.stringify({ seq: 1, obs: [{ code: 'spo2', value: 95, unit: '%' }] }),
    { qos: 1 },
  );
  await engine.waitForCount(1, 5000);
  const msg = engine.received[0].message;
  t.equal(msg.getSegment('PID')!.getComponent(3, 1), 'MRN-51');
  t.equal(msg.getSegment('OBX')!.getField(11).toString(), 'P', 'OBX-11 P');
  t.equal(msg.getSegment('OBR')!.getField(25).toString(), 'P', 'OBR-25 P');

  await service.stop();
  stopped = true;
  await device.publishAsync(
    'wardgate/devices/pox-1/obs',
    JSON.stringify({ seq: 2, obs: [{ code: 'spo2', value: 93, unit: '%' }] }),
    { qos: 1 },
  );
  await new Promise((r) => setTimeout(r, 900));
  t.equal(engine.received.length, 1, 'stopped: nothing more is sent');
});
