// The reporter's bookkeeping on a real SQLite file: which recorded alarm
// events become reports, once each, whatever happened between the record and
// the queueing; and what a status report does on the ward.
import t from 'tap';
import { randomUUID } from 'node:crypto';
import { EventBus } from '../../../edge/bus.js';
import { createLogger } from '../../../edge/log.js';
import type { Alarm, AlarmEvent, AlarmPhase, AlarmPriority } from '../../../edge/alarms/types.js';
import { AlarmManagerReporter } from '../../../edge/integration/alarmManager.js';
import { alarmManagerConfigSchema } from '../../../edge/integration/alarmManagerConfig.js';
import type { AlarmStatusReport } from '../../../edge/integration/alarmStatus.js';
import { AlarmStore } from '../../../edge/store/alarmStore.js';
import { AuditLog } from '../../../edge/store/auditLog.js';
import { openDatabase, type Db } from '../../../edge/store/database.js';
import { OutboundStore } from '../../../edge/store/outboundStore.js';
import { tempDir } from '../../helpers/env.js';

function alarm(over: Partial<Alarm> = {}): Alarm {
  return {
    id: randomUUID(),
    key: '1:limit:spo2',
    bed: '1',
    deviceId: 'pox-1',
    kind: 'physiological',
    rule: 'limit',
    metric: 'spo2',
    priority: 'high',
    latching: true,
    state: 'active',
    message: 'SpO2 low: 82 % (limit <= 85)',
    value: 82,
    raisedAt: Date.now(),
    escalations: 0,
    lastEscalatedAt: null,
    acknowledgedBy: null,
    acknowledgedAt: null,
    clearedAt: null,
    ...over,
  };
}

function record(
  store: AlarmStore,
  a: Alarm,
  phase: AlarmPhase,
  priority: AlarmPriority = a.priority,
  ts = Date.now(),
): AlarmEvent {
  const event: AlarmEvent = {
    alarmId: a.id,
    phase,
    ts,
    by: null,
    bed: a.bed,
    deviceId: a.deviceId,
    kind: a.kind,
    rule: a.rule,
    metric: a.metric,
    priority,
    state: a.state,
    message: a.message,
    value: a.value,
    escalations: 0,
  };
  store.record([[event, { ...a, priority }]]);
  return event;
}

function setup(t: { teardown(fn: () => unknown): void }, config: Record<string, unknown> = {}) {
  const db: Db = openDatabase(tempDir(t));
  const store = new AlarmStore(db);
  t.teardown(() => {
    store.close();
    db.close();
  });
  const acks: Array<[string, string, string]> = [];
  const open = new Map<string, Alarm>();
  let kicks = 0;
  const reporter = new AlarmManagerReporter({
    config: alarmManagerConfigSchema.parse({ host: '127.0.0.1', port: 1, ...config }),
    ward: '3B',
    gatewayId: 'gw',
    db,
    audit: new AuditLog(db),
    bus: new EventBus(createLogger('silent')),
    log: createLogger('silent'),
    kick: () => kicks++,
    openAlarm: (id) => open.get(id),
    acknowledge: (id, by, via) => {
      acks.push([id, by, via]);
      const a = open.get(id);
      if (a) a.state = 'acknowledged';
      return a;
    },
  });
  t.teardown(() => reporter.stop());
  const queued = () => new OutboundStore(db).list('alarm-manager', 'queued', 1000);
  return { db, store, reporter, acks, open, queued, kicks: () => kicks };
}

t.test('events recorded while the reporter was not running are queued at its start, once, in order', async (t) => {
  const { store, reporter, queued, kicks } = setup(t);
  const before = alarm();
  record(store, before, 'raised'); // before the first start: history, not reported
  await reporter.start();
  t.equal(queued().length, 0, 'the first start begins after what was already recorded');
  await reporter.stop();

  // Recorded, then the process died before the reporter queued them: the next start finds them.
  const a = alarm();
  const events = [record(store, a, 'raised'), record(store, a, 'acknowledged'), record(store, a, 'cleared')];
  await reporter.start();
  const rows = queued();
  t.same(
    rows.map((r) => r.controlId),
    events.map((e) => `WGA${e.seq}`),
  );
  t.ok(
    rows.every((r) => r.orderKey === `alarm:${a.id}`),
    'one ordering key per alarm',
  );
  t.ok(kicks() >= 1, 'the link was woken');
  reporter.queueOwed();
  t.equal(queued().length, 3, 'a second pass queues nothing again');
});

