// Review & send to chart in a real browser (headless Debian Chromium): a
// nurse opens the bed, loads its current vitals, confirms one, corrects one,
// enters one the devices did not measure, and sends; the interface engine
// (@medplum/hl7 on a real socket) receives the ORU^R01 with those values and
// the audit trail records the correction. A viewer gets no form; a ward
// without the EHR link shows no panel at all.
import t from 'tap';
import { waitFor } from '../../helpers/env.js';
import { gatewayPage, launchBrowser, logIn } from '../../helpers/browser.js';
import { connectAs, passwordOf, startTestGateway } from '../../helpers/gateway.js';
import { InterfaceEngine } from '../../helpers/interfaceEngine.js';

t.setTimeout(120_000);

const admin = {
  authorization: `Basic ${Buffer.from(`biomed:${passwordOf('biomed')}`).toString('base64')}`,
  'content-type': 'application/json',
};

t.test('a nurse reviews, confirms, corrects and enters vitals and sends them to the chart', async (t) => {
  const engine = await InterfaceEngine.start(t);
  const { config, url } = await startTestGateway(t, {
    extra: { ehr: { host: '127.0.0.1', port: engine.port, retryMinMs: 50 } },
  });
  const origin = `http://127.0.0.1:${config.http.port}`;
  t.equal(
    (
      await fetch(`${origin}/api/admissions`, {
        method: 'POST',
        headers: admin,
        body: JSON.stringify({ bed: '1', identifier: 'MRN-900', displayName: 'Roe, Rita' }),
      })
    ).status,
    201,
  );
  const device = await connectAs(t, url, 'pox-1');
  await device.publishAsync(
    'wardgate/devices/pox-1/obs',
    JSON.stringify({
      seq: 1,
      obs: [
        { code: 'spo2', value: 94, unit: '%' },
        { code: 'pr', value: 101, unit: '/min' },
      ],
    }),
    { qos: 1 },
  );

  const browser = await launchBrowser(t);
  const { page, errors, foreign } = await gatewayPage(browser, origin);
  await logIn(page, origin, 'nurse-ann', passwordOf('nurse-ann'));
  await page.goto(`${origin}/#/bed/1`);
  await page.locator('.bed-chart button', { hasText: 'Review current vitals' }).click();
  const spo2 = page.locator('.chart-form tr[data-metric="spo2"]');
  await spo2.waitFor();
  t.equal(await spo2.locator('input[type=number]').inputValue(), '94', 'the device value is offered');
  t.ok(await spo2.locator('input[type=checkbox]').isChecked(), 'and ticked');
  t.match(await spo2.textContent(), 'pox-1');
  t.match(await page.textContent('.chart-form .hint'), 'Roe, Rita');
  const temp = page.locator('.chart-form tr[data-metric="temp"]');
  t.match(await temp.textContent(), 'none since admission');
  t.notOk(await temp.locator('input[type=checkbox]').isChecked(), 'nothing measured, nothing ticked');

  // Correct the pulse, enter a temperature, leave the rest unticked.
  await page.fill('.chart-form tr[data-metric="pr"] input[type=number]', '96');
  t.match(await page.textContent('.chart-form tr[data-metric="pr"] .chart-note'), 'corrected');
  await page.fill('.chart-form tr[data-metric="temp"] input[type=number]', '37.8');
  t.ok(await temp.locator('input[type=checkbox]').isChecked(), 'typing a value ticks its row');
  await page.click('.chart-form button[type=submit]');
  const sent = await page.locator('.chart-sent').textContent();
  t.match(sent, /Sent to chart: 1 confirmed, 1 corrected, 1 entered \(message (\w+)\)/);
  const controlId = /message (\w+)/.exec(sent ?? '')![1];

  await engine.waitForCount(1);
  const msg = engine.received[0].message;
  t.equal(engine.received[0].controlId, controlId, 'the message the page names is the one the EHR received');
  t.equal(msg.getSegment('PID')!.getComponent(3, 1), 'MRN-900');
  const rows = msg
    .getAllSegments('OBX')
    .map((o) => [
      o.getComponent(3, 2),
      o.getField(5).toString(),
      o.getField(11).toString(),
      o.getComponent(16, 1),
      o.getComponent(17, 1),
    ]);
  t.same(rows, [
    ['MDC_PULS_OXIM_PULS_RATE', '96', 'F', 'nurse-ann', 'MMEAS'],
    ['MDC_PULS_OXIM_SAT_O2', '94', 'F', 'nurse-ann', 'AMEAS'],
    ['MDC_TEMP_BODY', '37.8', 'F', 'nurse-ann', 'MMEAS'],
  ]);
  const audit = (await (await fetch(`${origin}/api/audit`, { headers: admin })).json()) as {
    entries: Array<{ actor: string; action: string; detail: Record<string, unknown> }>;
  };
  t.match(
    audit.entries.find((e) => e.action === 'chart-vitals'),
    {
      actor: 'nurse-ann',
      detail: { corrected: [{ metric: 'pr', from: 101, to: 96 }], confirmed: ['spo2'], entered: ['temp'] },
    },
  );

  // An implausible value is refused by the gateway and said on the page; nothing more reaches the EHR.
  await page.locator('.bed-chart button', { hasText: 'Review again' }).click();
  await page.locator('.chart-form tr[data-metric="spo2"]').waitFor();
  await page.fill('.chart-form tr[data-metric="spo2"] input[type=number]', '140');
  await page.click('.chart-form button[type=submit]');
  t.match(await page.locator('.chart-error').textContent(), 'not a plausible SpO2');
  await new Promise((r) => setTimeout(r, 300));
  t.equal(engine.received.length, 1);

  // What is in the chart says so and is not ticked again; a new value for it goes as a correction (OBX-11 C).
  await page.locator('.chart-form button', { hasText: 'Cancel' }).click();
  await page.locator('.bed-chart button', { hasText: 'Review current vitals' }).click();
  const charted = page.locator('.chart-form tr[data-metric="spo2"]');
  await charted.waitFor();
  t.match(await charted.locator('.chart-charted').textContent(), 'charted 94 by nurse-ann');
  t.notOk(await charted.locator('input[type=checkbox]').isChecked(), 'a charted reading is not ticked again');
  await page.fill('.chart-form tr[data-metric="spo2"] input[type=number]', '93');
  t.match(await charted.locator('.chart-note').textContent(), 'corrects the charted value');
  t.ok(await charted.locator('input[type=checkbox]').isChecked());
  await page.click('.chart-form button[type=submit]');
  t.match(await page.locator('.chart-sent').textContent(), /0 entered, 1 charted value corrected/);
  await engine.waitForCount(2);
  const correction = engine.received[1].message.getSegment('OBX')!;
  t.same(
    [correction.getComponent(3, 2), correction.getField(5).toString(), correction.getField(11).toString()],
    ['MDC_PULS_OXIM_SAT_O2', '93', 'C'],
  );
  // The temperature entered above (no device measured one) is corrected the same way.
  await page.locator('.bed-chart button', { hasText: 'Review again' }).click();
  const entered = page.locator('.chart-form tr[data-metric="temp"]');
  await entered.waitFor();
  t.match(await entered.locator('.chart-charted').textContent(), 'entered and charted 37.8 by nurse-ann');
  t.notOk(await entered.locator('input[type=checkbox]').isChecked());
  await page.fill('.chart-form tr[data-metric="temp"] input[type=number]', '37.6');
  t.match(await entered.locator('.chart-note').textContent(), 'corrects the charted value');
  await page.click('.chart-form button[type=submit]');
  t.match(await page.locator('.chart-sent').textContent(), /1 charted value corrected/);
  await engine.waitForCount(3);
  const tempRow = engine.received[2].message.getSegment('OBX')!;
  t.same(
    [tempRow.getComponent(3, 2), tempRow.getField(5).toString(), tempRow.getField(11).toString()],
    ['MDC_TEMP_BODY', '37.6', 'C'],
  );
  t.same(foreign, [], 'nothing loaded from beyond the gateway');
  // The refused send is a 400 the browser logs by itself; anything else is a fault of the page.
  t.same(
    errors.filter((e) => !/status of 400/.test(e)),
    [],
    'no errors in the page',
  );
});

