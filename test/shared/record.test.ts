// Own-property reads and writes on plain objects keyed by strings from outside.
import t from 'tap';
import { ownValue, setOwn } from '../../shared/record.js';

t.test('names Object.prototype has are not found, and are set as own data', async (t) => {
  const record: Record<string, number> = { hr: 1 };
  for (const key of ['constructor', 'hasOwnProperty', 'toString', 'valueOf', '__proto__']) {
    t.equal(ownValue(record, key), undefined, `${key}: nothing inherited`);
  }
  t.equal(ownValue(record, 'hr'), 1);
  t.equal(ownValue(undefined, 'hr'), undefined);
  t.equal(setOwn(record, '__proto__', 7), 7);
  t.equal(Object.getPrototypeOf(record), Object.prototype, 'the prototype is not replaced');
  t.equal(ownValue(record, '__proto__'), 7, 'stored as an own property');
  t.same(Object.keys(record), ['hr', '__proto__'], 'enumerable, as an assignment would be');
  t.same(JSON.parse(JSON.stringify(record)), JSON.parse('{"hr":1,"__proto__":7}'), 'serialized as data');
  setOwn(record, 'constructor', 2);
  t.equal(ownValue(record, 'constructor'), 2, 'overwritable');
});
