// The gateway as an IHE PCD Alarm Reporter, end to end over real sockets:
// a device's reading raises a ward alarm, the alarm manager (played by
// @medplum/hl7) parses the PCD-04 reports, sends back a PCD-05 "accepted",
// and the ward alarm is acknowledged and audited as a dashboard
// acknowledgement is; with the manager down the ward alarm is as fast as
// ever and a technical alarm says the manager is not reached.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { Hl7Message } from '@medplum/core';
import { Hl7Client } from '@medplum/hl7';
import type { Alarm, AlarmEvent } from '../../../edge/alarms/types.js';
import type { Gateway } from '../../../edge/gateway.js';
import { freePort, tempDir, waitFor } from '../../helpers/env.js';
import { connectAs, startTestGateway } from '../../helpers/gateway.js';
import { InterfaceEngine } from '../../helpers/interfaceEngine.js';
import { selfSignedCert } from '../../helpers/tls.js';

t.setTimeout(120_000);

// SpO2 at or under 85 is a high-priority alarm without condition delay: the test looks at the path, not the clinical delay.
const alarms = { limits: { spo2: { low: 85, priority: 'high', delayMs: 0 } } };
const manager = (port: number, extra: Record<string, unknown> = {}) => ({
  host: '127.0.0.1',
  port,
  receivingApplication: 'NURSECALL',
  receivingFacility: 'HOSP',
  facility: 'HOSP',
  listen: { host: '127.0.0.1', port: 0 },
  retryMinMs: 50,
  retryMaxMs: 200,
  ackTimeoutMs: 2000,
  connectTimeoutMs: 500,
  ...extra,
});

function facet(msg: Hl7Message, refid: string): string | undefined {
  return msg
    .getAllSegments('OBX')
    .find((s) => s.getComponent(3, 2) === refid)
    ?.getField(5)
    .toString();
}

function pcd05(controlId: string, alarmId: string, status: string): Hl7Message {
  return Hl7Message.parse(
    [
      `MSH|^~\\&|NURSECALL|HOSP|WARDGATE|3B|20261202093012+0000||ORA^R41^ORA_R41|${controlId}|P|2.7`,
      `OBR|1|${alarmId}^gw-test|${alarmId}^gw-test|196616^MDC_EVT_ALARM^MDC`,
      `PRT|1|UC|${status}|RCT|N123^Smith^Anna||||3B^Corridor^Bay 2|PHONE-0451|20261202093011+0000`,
    ].join('\r'),
  );
}

async function statusClient(t: { teardown(fn: () => unknown): void }, gateway: Gateway): Promise<Hl7Client> {
  const client = new Hl7Client({ host: '127.0.0.1', port: gateway.ports.alarmStatus!, connectTimeout: 2000 });
  t.teardown(() => client.close());
  return client;
}

