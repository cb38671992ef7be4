// The outbound HL7 link against an interface engine played by @medplum/hl7
// over real loopback sockets: delivery, order per key, retry with backoff on
// AE / no answer / network errors, quarantine with a technical alarm on AR,
// the same control id on every resend, TLS, and what status and /metrics say.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { Registry } from 'prom-client';
import { createLogger } from '../../../edge/log.js';
import { openDatabase, type Db } from '../../../edge/store/database.js';
import { OutboundStore } from '../../../edge/store/outboundStore.js';
import {
  OutboundLink,
  quarantineAlarmKey,
  unreachableAlarmKey,
  type OutboundLinkOptions,
} from '../../../edge/integration/outboundLink.js';
import type { TechnicalReport } from '../../../edge/sync/technicalAlarms.js';
import { freePort, tempDir, waitFor } from '../../helpers/env.js';
import { InterfaceEngine } from '../../helpers/interfaceEngine.js';
import { selfSignedCert } from '../../helpers/tls.js';

interface Test {
  teardown(fn: () => unknown): void;
}

/** Technical alarms as the engine would hold them: open ones by key. */
class AlarmsSeen {
  readonly open = new Map<string, TechnicalReport>();
  set(key: string, report: TechnicalReport | null): void {
    if (report) this.open.set(key, report);
    else this.open.delete(key);
  }
}

function message(controlId: string, patient: string, text = 'x'): string {
  return [
    `MSH|^~\\&|WARDGATE|WARD^^|EHR|HOSP|20261202120000+0000||ORU^R01^ORU_R01|${controlId}|P|2.6|||AL|NE`,
    `PID|||${patient}^^^HOSP^MR`,
    `OBX|1|ST|TEXT^note^L||${text}|||||F`,
  ].join('\r');
}

async function setup(t: Test, engine: { port: number }, options: Partial<OutboundLinkOptions> = {}) {
  const db: Db = openDatabase(tempDir(t));
  t.teardown(() => db.close());
  const alarms = new AlarmsSeen();
  const accepted: string[] = [];
  const registry = new Registry();
  const link = new OutboundLink({
    name: 'ehr',
    receiver: 'the EHR',
    db,
    connection: { host: '127.0.0.1', port: engine.port, connectTimeoutMs: 1000, ackTimeoutMs: 300 },
    retry: { minMs: 40, maxMs: 200 },
    alarms,
    log: createLogger('silent'),
    registry,
    onAccepted: (m) => accepted.push(m.controlId),
    ...options,
  });
  await link.start();
  t.teardown(() => link.stop());
  return { db, link, alarms, accepted, registry, store: new OutboundStore(db) };
}

t.test('messages are delivered, parsed by the engine, and marked sent', async (t) => {
  const engine = await InterfaceEngine.start(t);
  const { link, store, accepted } = await setup(t, engine);
  link.enqueue({ orderKey: 'p1', controlId: 'C1', message: message('C1', 'MRN1') });
  link.enqueue({ orderKey: 'p2', controlId: 'C2', message: message('C2', 'MRN2', 'pipes \\F\\ escaped') });
  await engine.waitForCount(2);
  await waitFor(() => (accepted.length === 2 ? true : undefined));
  t.same(engine.controlIds(), ['C1', 'C2']);
  t.equal(engine.received[1].message.getSegment('PID')!.getComponent(3, 1), 'MRN2');
  t.equal(store.summary('ehr').sent, 2);
  t.equal(store.summary('ehr').queued, 0);
  t.equal(link.status().connected, true, 'the connection stays open for the next message');
  t.ok(store.summary('ehr').lastSuccessAt);
});

t.test(
  'AE: the message is sent again with the same control id after a backoff, and holds back only its own key',
  async (t) => {
    const engine = await InterfaceEngine.start(t);
    const times: number[] = [];
    engine.answer = (m, n) => {
      times.push(Date.now());
      const id = m.header.getField(10).toString();
      return id === 'A1' && n < 3 ? 'AE' : 'AA';
    };
    const { link, store } = await setup(t, engine);
    link.enqueue({ orderKey: 'pA', controlId: 'A1', message: message('A1', 'MRN-A') });
    link.enqueue({ orderKey: 'pA', controlId: 'A2', message: message('A2', 'MRN-A') });
    link.enqueue({ orderKey: 'pB', controlId: 'B1', message: message('B1', 'MRN-B') });
    await waitFor(() => (store.summary('ehr').sent === 3 ? true : undefined), 5000, 'all sent');
    const order = engine.received.map((r) => `${r.controlId}:${r.answer}`);
    // B1 goes while A1 waits for its backoff; A2 never overtakes A1.
    t.ok(order.indexOf('B1:AA') < order.indexOf('A1:AA'), `B1 is not held behind A1 (${order.join(' ')})`);
    t.ok(order.indexOf('A1:AA') < order.indexOf('A2:AA'), `A2 follows A1 (${order.join(' ')})`);
    t.equal(engine.received.filter((r) => r.controlId === 'A1').length, 3, 'A1 sent three times, with one control id');
    const a1 = store.list('ehr', 'sent').find((m) => m.controlId === 'A1')!;
    t.equal(a1.attempts, 3);
    const a1Times = engine.received.map((r, i) => (r.controlId === 'A1' ? times[i] : -1)).filter((x) => x >= 0);
    t.ok(a1Times[1] - a1Times[0] >= 35, 'a backoff before the second attempt');
  },
);

