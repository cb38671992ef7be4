// `wardgate status` on the outbound links (the EHR, an alarm manager): each
// link's connection, queue (with its oldest message), quarantined messages
// with the receiver's reason, and last success, read from the database
// whether or not the daemon runs; a connection recorded by a daemon that is
// gone is not shown as one.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { openDatabase } from '../../../edge/store/database.js';
import { OutboundStore } from '../../../edge/store/outboundStore.js';
import { WARDGATE_BIN, writeTestConfig } from '../../helpers/gateway.js';

const wardgate = (args: string[]) =>
  spawnSync(process.execPath, [WARDGATE_BIN, ...args], { encoding: 'utf8', timeout: 30_000 });

t.test('each link: state, queue, quarantine with its reason, last success', async (t) => {
  const { dir, file } = await writeTestConfig(t);
  const none = JSON.parse(wardgate(['status', '--config', file, '--json']).stdout) as Record<string, unknown>;
  t.notOk('outbound' in none, 'no link ever configured: nothing to say');

  const db = openDatabase(join(dir, 'data'));
  const store = new OutboundStore(db);
  const t0 = Date.parse('2026-12-02T08:00:00Z');
  const ids = ['V1', 'V2', 'V3', 'V4', 'V5'].map((controlId, i) =>
    store.enqueue({ link: 'ehr', orderKey: 'patient:1', controlId, message: `MSH|${controlId}` }, t0 + i * 60_000),
  );
  store.markSent(ids[0], t0 + 10 * 60_000);
  store.markSent(ids[1], t0 + 11 * 60_000);
  store.quarantine(ids[2], 'AR: unknown location', t0 + 12 * 60_000);
  store.setLinkError('ehr', 'AR for V3: unknown location', t0 + 12 * 60_000);
  store.setConnected('ehr', true, t0 + 12 * 60_000);
  store.enqueue({ link: 'alarm-manager', orderKey: 'alarm:1', controlId: 'WGA1', message: 'MSH|WGA1' }, t0);
  db.close();

  const json = JSON.parse(wardgate(['status', '--config', file, '--json']).stdout) as { outbound: unknown[] };
  t.equal(json.outbound.length, 2, 'one entry per link, by name');
  t.same(
    json.outbound.slice(1),
    [
      {
        link: 'ehr',
        queued: 2,
        quarantined: 1,
        sent: 2,
        oldestQueuedAt: t0 + 3 * 60_000,
        connected: false,
        lastError: 'AR for V3: unknown location',
        lastErrorAt: t0 + 12 * 60_000,
        lastSuccessAt: t0 + 11 * 60_000,
      },
    ],
    'connected as recorded, but no daemon runs: not connected',
  );
  const text = wardgate(['status', '--config', file]).stdout;
  t.match(text, 'link alarm-manager not connected, 1 queued', 'a long link name keeps its space');
  t.match(
    text,
    'link ehr      not connected, 2 queued (oldest 2026-12-02T08:03:00.000Z), 1 quarantined, 2 sent; last success 2026-12-02T08:11:00.000Z; last error 2026-12-02T08:12:00.000Z: AR for V3: unknown location',
  );
});
