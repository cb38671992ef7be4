// Config alarmManager: off when absent, every report sent by default, and bad
// values refused with the field named.
import t from 'tap';
import { configSchema } from '../../../edge/config/schema.js';

t.test('absent: off; present: everything is reported, no status listener unless asked', async (t) => {
  t.equal(configSchema.parse({}).alarmManager, undefined);
  const am = configSchema.parse({ alarmManager: { host: 'nursecall.hosp', port: 3100 } }).alarmManager;
  t.match(am, {
    host: 'nursecall.hosp',
    port: 3100,
    sendingApplication: 'WARDGATE',
    processingId: 'P',
    minPriority: 'low',
    phases: ['raised', 'updated', 'escalated', 'latched', 'acknowledged', 'cleared'],
    kinds: ['physiological', 'technical'],
  });
  t.equal(am?.listen, undefined);
  t.equal(am?.tls, undefined);
  const listen = configSchema.parse({ alarmManager: { host: 'h', port: 1, listen: { port: 3101 } } }).alarmManager
    ?.listen;
  t.same(listen, { host: '127.0.0.1', port: 3101, allowedAddresses: [] }, 'loopback unless told otherwise');
});

t.test('bad values are refused with the field', async (t) => {
  const issue = (alarmManager: Record<string, unknown>) => {
    const parsed = configSchema.safeParse({ alarmManager: { host: 'h', port: 1, ...alarmManager } });
    return parsed.success ? undefined : parsed.error.issues[0].path.join('.');
  };
  t.equal(
    configSchema.safeParse({ alarmManager: { port: 1 } }).error?.issues[0].path.join('.'),
    'alarmManager.host',
    'no host',
  );
  t.equal(issue({ port: 0 }), 'alarmManager.port', 'port 0 is no place to send to');
  t.equal(issue({ phases: ['raised', 'paged'] }), 'alarmManager.phases.1');
  t.equal(issue({ phases: [] }), 'alarmManager.phases', 'sending nothing is turning it off');
  t.equal(issue({ minPriority: 'urgent' }), 'alarmManager.minPriority');
  t.equal(issue({ kinds: ['advisory'] }), 'alarmManager.kinds.0');
  t.equal(issue({ processingId: 'X' }), 'alarmManager.processingId');
  t.equal(issue({ tls: { cert: 'c.pem' } }), 'alarmManager.tls.key', 'a client certificate without its key');
  t.equal(issue({ retryMinMs: 5000, retryMaxMs: 1000 }), 'alarmManager.retryMaxMs');
  t.equal(issue({ listen: { port: 70000 } }), 'alarmManager.listen.port');
  t.equal(issue({ hots: 'h' }), 'alarmManager', 'strict: a misspelt key is an error, not ignored');
  t.equal(issue({ tls: { ca: 'ca.pem' } }), undefined, 'a CA alone is fine');
});