t.test('a queueing that fails leaves the cursor where it was: the same events go next time', async (t) => {
  const { db, store, reporter, queued } = setup(t);
  await reporter.start();
  const a = alarm();
  const raised = record(store, a, 'raised');
  // The control id is taken already (as if by another link): the insert fails, and the cursor must not move.
  new OutboundStore(db).enqueue({ link: 'other', orderKey: 'x', controlId: `WGA${raised.seq}`, message: 'MSH|' });
  reporter.queueOwed();
  t.equal(queued().length, 0);
  db.prepare("DELETE FROM outbound_messages WHERE link = 'other'").run();
  reporter.queueOwed();
  t.same(
    queued().map((r) => r.controlId),
    [`WGA${raised.seq}`],
    'queued once the cause is gone',
  );
});

t.test('phases, priority and kinds select what is sent', async (t) => {
  const { store, reporter, queued } = setup(t, {
    phases: ['raised', 'cleared'],
    minPriority: 'medium',
    kinds: ['physiological'],
  });
  await reporter.start();
  const high = alarm();
  const low = alarm({ priority: 'low', key: '1:limit:rr', metric: 'rr' });
  const technical = alarm({
    kind: 'technical',
    rule: 'device-silent',
    metric: null,
    key: 'device:pox-1:silent',
    priority: 'medium',
  });
  const sent = [record(store, high, 'raised')];
  record(store, high, 'escalated');
  sent.push(record(store, high, 'cleared'));
  record(store, low, 'raised');
  record(store, technical, 'raised');
  reporter.queueOwed();
  t.same(
    queued().map((r) => r.controlId),
    sent.map((e) => `WGA${e.seq}`),
  );
});

t.test(
  'a status report: every recipient audited, "accepted" acknowledges once, an unknown alarm is refused',
  async (t) => {
    const { db, store, reporter, acks, open } = setup(t);
    await reporter.start();
    const a = alarm();
    const raised = record(store, a, 'raised');
    open.set(a.id, a);
    const report = (over: Partial<AlarmStatusReport>, status: string): AlarmStatusReport => ({
      kind: 'status',
      controlId: 'NC-1',
      manager: 'NURSECALL',
      alarmId: a.id,
      answers: '',
      recipients: [
        {
          status: status as 'accepted',
          text: status,
          personId: 'N123',
          personName: 'Anna Smith',
          location: '3B Bay 2',
          device: 'PHONE-0451',
          at: undefined,
        },
      ],
      ...over,
    });
    t.equal(reporter.applyStatus(report({}, 'read')), undefined);
    t.same(acks, [], 'read is not accepted');
    t.equal(
      reporter.applyStatus(report({ alarmId: '', answers: `WGA${raised.seq}` }, 'accepted')),
      undefined,
      'named by MSA-2 only',
    );
    t.same(acks, [[a.id, 'Anna Smith', 'alarm-manager']]);
    reporter.applyStatus(report({}, 'accepted'));
    t.equal(acks.length, 1, 'an alarm already acknowledged is not acknowledged again');
    t.match(reporter.applyStatus(report({ alarmId: randomUUID() }, 'accepted')), {
      code: 'WG_ERR_NOT_FOUND',
      field: 'OBR-3',
    });
    t.match(reporter.applyStatus(report({ alarmId: '', answers: 'WGA999999' }, 'accepted')), {
      code: 'WG_ERR_NOT_FOUND',
    });
    const audit = db
      .prepare("SELECT actor, detail FROM audit WHERE action = 'alarm-manager-status' ORDER BY id")
      .all() as Array<{ actor: string; detail: string }>;
    t.same(
      audit.map((r) => JSON.parse(r.detail).status),
      ['read', 'accepted', 'accepted'],
    );
    t.match(JSON.parse(audit[0].detail), {
      via: 'alarm-manager',
      device: 'PHONE-0451',
      location: '3B Bay 2',
      personId: 'N123',
      manager: 'NURSECALL',
    });
  },
);

t.test('a backlog built while no report could be queued goes only as far back as backlogMaxAgeMs', async (t) => {
  const { store, reporter, queued } = setup(t);
  await reporter.start();
  await reporter.stop();
  // The section was absent for a day: what happened then would page people about the past.
  const old = alarm();
  record(store, old, 'raised', 'high', Date.now() - 86_400_000);
  record(store, old, 'cleared', 'high', Date.now() - 86_000_000);
  const recent = alarm();
  const fresh = record(store, recent, 'raised', 'high', Date.now() - 60_000);
  await reporter.start();
  t.same(
    queued().map((r) => r.controlId),
    [`WGA${fresh.seq}`],
    'only what is recent enough',
  );
  reporter.queueOwed();
  t.equal(queued().length, 1, 'the stale ones are passed, not retried');
});
