// A bed's next patient through the real daemon: the hospital's ADT feed over
// MLLP (A01, A03, A01 for another patient) and the admissions API, a device
// publishing to the embedded broker, and what the ward sees: the bed view and
// NEWS2 over the API, the retained bed vitals over MQTT, the open alarms.
import t, { type Test } from 'tap';
import { Hl7Message } from '@medplum/core';
import { Hl7Client } from '@medplum/hl7';
import type { MqttClient } from 'mqtt';
import { adtMessage, type AdtSpec } from '../../helpers/adt.js';
import { freePort, waitFor } from '../../helpers/env.js';
import { connectAs, passwordOf, startTestGateway } from '../../helpers/gateway.js';

t.setTimeout(60_000);

type Json = Record<string, unknown>;
interface BedJson {
  patient: Json | null;
  vitals: Record<string, { value: number }>;
  news2: { score: number; parts: Record<string, number>; missing: string[] } | null;
  alarms: Json[];
}

const basic = (name: string) => `Basic ${Buffer.from(`${name}:${passwordOf(name)}`).toString('base64')}`;

function api(port: number) {
  const call = (method: string, path: string, who: string, body?: unknown) =>
    fetch(`http://127.0.0.1:${port}${path}`, {
      method,
      headers: { authorization: basic(who), 'content-type': 'application/json' },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
  return {
    call,
    bed: async (bed: string) => (await (await call('GET', `/api/beds/${bed}`, 'station')).json()) as BedJson,
  };
}

/** A device of bed 1 sending one observation; the retained vitals of bed 1 as a ward display sees them. */
async function bedOne(t: Test, url: string) {
  const station = await connectAs(t, url, 'station');
  const retained: Json[] = [];
  station.on('message', (_topic, payload) => retained.push(JSON.parse(payload.toString()) as Json));
  await station.subscribeAsync('wardgate/ward/3B/beds/1/vitals', { qos: 1 });
  const device: MqttClient = await connectAs(t, url, 'pox-1');
  let seq = 0;
  const units: Record<string, string> = { nibp_sys: 'mm[Hg]', temp: 'Cel', rr: '/min', spo2: '%', pr: '/min' };
  const send = (values: Record<string, number>) =>
    device.publishAsync(
      'wardgate/devices/pox-1/obs',
      JSON.stringify({
        seq: ++seq,
        obs: Object.entries(values).map(([code, value]) => ({ code, value, unit: units[code] })),
      }),
      { qos: 1 },
    );
  return { send, retained };
}

t.test('ADT: discharge (A03), then another patient (A01): the bed shows nothing of the first', async (t) => {
  const adtPort = await freePort();
  const { config, url } = await startTestGateway(t, {
    extra: {
      hl7: { port: 0, adt: { port: adtPort, senders: [{ application: 'HIS' }], locations: [{ pointOfCare: '3B' }] } },
    },
  });
  const client = new Hl7Client({ host: '127.0.0.1', port: adtPort, connectTimeout: 2000 });
  t.teardown(() => client.close());
  const adt = async (spec: AdtSpec) => {
    const ack = await client.sendAndWait(Hl7Message.parse(adtMessage(spec)), { timeoutMs: 5000 });
    t.equal(ack.getSegment('MSA')!.getField(1).toString(), 'AA', `${spec.event} applied`);
  };
  const { bed } = api(config.http.port);
  const { send, retained } = await bedOne(t, url);

  await adt({ event: 'A01', controlId: 'N1', patient: 'P1', location: '3B^1^1', at: '20261202090000+0000' });
  // SBP 100 (2) and a temperature of 38.5 (1), spot values that count for four hours.
  await send({ nibp_sys: 100, temp: 38.5, rr: 16, spo2: 97, pr: 70 });
  await waitFor(async () => ((await bed('1')).news2?.parts.sbp === 2 ? true : undefined), 5000, 'the first NEWS2');

  await waitFor(() => retained.find((m) => (m.vitals as Json).nibp_sys), 5000, "the first patient's retained values");
  // Published before (the first A01's empty bed, then the first patient's values): not what the discharge emptied.
  const beforeDischarge = retained.length;
  await adt({ event: 'A03', controlId: 'N2', patient: 'P1', location: '3B^1^1', at: '20261202100000+0000' });
  const discharged = await bed('1');
  t.equal(discharged.patient, null);
  t.same(discharged.vitals, {}, 'the bed forgot its patient at the discharge');
  t.equal(discharged.news2, null);
  await waitFor(
    () => retained.slice(beforeDischarge).find((m) => JSON.stringify(m.vitals) === '{}' && m.news2 === null),
    5000,
    'the retained vitals emptied',
  );

  await adt({ event: 'A01', controlId: 'N3', patient: 'P2', location: '3B^1^1', at: '20261202110000+0000' });
  await send({ rr: 16, spo2: 97, pr: 70 });
  const view = await waitFor(async () => {
    const b = await bed('1');
    return b.vitals.rr ? b : undefined;
  });
  t.ok(view.patient, 'the second patient');
  t.same(Object.keys(view.vitals).sort(), ['pr', 'pulse', 'rr', 'spo2'], "none of the first patient's values");
  t.match(view.news2, { score: 0 });
  t.ok(view.news2!.missing.includes('sbp') && view.news2!.missing.includes('temp'));
  const last = await waitFor(() => {
    const m = retained.at(-1)!;
    return (m.vitals as Json).rr ? m : undefined;
  });
  t.notOk('nibp_sys' in (last.vitals as Json), 'nor in the retained vitals');
  t.ok((last.news2 as { missing: string[] }).missing.includes('sbp'));
});

t.test("the admissions API: the first patient's alarm ends at the discharge, the next starts clean", async (t) => {
  const { config, url } = await startTestGateway(t);
  const { call, bed } = api(config.http.port);
  const { send } = await bedOne(t, url);

  t.equal((await call('POST', '/api/admissions', 'biomed', { bed: '1', identifier: 'MRN-1' })).status, 201);
  // SBP 82: a limit alarm at once (spot measurement, no condition delay).
  await send({ nibp_sys: 82, rr: 16, spo2: 97, pr: 70 });
  await waitFor(async () => ((await bed('1')).alarms.length === 1 ? true : undefined), 5000, 'the alarm');

  t.equal((await call('POST', '/api/beds/1/discharge', 'biomed')).status, 200);
  const discharged = await bed('1');
  t.equal(discharged.patient, null);
  t.same(discharged.vitals, {});
  t.equal(discharged.news2, null);
  t.same(discharged.alarms, [], 'the alarm (medium: it does not latch) ended');
  const history = (await (await call('GET', '/api/alarms/history?bed=1', 'station')).json()) as { events: Json[] };
  t.match(history.events[0], { phase: 'cleared', metric: 'nibp_sys', message: /the patient left the bed$/ });

  t.equal((await call('POST', '/api/admissions', 'biomed', { bed: '1', identifier: 'MRN-2' })).status, 201);
  await send({ rr: 16, spo2: 97, pr: 70 });
  const view = await waitFor(async () => {
    const b = await bed('1');
    return b.vitals.rr ? b : undefined;
  });
  t.notOk('nibp_sys' in view.vitals);
  t.same(view.alarms, []);
  t.ok(view.news2!.missing.includes('sbp'));
});