t.test('a viewer sees no form; without an EHR link the panel is not there', async (t) => {
  const engine = await InterfaceEngine.start(t);
  const withEhr = await startTestGateway(t, { extra: { ehr: { host: '127.0.0.1', port: engine.port } } });
  const origin = `http://127.0.0.1:${withEhr.config.http.port}`;
  await fetch(`${origin}/api/admissions`, {
    method: 'POST',
    headers: admin,
    body: JSON.stringify({ bed: '1', identifier: 'MRN-1' }),
  });
  const browser = await launchBrowser(t);
  const { page } = await gatewayPage(browser, origin);
  await logIn(page, origin, 'station', passwordOf('station'));
  await page.goto(`${origin}/#/bed/1`);
  await page.locator('.bed-chart', { hasText: 'needs a nurse account' }).waitFor();
  t.equal(await page.locator('.bed-chart button').count(), 0);

  const without = await startTestGateway(t);
  const plain = `http://127.0.0.1:${without.config.http.port}`;
  const other = await gatewayPage(await launchBrowser(t), plain);
  await logIn(other.page, plain, 'nurse-ann', passwordOf('nurse-ann'));
  await other.page.goto(`${plain}/#/bed/1`);
  await other.page.locator('.bed-settings').waitFor();
  await waitFor(
    async () => ((await other.page.locator('.bed-chart').count()) === 0 ? true : undefined),
    5000,
    'no chart panel',
  );
  t.pass('no panel without the EHR link');
  t.same(
    other.requests.filter((u) => new URL(u).pathname.startsWith('/api/ehr')),
    [],
    'the page does not ask for a link the ward does not have',
  );
  t.same(other.errors, [], 'and logs no error');
});
