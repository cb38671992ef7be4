import t from 'tap';
import { isPlausible, plausibleRange } from '../../shared/plausibility.js';

t.test('gates apply to the metrics that have one', async (t) => {
  t.same(plausibleRange('spo2'), [50, 100]);
  t.notOk(isPlausible('spo2', 140), 'SpO2 140 % is an artifact');
  t.ok(isPlausible('fio2', 140), 'no gate for fio2');
});

t.test("a code named like an inherited property has no gate: 'constructor', 'toString', '__proto__'", async (t) => {
  for (const code of ['constructor', 'toString', '__proto__', 'valueOf', 'hasOwnProperty']) {
    t.equal(plausibleRange(code), undefined, code);
    t.ok(isPlausible(code, 5), `${code}: no gate, so not an artifact`);
  }
});
