// Builds the alarm manager's pieces from `alarmManager`: the outbound link
// the reports travel on, and the reporter that queues them and applies the
// manager's status reports. The gateway starts the reporter after the
// alarms (it reads their events and acknowledges through them) and the link
// after the reporter; both stop before the alarms.
import { readFileSync } from 'node:fs';
import { Counter, type Registry } from 'prom-client';
import type { AlarmService } from '../alarms/alarmService.js';
import type { EventBus } from '../bus.js';
import type { Logger } from '../log.js';
import type { Service } from '../service.js';
import type { Store } from '../store/store.js';
import type { TechnicalAlarms, TechnicalReport } from '../sync/technicalAlarms.js';
import { ALARM_MANAGER_LINK, AlarmManagerReporter } from './alarmManager.js';
import type { AlarmManagerConfig } from './alarmManagerConfig.js';
import { OutboundLink, unreachableAlarmKey } from './outboundLink.js';

export interface AlarmManagerWiring {
  readonly reporter: AlarmManagerReporter;
  readonly link: OutboundLink;
  /** In start order. */
  readonly services: readonly Service[];
}

export function wireAlarmManager(deps: {
  readonly config: AlarmManagerConfig;
  readonly ward: string;
  readonly gatewayId: string;
  readonly store: Store;
  readonly bus: EventBus;
  readonly log: Logger;
  readonly alarms: AlarmService;
  readonly technical: TechnicalAlarms;
  readonly registry?: Registry;
  readonly now?: () => number;
}): AlarmManagerWiring {
  const { config, store, log } = deps;
  const file = (path: string | undefined) => (path === undefined ? undefined : readFileSync(path));
  const tls = config.tls && {
    ...(config.tls.ca && { ca: file(config.tls.ca)! }),
    ...(config.tls.cert && { cert: file(config.tls.cert)! }),
    ...(config.tls.key && { key: file(config.tls.key)! }),
    ...(config.tls.servername && { servername: config.tls.servername }),
  };
  const link = new OutboundLink({
    name: ALARM_MANAGER_LINK,
    receiver: 'the alarm manager',
    db: store.db,
    log,
    connection: {
      host: config.host,
      port: config.port,
      connectTimeoutMs: config.connectTimeoutMs,
      ackTimeoutMs: config.ackTimeoutMs,
      ...(tls && { tls }),
    },
    retry: { minMs: config.retryMinMs, maxMs: config.retryMaxMs },
    alarms: unreachableAsWardAlarm(deps.technical, config.unreachableAlarmMs, deps.now ?? Date.now),
    unreachableAlarmMs: config.unreachableAlarmMs,
    ...(deps.registry && { registry: deps.registry }),
    ...(deps.now && { now: deps.now }),
  });
  const counters = deps.registry && alarmManagerCounters(deps.registry);
  const reporter = new AlarmManagerReporter({
    config,
    ward: deps.ward,
    gatewayId: deps.gatewayId,
    db: store.db,
    audit: store.audit,
    bus: deps.bus,
    log,
    kick: () => link.kick(),
    openAlarm: (alarmId) => deps.alarms.engine.openAlarms().find((a) => a.id === alarmId),
    acknowledge: (alarmId, by, via) => deps.alarms.acknowledge(alarmId, by, via),
    ...(counters && {
      onCount: (what, label, n = 1) =>
        what === 'status' ? counters.statuses.inc({ status: label }, n) : counters.reports.inc({ outcome: what }, n),
    }),
    ...(deps.now && { now: deps.now }),
  });
  return { reporter, link, services: [reporter, link] };
}

/**
 * The link says when the manager has taken nothing for a while. For the
 * alarm manager that means the phones and pagers are silent: a
 * medium-priority technical alarm that says so, where the link would raise
 * a low one about a queue.
 */
function unreachableAsWardAlarm(technical: TechnicalAlarms, afterMs: number, now: () => number): TechnicalAlarms {
  const key = unreachableAlarmKey(ALARM_MANAGER_LINK);
  let since: number | undefined;
  return {
    set(name: string, report: TechnicalReport | null): void {
      if (name !== key) return technical.set(name, report);
      if (!report) {
        since = undefined;
        return technical.set(name, null);
      }
      since ??= now() - afterMs;
      const waiting = report.value ?? 0;
      technical.set(name, {
        rule: 'alarm-manager-unreachable',
        priority: 'medium',
        value: waiting,
        message: `Alarm manager unreachable for ${Math.round((now() - since) / 1000)} s: alarms show on the ward only, not on phones or pagers; ${waiting} report(s) waiting, none lost`,
      });
    },
  };
}

function alarmManagerCounters(registry: Registry) {
  return {
    reports: new Counter({
      name: 'wardgate_alarm_manager_reports_total',
      help: "Alarm events put in the alarm manager's queue as PCD-04 reports (queued), passed over by alarmManager.phases, minPriority or kinds (skipped), or older than alarmManager.backlogMaxAgeMs when they could first be queued (stale).",
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    statuses: new Counter({
      name: 'wardgate_alarm_manager_statuses_total',
      help: 'Dissemination statuses the alarm manager reported back (PCD-05), one per recipient: received, delivered, read, accepted, rejected, cancelled, undeliverable, other.',
      labelNames: ['status'] as const,
      registers: [registry],
    }),
  };
}