t.test(
  'reports every lifecycle event as PCD-04; an "accepted" from the manager acknowledges the ward alarm, audited with who and where',
  async (t) => {
    const engine = await InterfaceEngine.start(t);
    const { gateway, url } = await startTestGateway(t, { extra: { alarms, alarmManager: manager(engine.port) } });
    gateway.alarms!.admissions.admit({ bed: '1', identifier: 'MRN-0042', authority: 'HOSP' }, 'biomed');
    const device = await connectAs(t, url, 'pox-1');
    await device.publishAsync(
      'wardgate/devices/pox-1/obs',
      JSON.stringify({ seq: 1, obs: [{ code: 'spo2', value: 82, unit: '%' }] }),
      { qos: 1 },
    );

    await engine.waitForCount(1);
    const alarm = gateway.alarms!.engine.openAlarms()[0];
    t.ok(alarm, 'the ward alarm is open');
    const raised = engine.received[0].message;
    t.equal(raised.header.getField(9).toString(), 'ORU^R40^ORU_R40');
    t.equal(raised.header.getField(5).toString(), 'NURSECALL');
    t.equal(raised.header.getComponent(21, 1), 'IHE_PCD_ACM_001');
    t.equal(raised.getSegment('PID')!.getComponent(3, 1), 'MRN-0042', 'the patient in bed 1');
    t.same(
      [1, 3, 4].map((c) => raised.getSegment('PV1')!.getComponent(3, c)),
      ['3B', '1', 'HOSP'],
    );
    t.equal(raised.getSegment('OBR')!.getComponent(3, 1), alarm.id, "OBR-3: the ward alarm's id");
    t.equal(raised.getAllSegments('OBX')[1].getField(5).toString(), '82');
    t.equal(
      raised.getAllSegments('OBX')[1].getField(7).toString(),
      '>85',
      'OBX-7: the limit, as recorded with the event',
    );
    t.same(
      [
        'MDC_ATTR_EVENT_PHASE',
        'MDC_ATTR_ALARM_STATE',
        'MDC_ATTR_ALARM_INACTIVATION_STATE',
        'MDC_ATTR_ALARM_PRIORITY',
        'MDC_ATTR_ALERT_TYPE',
      ].map((f) => facet(raised, f)),
      ['start', 'active', 'enabled', 'PH', 'SP'],
    );

    const client = await statusClient(t, gateway);
    const delivered = await client.sendAndWait(pcd05('NC-1', alarm.id, 'Delivered to endpoint'), { timeoutMs: 5000 });
    t.equal(delivered.getSegment('MSA')!.getField(1).toString(), 'AA');
    t.equal(
      gateway.alarms!.engine.openAlarms()[0].state,
      'active',
      'delivered is not accepted: the alarm still waits for someone',
    );
    const accepted = await client.sendAndWait(pcd05('NC-2', alarm.id, 'Accepted by user'), { timeoutMs: 5000 });
    t.equal(accepted.header.getField(9).toString(), 'ACK^R41^ACK');
    t.equal(accepted.getSegment('MSA')!.getField(1).toString(), 'AA');

    const acked = gateway.alarms!.engine.openAlarms()[0];
    t.match(acked, { id: alarm.id, state: 'acknowledged', acknowledgedBy: 'Anna Smith' }, 'acknowledged on the ward');
    const audit = gateway
      .db!.prepare('SELECT actor, action, target, detail FROM audit WHERE target = ? ORDER BY id')
      .all(`alarm:${alarm.id}`) as Array<{ actor: string; action: string; detail: string }>;
    t.same(
      audit.map((a) => [a.actor, a.action]),
      [
        ['Anna Smith', 'alarm-manager-status'],
        ['Anna Smith', 'alarm-manager-status'],
        ['Anna Smith', 'acknowledge'],
      ],
    );
    t.match(JSON.parse(audit[1].detail), {
      via: 'alarm-manager',
      status: 'accepted',
      personId: 'N123',
      device: 'PHONE-0451',
      location: '3B Corridor Bay 2',
      manager: 'NURSECALL',
    });
    t.same(
      JSON.parse(audit[2].detail),
      { via: 'alarm-manager' },
      "the acknowledgement itself, as the dashboard's is recorded",
    );

    // The acknowledgement goes back to the manager as a PCD-04 of its own, then the clear.
    await engine.waitForCount(2);
    t.same(
      [
        facet(engine.received[1].message, 'MDC_ATTR_EVENT_PHASE'),
        facet(engine.received[1].message, 'MDC_ATTR_ALARM_INACTIVATION_STATE'),
      ],
      ['update', 'alert-acknowledged'],
    );
    await device.publishAsync(
      'wardgate/devices/pox-1/obs',
      JSON.stringify({ seq: 2, obs: [{ code: 'spo2', value: 97, unit: '%' }] }),
      { qos: 1 },
    );
    await engine.waitForCount(3);
    const cleared = engine.received[2].message;
    t.same([facet(cleared, 'MDC_ATTR_EVENT_PHASE'), facet(cleared, 'MDC_ATTR_ALARM_STATE')], ['end', 'inactive']);
    t.equal(cleared.getSegment('OBR')!.getComponent(3, 1), alarm.id);
    const ids = engine.controlIds();
    t.equal(ids.length, 3, 'one report per event, each once');
    t.same(
      [...ids].sort((a, b) => Number(a.slice(3)) - Number(b.slice(3))),
      ids,
      'in the order the events happened',
    );

    // A second "accepted" for the same alarm changes nothing on the ward; one for an alarm never reported is refused.
    const again = await client.sendAndWait(pcd05('NC-3', alarm.id, 'Accepted'), { timeoutMs: 5000 });
    t.equal(again.getSegment('MSA')!.getField(1).toString(), 'AA');
    t.equal(
      gateway.db!.prepare("SELECT count(*) FROM audit WHERE action = 'acknowledge'").pluck().get(),
      1,
      'acknowledged once',
    );
    const unknown = await client.sendAndWait(pcd05('NC-4', '00000000-0000-0000-0000-000000000000', 'Accepted'), {
      timeoutMs: 5000,
    });
    t.equal(unknown.getSegment('MSA')!.getField(1).toString(), 'AE');
  },
);

