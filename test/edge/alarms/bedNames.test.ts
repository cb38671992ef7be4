// Bed names come from senders (HL7 PV1-3): a bed named like an inherited
// property finds no overrides of its own, and its limits are the ward's.
import t from 'tap';
import { alarmConfigSchema } from '../../../edge/alarms/config.js';
import { bedOverrides, limitsFor } from '../../../edge/alarms/limits.js';

t.test("beds named 'constructor', '__proto__' or 'toString' get the ward's limits, and no error", async (t) => {
  const config = alarmConfigSchema.parse({ beds: { '12': { limits: { spo2: { low: 85 } } } } });
  const ward = limitsFor(config, null);
  for (const bed of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
    t.equal(bedOverrides(config, bed), undefined, bed);
    t.same([...limitsFor(config, bed)], [...ward], `${bed}: the ward's limits`);
  }
  t.equal(limitsFor(config, '12').get('spo2')?.low, 85, "a configured bed's override still applies");
});
