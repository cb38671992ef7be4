import t from 'tap';
import { readFileSync } from 'node:fs';
import { errorCodes, reject, WardgateError } from '../../shared/errors.js';

const docs = readFileSync(new URL('../../docs/ERRORS.md', import.meta.url), 'utf8');

t.test('docs/ERRORS.md documents every code, and no code that does not exist', async (t) => {
  for (const code of Object.keys(errorCodes)) t.match(docs, new RegExp(`\\| \`${code}\` \\|`), `${code} has a row`);
  const documented = new Set(docs.match(/WG_ERR_[A-Z0-9_]+/g));
  for (const code of documented) t.ok(code in errorCodes, `${code} exists in shared/errors.ts`);
});

t.test('errors carry their code and field', async (t) => {
  const err = new WardgateError('WG_ERR_CONFIG', 'expected a number', 'mqtt.port');
  t.equal(err.message, 'mqtt.port: expected a number');
  t.equal(err.code, 'WG_ERR_CONFIG');
  t.same(reject('WG_ERR_UNIT', 'no'), { code: 'WG_ERR_UNIT', message: 'no' });
});