t.test(
  'AR: quarantined with a technical alarm and a metric; the next message of the key goes on; an operator retry clears the alarm',
  async (t) => {
    const engine = await InterfaceEngine.start(t);
    let refuse = true;
    engine.answer = (m) => (refuse && m.header.getField(10).toString() === 'R1' ? 'AR' : 'AA');
    engine.reason = 'unknown patient';
    const { link, store, alarms, registry } = await setup(t, engine);
    link.enqueue({ orderKey: 'p', controlId: 'R1', message: message('R1', 'MRN') });
    link.enqueue({ orderKey: 'p', controlId: 'R2', message: message('R2', 'MRN') });
    await waitFor(() => (store.summary('ehr').sent === 1 ? true : undefined));
    const s = store.summary('ehr');
    t.equal(s.quarantined, 1);
    t.match(s.lastError, /AR for R1: unknown patient/);
    const alarm = alarms.open.get(quarantineAlarmKey('ehr'));
    t.ok(alarm, 'technical alarm raised');
    t.equal(alarm?.priority, 'medium');
    t.match(alarm?.message, /1 message\(s\) refused by the EHR/);
    t.notMatch(
      alarm?.message,
      /unknown patient/,
      "the receiver's words, which may name a patient, stay out of the alarm (it syncs to the cloud)",
    );
    const metrics = await registry.metrics();
    t.match(metrics, /wardgate_outbound_quarantined\{link="ehr"\} 1/);
    t.match(metrics, /wardgate_outbound_attempts_total\{link="ehr",outcome="rejected"\} 1/);
    t.equal(engine.received.filter((r) => r.controlId === 'R1').length, 1, 'a refused message is not resent by itself');

    refuse = false;
    t.equal(link.retryQuarantined(), 1);
    await waitFor(() => (store.summary('ehr').sent === 2 ? true : undefined));
    t.notOk(alarms.open.has(quarantineAlarmKey('ehr')), 'alarm cleared once nothing is quarantined');
    t.same(
      engine.received.map((r) => r.controlId),
      ['R1', 'R2', 'R1'],
      'the retry carries the original control id',
    );
  },
);

t.test('no answer in time: the connection is dropped and the message resent with the same control id', async (t) => {
  const engine = await InterfaceEngine.start(t);
  engine.answer = (_m, n) => (n === 0 ? 'none' : 'AA');
  const { link, store, registry } = await setup(t, engine);
  link.enqueue({ orderKey: 'p', controlId: 'T1', message: message('T1', 'MRN') });
  await waitFor(() => (store.summary('ehr').sent === 1 ? true : undefined), 5000);
  t.same(
    engine.received.map((r) => r.controlId),
    ['T1', 'T1'],
  );
  t.equal(store.list('ehr', 'sent')[0].attempts, 2);
  t.match(await registry.metrics(), /wardgate_outbound_attempts_total\{link="ehr",outcome="timeout"\} 1/);
});

t.test(
  'receiver down: nothing is lost, the link retries with backoff and the unreachable alarm rises, then clears on delivery',
  async (t) => {
    const port = await freePort();
    const { link, store, alarms } = await setup(t, { port }, { unreachableAlarmMs: 150 });
    for (let i = 1; i <= 3; i++)
      link.enqueue({ orderKey: `p${i % 2}`, controlId: `N${i}`, message: message(`N${i}`, `MRN${i % 2}`) });
    await waitFor(() => (alarms.open.has(unreachableAlarmKey('ehr')) ? true : undefined), 5000, 'unreachable alarm');
    const s = store.summary('ehr');
    t.equal(s.queued, 3);
    t.equal(s.connected, false);
    t.match(s.lastError, /network: cannot connect/);
    const attempts = store.list('ehr', 'queued').reduce((n, m) => n + m.attempts, 0);
    t.ok(attempts >= 2 && attempts < 40, `retried with backoff, not in a tight loop (${attempts} attempts)`);
    const engine = await InterfaceEngine.start(t, { port });
    await waitFor(
      () => (store.summary('ehr').sent === 3 ? true : undefined),
      5000,
      'delivery after the receiver is back',
    );
    t.same(engine.controlIds().sort(), ['N1', 'N2', 'N3']);
    t.notOk(alarms.open.has(unreachableAlarmKey('ehr')));
  },
);

t.test('the receiver closes the connection instead of answering: resent until accepted', async (t) => {
  const engine = await InterfaceEngine.start(t);
  engine.answer = (_m, n) => (n < 2 ? 'close' : 'AA');
  const { link, store } = await setup(t, engine);
  link.enqueue({ orderKey: 'p', controlId: 'K1', message: message('K1', 'MRN') });
  await waitFor(() => (store.summary('ehr').sent === 1 ? true : undefined), 5000);
  t.same(
    engine.received.map((r) => r.controlId),
    ['K1', 'K1', 'K1'],
  );
});

