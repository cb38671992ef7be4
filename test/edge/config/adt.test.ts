// Config hl7.adt: off when absent, closed by default, and never without the
// ward's locations (a hospital-wide feed would admit every ward's patients).
import t from 'tap';
import { configSchema } from '../../../edge/config/schema.js';

t.test('absent: off; present: its own port, nobody may send, type MR, never idle-closed', async (t) => {
  t.equal(configSchema.parse({ hl7: { port: 0 } }).hl7?.adt, undefined);
  const adt = configSchema.parse({ hl7: { locations: [{ pointOfCare: '3B' }], adt: {} } }).hl7?.adt;
  t.match(adt, {
    host: '127.0.0.1',
    port: 2576,
    senders: [],
    locations: [],
    identifier: { typeCode: 'MR' },
    idleTimeoutMs: 0,
    maxConnections: 4,
  });
  t.equal(adt?.tls, undefined);
});

t.test("refused without this ward's locations, in hl7.adt or hl7", async (t) => {
  const none = configSchema.safeParse({ hl7: { adt: { senders: [{ application: 'HIS' }] } } });
  t.notOk(none.success);
  t.match(JSON.stringify(none.error?.issues), /hl7\.adt\.locations or hl7\.locations/);
  t.same(none.error?.issues[0]?.path, ['hl7', 'adt', 'locations']);
  t.ok(configSchema.safeParse({ hl7: { adt: { locations: [{ pointOfCare: '3B' }] } } }).success);
});

t.test('bad values are refused with the field', async (t) => {
  const bad = (adt: Record<string, unknown>) =>
    configSchema.safeParse({ hl7: { locations: [{ pointOfCare: '3B' }], adt } });
  t.notOk(
    bad({ locations: [{ pointOfCare: '3B', wardBed: 'bed/1' }] }).success,
    'a bed id that would escape an MQTT topic level',
  );
  t.notOk(bad({ senders: [{ application: '' }] }).success, 'a sender with no MSH-3');
  t.notOk(bad({ tls: { cert: 'c.pem' } }).success, 'TLS without its key');
  t.notOk(bad({ identifier: { typeCode: '' } }).success);
  t.notOk(bad({ port: 70000 }).success);
  t.notOk(bad({ unknown: 1 }).success, 'strict: a misspelt key is an error, not ignored');
});