/** From publishing a critical reading to its raised event on the bus, ms. */
async function raiseLatency(
  t: { teardown(fn: () => unknown): void },
  gateway: Gateway,
  url: string,
  seq: number,
): Promise<number> {
  const device = await connectAs(t, url, 'pox-2');
  let raisedAt = 0;
  const off = gateway.bus.on('alarm.events', (events: ReadonlyArray<readonly [AlarmEvent, Alarm]>) => {
    if (events.some(([e]) => (e.phase === 'raised' || e.phase === 'updated') && e.state === 'active' && e.bed === '2'))
      raisedAt ||= performance.now();
  });
  t.teardown(off);
  const sent = performance.now();
  await device.publishAsync(
    'wardgate/devices/pox-2/obs',
    JSON.stringify({ seq, obs: [{ code: 'spo2', value: 80, unit: '%' }] }),
    { qos: 1 },
  );
  await waitFor(() => (raisedAt ? true : undefined), 5000, 'the ward alarm');
  await device.publishAsync(
    'wardgate/devices/pox-2/obs',
    JSON.stringify({ seq: seq + 1, obs: [{ code: 'spo2', value: 97, unit: '%' }] }),
    { qos: 1 },
  );
  return raisedAt - sent;
}

t.test(
  'manager down: the ward alarm is raised as fast as without one, a technical alarm says so, and the reports go once it is back',
  async (t) => {
    const port = await freePort();
    const { gateway, url } = await startTestGateway(t, {
      extra: { alarms, alarmManager: manager(port, { unreachableAlarmMs: 300, retryMinMs: 1000, retryMaxMs: 2000 }) },
    });
    const baseline = await startTestGateway(t, { extra: { alarms } });
    const down: number[] = [];
    const without: number[] = [];
    for (let i = 0; i < 5; i++) {
      down.push(await raiseLatency(t, gateway, url, 10 + i * 2));
      without.push(await raiseLatency(t, baseline.gateway, baseline.url, 10 + i * 2));
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    t.comment(
      `publish to the raised event, median of 5: ${median(down).toFixed(1)} ms with the alarm manager down, ${median(without).toFixed(1)} ms with none configured`,
    );
    t.ok(median(down) < 250, 'the ward alarm does not wait for the manager');
    t.ok(median(down) < median(without) + 50, 'no slower than a gateway without an alarm manager');

    const technical = await waitFor(
      () => gateway.alarms!.engine.openAlarms().find((a) => a.rule === 'alarm-manager-unreachable'),
      5000,
      'the unreachable alarm',
    );
    t.match(technical, {
      kind: 'technical',
      priority: 'medium',
      message: /Alarm manager unreachable .* alarms show on the ward only/,
    });
    const queued = gateway.alarmManager!.link.status();
    t.ok(queued.queued >= 10, `${queued.queued} reports waiting`);
    t.equal(queued.connected, false);
    const metrics = await (await fetch(`http://127.0.0.1:${gateway.ports.http}/metrics`)).text();
    t.match(metrics, /wardgate_outbound_queued\{link="alarm-manager"\} \d+/, 'the queue in /metrics');
    t.match(metrics, /wardgate_alarm_manager_reports_total\{outcome="queued"\} \d+/);

    const engine = await InterfaceEngine.start(t, { port });
    await engine.waitForCount(queued.queued, 15_000);
    await waitFor(
      () =>
        gateway.alarms!.engine.openAlarms().some((a) => a.rule === 'alarm-manager-unreachable') ? undefined : true,
      5000,
      'the unreachable alarm to clear',
    );
    const ids = engine.controlIds();
    t.equal(ids.length, engine.received.length, 'each report once');
    const byAlarm = new Map<string, string[]>();
    for (const r of engine.received) {
      const id = r.message.getSegment('OBR')!.getComponent(3, 1);
      byAlarm.set(id, [...(byAlarm.get(id) ?? []), facet(r.message, 'MDC_ATTR_EVENT_PHASE')!]);
    }
    for (const [id, phases] of byAlarm)
      if (!id.startsWith('outbound')) t.equal(phases[0], 'start', `alarm ${id.slice(0, 8)}: its start first`);
  },
);

t.test(
  'TLS where the site has it: the reports reach a manager whose certificate chains to the configured CA',
  async (t) => {
    const { cert, key } = selfSignedCert(tempDir(t), 'manager', 'nursecall.example');
    const engine = await InterfaceEngine.start(t, { tls: { cert: readFileSync(cert), key: readFileSync(key) } });
    const { gateway, url } = await startTestGateway(t, {
      extra: { alarms, alarmManager: manager(engine.port, { tls: { ca: cert, servername: 'nursecall.example' } }) },
    });
    const device = await connectAs(t, url, 'pox-1');
    await device.publishAsync(
      'wardgate/devices/pox-1/obs',
      JSON.stringify({ seq: 1, obs: [{ code: 'spo2', value: 82, unit: '%' }] }),
      { qos: 1 },
    );
    await engine.waitForCount(1);
    t.equal(engine.received[0].message.header.getField(9).toString(), 'ORU^R40^ORU_R40');
    await waitFor(
      () => (gateway.alarmManager!.link.status().sent === 1 ? true : undefined),
      5000,
      'the report marked sent',
    );
  },
);

t.test(
  "a report the manager refuses (AR) is set aside with a technical alarm on the ward; the next alarm's reports still go",
  async (t) => {
    const engine = await InterfaceEngine.start(t);
    engine.answer = (_message, n) => (n === 0 ? 'AR' : 'AA');
    const { gateway, url } = await startTestGateway(t, { extra: { alarms, alarmManager: manager(engine.port) } });
    const device = await connectAs(t, url, 'pox-1');
    await device.publishAsync(
      'wardgate/devices/pox-1/obs',
      JSON.stringify({ seq: 1, obs: [{ code: 'spo2', value: 82, unit: '%' }] }),
      { qos: 1 },
    );
    const quarantine = await waitFor(
      () => gateway.alarms!.engine.openAlarms().find((a) => a.rule === 'outbound-quarantine'),
      5000,
      'the quarantine alarm',
    );
    t.match(quarantine, { kind: 'technical', message: /refused by the alarm manager/ });
    t.equal(gateway.alarmManager!.link.status().quarantined, 1);
    await engine.waitForCount(2);
    t.equal(engine.received[1].answer, 'AA', 'the reports behind it went on');
  },
);

t.test('alarmManager.listen.tls: the status port of a running gateway speaks MLLP inside TLS', async (t) => {
  const { cert, key } = selfSignedCert(tempDir(t), 'ward', 'ward.example');
  const engine = await InterfaceEngine.start(t);
  const { gateway } = await startTestGateway(t, {
    extra: {
      alarms,
      alarmManager: manager(engine.port, { listen: { host: '127.0.0.1', port: 0, tls: { cert, key } } }),
    },
  });
  const socket = await new Promise<TLSSocket>((resolve, reject) => {
    const s = tlsConnect(
      { host: '127.0.0.1', port: gateway.ports.alarmStatus!, servername: 'ward.example', ca: readFileSync(cert) },
      () => resolve(s),
    ).on('error', reject);
  });
  t.teardown(() => socket.destroy());
  let got = '';
  socket.on('data', (d: Buffer) => (got += d.toString('utf8')));
  socket.write(`\x0b${pcd05('NC-TLS', 'no-such-alarm', 'Accepted').toString()}\x1c\r`);
  await waitFor(() => (got.includes('\x1c\r') ? true : undefined), 5000, 'the answer over TLS');
  t.match(got, /MSA\|AE\|NC-TLS/, 'answered (AE: no such alarm was reported) over TLS');
});
