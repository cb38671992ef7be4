// The alarm manager's acknowledgement on the ward dashboard, live, in a real
// browser (headless Chromium): a nurse watches a red alarm; someone accepts
// it on their phone through the alarm manager (@medplum/hl7 sends the PCD-05);
// the tile says who, without a reload.
import t from 'tap';
import { Hl7Message } from '@medplum/core';
import { Hl7Client } from '@medplum/hl7';
import { gatewayPage, launchBrowser, logIn } from '../../helpers/browser.js';
import { connectAs, passwordOf, startTestGateway } from '../../helpers/gateway.js';
import { InterfaceEngine } from '../../helpers/interfaceEngine.js';

t.setTimeout(120_000);

const alarms = { limits: { spo2: { low: 85, priority: 'high', delayMs: 0 } } };

t.test('an alarm accepted on a phone shows as acknowledged on the dashboard within a second', async (t) => {
  const engine = await InterfaceEngine.start(t);
  const { gateway, config, url } = await startTestGateway(t, {
    extra: { alarms, alarmManager: { host: '127.0.0.1', port: engine.port, listen: { host: '127.0.0.1', port: 0 } } },
  });
  const origin = `http://127.0.0.1:${config.http.port}`;
  const browser = await launchBrowser(t);
  const { page, errors } = await gatewayPage(browser, origin);
  await logIn(page, origin, 'nurse-ann', passwordOf('nurse-ann'));
  await page.waitForSelector('.tile[data-bed="1"]');

  const device = await connectAs(t, url, 'pox-1');
  await device.publishAsync(
    'wardgate/devices/pox-1/obs',
    JSON.stringify({ seq: 1, obs: [{ code: 'spo2', value: 82, unit: '%' }] }),
    { qos: 1 },
  );
  await page.locator('.tile[data-bed="1"] .alarm.prio-high').waitFor({ timeout: 5000 });
  await engine.waitForCount(1);
  const alarmId = engine.received[0].message.getSegment('OBR')!.getComponent(3, 1);

  const client = new Hl7Client({ host: '127.0.0.1', port: gateway.ports.alarmStatus!, connectTimeout: 2000 });
  t.teardown(() => client.close());
  const status = Hl7Message.parse(
    [
      'MSH|^~\\&|NURSECALL|HOSP|WARDGATE|3B|20261202093012+0000||ORA^R41^ORA_R41|NC-1|P|2.7',
      `OBR|1|${alarmId}^gw-test|${alarmId}^gw-test|196616^MDC_EVT_ALARM^MDC`,
      'PRT|1|UC|Accepted by user|RCT|N123^Smith^Anna||||3B^Corridor^Bay 2|PHONE-0451',
    ].join('\r'),
  );
  const sent = Date.now();
  const ack = await client.sendAndWait(status, { timeoutMs: 5000 });
  t.equal(ack.getSegment('MSA')!.getField(1).toString(), 'AA');
  const acked = page.locator('.tile[data-bed="1"] .alarm.state-acknowledged');
  await acked.waitFor({ timeout: 5000 });
  const shownAfter = Date.now() - sent;
  t.comment(`PCD-05 sent to acknowledged on screen: ${shownAfter} ms`);
  t.ok(shownAfter < 1000, 'live, without a reload');
  t.match(await acked.textContent(), 'ack Anna Smith', 'the tile says who accepted it');
  await page.click('a[data-nav="alarms"]');
  await page.waitForSelector('.alarm-table tr.state-acknowledged');
  t.match(await page.textContent('.alarm-table tr.state-acknowledged'), 'acknowledged by Anna Smith');
  t.same(errors, [], 'no page errors');
});
