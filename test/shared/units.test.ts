import t from 'tap';
import { acceptedUnits, toCanonical } from '../../shared/units.js';

t.test('converts accepted units to the canonical unit', async (t) => {
  const cases: Array<[number, string, Parameters<typeof toCanonical>[2], number]> = [
    [98.6, '[degF]', 'Cel', 37],
    [310.15, 'K', 'Cel', 37],
    [37.2, 'Cel', 'Cel', 37.2],
    [5.3, 'kPa', 'mm[Hg]', 39.7533],
    [0.97, '1', '%', 97],
    [72, '{beats}/min', '/min', 72],
    [500, 'mL/min', 'L/min', 0.5],
    [2, 'mL/min', 'mL/h', 120],
  ];
  for (const [value, unit, canonical, want] of cases)
    t.equal(toCanonical(value, unit, canonical), want, `${value} ${unit} -> ${canonical}`);
});

t.test('a unit that does not fit the metric gives undefined', async (t) => {
  t.equal(toCanonical(97, 'kPa', '%'), undefined);
  t.equal(toCanonical(37, '%', 'Cel'), undefined);
  t.equal(toCanonical(72, 'bpm', '/min'), undefined, 'bpm is not UCUM');
  t.same(acceptedUnits('Cel'), ['Cel', '[degF]', 'K']);
});

t.test(
  "names an object inherits are not units: '__proto__', 'constructor', 'toString' and the like give undefined, never throw",
  async (t) => {
    const inherited = [
      '__proto__',
      'constructor',
      'toString',
      'valueOf',
      'hasOwnProperty',
      'isPrototypeOf',
      'toLocaleString',
      '__defineGetter__',
    ];
    for (const unit of inherited) {
      for (const canonical of ['%', 'Cel', '/min'] as const)
        t.equal(toCanonical(97, unit, canonical), undefined, `${unit} for ${canonical}`);
    }
  },
);