t.test('an ACK for another message is a protocol fault, not a delivery', async (t) => {
  const engine = await InterfaceEngine.start(t);
  const { link, store } = await setup(t, engine);
  // The message says one control id, the queue another: the engine acknowledges MSH-10, which is not what the link waits for.
  link.enqueue({ orderKey: 'p', controlId: 'Q-REAL', message: message('Q-OTHER', 'MRN') });
  await engine.waitForCount(2);
  t.equal(store.summary('ehr').sent, 0);
  t.match(store.list('ehr', 'queued')[0].lastError, /protocol: the answer acknowledges another message/);
  await link.stop();
});

t.test(
  'TLS: delivered to an engine whose certificate chains to the configured CA; refused by a wrong one',
  async (t) => {
    const dir = tempDir(t);
    const { cert, key } = selfSignedCert(dir, 'engine', 'engine.example');
    const engine = await InterfaceEngine.start(t, { tls: { cert: readFileSync(cert), key: readFileSync(key) } });
    const { link, store } = await setup(t, engine, {
      connection: {
        host: '127.0.0.1',
        port: engine.port,
        connectTimeoutMs: 2000,
        ackTimeoutMs: 1000,
        tls: { ca: readFileSync(cert), servername: 'engine.example' },
      },
    });
    link.enqueue({ orderKey: 'p', controlId: 'S1', message: message('S1', 'MRN') });
    await waitFor(() => (store.summary('ehr').sent === 1 ? true : undefined), 5000);
    t.equal(engine.received[0].controlId, 'S1');

    // No CA given: the system's CAs do not know the engine's certificate.
    const other = await setup(t, engine, {
      connection: {
        host: '127.0.0.1',
        port: engine.port,
        connectTimeoutMs: 2000,
        ackTimeoutMs: 1000,
        tls: { servername: 'engine.example' },
      },
    });
    other.link.enqueue({ orderKey: 'p', controlId: 'S2', message: message('S2', 'MRN') });
    await waitFor(() => (other.store.summary('ehr').lastError ? true : undefined), 5000);
    t.match(other.store.summary('ehr').lastError, /network: cannot connect.*certificate/i);
    t.equal(engine.received.length, 1, 'nothing reached the engine over an unverified channel');
  },
);

t.test(
  'stop during an exchange keeps the message queued; a new link on the same file sends it with its control id',
  async (t) => {
    const engine = await InterfaceEngine.start(t);
    engine.answer = (_m, n) => (n === 0 ? 'none' : 'AA');
    const first = await setup(t, engine, {
      connection: { host: '127.0.0.1', port: engine.port, connectTimeoutMs: 1000, ackTimeoutMs: 10_000 },
    });
    first.link.enqueue({ orderKey: 'p', controlId: 'X1', message: message('X1', 'MRN') });
    await engine.waitForCount(1);
    const stopped = Date.now();
    await first.link.stop();
    t.ok(Date.now() - stopped < 1000, 'stop does not wait for the ACK timeout');
    t.equal(first.store.summary('ehr').queued, 1);
    const second = new OutboundLink({
      name: 'ehr',
      receiver: 'the EHR',
      db: first.db,
      connection: { host: '127.0.0.1', port: engine.port, connectTimeoutMs: 1000, ackTimeoutMs: 1000 },
      retry: { minMs: 10, maxMs: 50 },
      alarms: first.alarms,
      log: createLogger('silent'),
    });
    await second.start();
    t.teardown(() => second.stop());
    await waitFor(() => (first.store.summary('ehr').sent === 1 ? true : undefined), 5000);
    t.same(
      engine.received.map((r) => r.controlId),
      ['X1', 'X1'],
    );
  },
);

t.test('delivered messages are deleted after their keeping time; queued and quarantined ones never', async (t) => {
  const engine = await InterfaceEngine.start(t);
  engine.answer = (m) => (m.header.getField(10).toString() === 'D2' ? 'AR' : 'AA');
  let now = Date.parse('2026-12-01T00:00:00Z');
  const { link, store } = await setup(t, engine, { keepSentMs: 86_400_000, now: () => now });
  link.enqueue({ orderKey: 'p', controlId: 'D1', message: message('D1', 'MRN') });
  link.enqueue({ orderKey: 'p', controlId: 'D2', message: message('D2', 'MRN') });
  await waitFor(() => (store.summary('ehr').quarantined === 1 ? true : undefined));
  t.equal(store.summary('ehr').sent, 1);
  now += 2 * 86_400_000;
  link.enqueue({ orderKey: 'q', controlId: 'D3', message: message('D3', 'MRN') });
  await waitFor(
    () => (store.summary('ehr').sent === 1 && store.list('ehr', 'sent')[0]?.controlId === 'D3' ? true : undefined),
    5000,
    'D1 purged, D3 sent',
  );
  t.equal(store.summary('ehr').quarantined, 1, 'the refused message stays for an operator');
});
