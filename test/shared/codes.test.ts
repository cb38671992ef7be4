import t from 'tap';
import { lookupCode, metric, metricCodes } from '../../shared/codes.js';
import { plausibleRange } from '../../shared/plausibility.js';

t.test('every metric is found by short name, MDC reference id and MDC number', async (t) => {
  for (const m of metricCodes) {
    t.equal(lookupCode(m.code), m, m.code);
    if (!m.mdc) continue;
    t.equal(lookupCode(m.refid), m, m.refid);
    t.equal(lookupCode(m.mdc), m, `${m.mdc}`);
    t.equal(lookupCode(String(m.mdc)), m, `'${m.mdc}'`);
    t.equal(Math.floor(m.mdc / 65536), 2, `${m.code}: MDC partition 2 (measurements)`);
  }
});

t.test('codes from DOMAIN.md section 1', async (t) => {
  t.same([metric('spo2').mdc, metric('spo2').loinc, metric('spo2').unit], [150456, '59408-5', '%']);
  t.same([metric('hr').mdc, metric('hr').loinc], [147842, '8867-4']);
  t.equal(lookupCode('MDC_PRESS_CUFF_SYS')?.code, 'nibp_sys', 'cuff pressure codes map to NIBP');
  t.equal(lookupCode(188424)?.code, 'temp', 'oral temperature site code');
  t.equal(lookupCode(149546)?.code, 'pr');
  t.same(plausibleRange('spo2'), [50, 100]);
  t.equal(plausibleRange('fio2'), undefined, 'no published gate, none invented');
  t.equal(lookupCode('nope'), undefined);
  t.throws(() => metric('MDC_ECG_HEART_RATE'), /unknown metric short name/);
});
