// `wardgate status`: the buffer, dead letters, sync, alarms and devices, read
// straight from the database, so it works whether or not the daemon runs.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../config/load.js';
import { RUN_FILE, type RunInfo } from '../gateway.js';
import { HL7_STATUS_FILE, readHl7Status, type Hl7Status } from '../hl7/senderStatus.js';
import {
  ADT_STATUS_FILE,
  adtLinkReport,
  formatAdtLink,
  readAdtStatus,
  type AdtLinkReport,
} from '../integration/adtStatus.js';
import { DB_FILE, openDatabaseReadOnly } from '../store/database.js';
import { readStatus, type GatewayStatus } from '../store/statusQuery.js';
import { readOutboundSummaries, type OutboundSummary } from '../store/outboundStore.js';
import { noVerification } from '../store/syncStatusQuery.js';
import { ExitCode, parseCommandArgs, type Command, type CommandIO } from '../../shared/cli.js';

export interface StatusReport extends GatewayStatus {
  ward: string;
  gateway: string;
  daemon: { running: boolean; pid: number | null; ports: RunInfo['ports'] | null };
  /** Outbound HL7 links (the EHR, an alarm manager): connection and queue (absent: none ever configured). */
  outbound?: OutboundSummary[];
  /** HL7 senders' clocks, demo rows and unmapped codes, as the listener last wrote them (absent: none yet). */
  hl7?: Hl7Status;
  /** The hospital's ADT feed in, when hl7.adt is configured: listening or down, with the answers since it opened. */
  adt?: AdtLinkReport;
}

export const statusCommand: Command = {
  name: 'status',
  summary: 'buffer depth, oldest unsynced reading, sync state, alarms, devices',
  help: `Usage: wardgate status [--config FILE] [--json]

Reads the gateway's database (the daemon need not run) and reports readings
stored and not yet synced, the oldest unsynced reading, dead letters by reason,
sync state, active alarms and the devices seen.

Options:
  -c, --config FILE   the YAML config file (for the ward and data directory)
      --json          machine-readable output`,
  async run(io: CommandIO): Promise<number> {
    const { values } = parseCommandArgs(io.argv, { config: { type: 'string', short: 'c' }, json: { type: 'boolean' } });
    if (values.help) {
      io.stdout.write(`${this.help}\n`);
      return ExitCode.ok;
    }
    const config = loadConfig({ ...(values.config !== undefined && { file: values.config }), env: io.env });
    const report = collect(
      config.gateway.dataDir,
      config.ward,
      config.gateway.id,
      config.cloud !== undefined,
      config.hl7?.adt !== undefined,
    );
    io.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
    return ExitCode.ok;
  },
};

function collect(
  dataDir: string,
  ward: string,
  gateway: string,
  syncConfigured: boolean,
  adtConfigured: boolean,
): StatusReport {
  const daemon = readRunFile(dataDir);
  let status: GatewayStatus;
  let outbound: OutboundSummary[] = [];
  if (existsSync(join(dataDir, DB_FILE))) {
    const db = openDatabaseReadOnly(dataDir);
    try {
      status = readStatus(db, { syncConfigured });
      // A connection recorded by a daemon that is gone is not one.
      outbound = readOutboundSummaries(db).map((o) => ({ ...o, connected: o.connected && daemon.running }));
    } finally {
      db.close();
    }
  } else {
    status = {
      readings: { total: 0, unsynced: 0, oldestUnsyncedTs: null },
      deadLetters: { total: 0, byReason: {} },
      devices: [],
      alarms: { active: 0 },
      sync: {
        state: 'off',
        lastSuccessTs: null,
        backlog: { readings: 0, alarmEvents: 0, statuses: 0, batchesInFlight: 0, batchesQuarantined: 0 },
        drainRatePerSecond: 0,
        etaSeconds: null,
        pausedReason: null,
        configVersion: 0,
        verify: noVerification,
      },
    };
  }
  const hl7 = readHl7Status(join(dataDir, HL7_STATUS_FILE));
  const adt = adtConfigured ? adtLinkReport(daemon.running, readAdtStatus(join(dataDir, ADT_STATUS_FILE))) : undefined;
  return {
    ward,
    gateway,
    daemon,
    ...status,
    ...(outbound.length > 0 && { outbound }),
    ...(hl7 && { hl7 }),
    ...(adt && { adt }),
  };
}

function readRunFile(dataDir: string): StatusReport['daemon'] {
  try {
    const info = JSON.parse(readFileSync(join(dataDir, RUN_FILE), 'utf8')) as RunInfo;
    process.kill(info.pid, 0);
    return { running: true, pid: info.pid, ports: info.ports };
  } catch {
    return { running: false, pid: null, ports: null };
  }
}

function formatVerify(v: StatusReport['sync']['verify']): string {
  if (v.runs === 0) return 'never';
  return (
    `${v.itemsVerified} items in ${v.runs} runs, last ${v.lastRunTs}; ${v.missing} missing in the cloud (last ${v.lastHoleTs ?? 'never'}), ` +
    `${v.resent} re-sent, ${v.pendingRepairs} range(s) awaiting re-verification, ${v.extra} extra`
  );
}

export function formatReport(r: StatusReport): string {
  const daemon = r.daemon.running ? `running, pid ${r.daemon.pid}` : 'not running';
  const reasons = Object.entries(r.deadLetters.byReason)
    .map(([k, n]) => `${k} ${n}`)
    .join(', ');
  const lines = [
    `ward ${r.ward}, gateway ${r.gateway} (daemon ${daemon})`,
    `readings      ${r.readings.total} stored, ${r.readings.unsynced} not yet synced, oldest unsynced ${r.readings.oldestUnsyncedTs ?? '-'}`,
    `dead letters  ${r.deadLetters.total}${reasons ? ` (${reasons})` : ''}`,
    `sync          ${r.sync.state}, last success ${r.sync.lastSuccessTs ?? 'never'}${r.sync.pausedReason ? ` (paused: ${r.sync.pausedReason})` : ''}`,
    `backlog       ${r.sync.backlog.readings} readings, ${r.sync.backlog.alarmEvents} alarm events, ${r.sync.backlog.statuses} statuses; ` +
      `${r.sync.backlog.batchesInFlight} batches in flight, ${r.sync.backlog.batchesQuarantined} quarantined; ` +
      `${r.sync.drainRatePerSecond} readings/s, ${r.sync.etaSeconds === null ? 'no estimate' : `about ${formatDuration(r.sync.etaSeconds)} left`}`,
    `verified      ${formatVerify(r.sync.verify)}`,
    `alarms        ${r.alarms.active} active`,
    `devices       ${r.devices.length}`,
  ];
  if (r.hl7) lines.push(...formatHl7(r.hl7));
  for (const o of r.outbound ?? []) lines.push(formatOutbound(o));
  if (r.adt) lines.push(...formatAdtLink(r.adt));
  if (r.devices.length) {
    const rows = [['ID', 'BED', 'SOURCE', 'ONLINE', 'LAST SEEN', 'BATTERY', 'SENSOR']];
    for (const d of r.devices) {
      rows.push([
        d.declared ? d.id : `${d.id} (undeclared)`,
        d.bed ?? '-',
        d.source,
        d.online === null ? '-' : d.online ? 'yes' : 'no',
        d.lastSeen ?? 'never',
        d.battery === null ? '-' : `${d.battery} %`,
        d.sensor ?? '-',
      ]);
    }
    const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
    for (const row of rows)
      lines.push(
        `  ${row
          .map((cell, i) => cell.padEnd(widths[i]))
          .join('  ')
          .trimEnd()}`,
      );
  }
  return `${lines.join('\n')}\n`;
}

const isoOr = (ms: number | null, otherwise: string) => (ms === null ? otherwise : new Date(ms).toISOString());

/** One outbound link: connection, queue and the last outcomes. */
function formatOutbound(o: OutboundSummary): string {
  const queue = `${o.queued} queued${o.queued ? ` (oldest ${isoOr(o.oldestQueuedAt, '-')})` : ''}, ${o.quarantined} quarantined, ${o.sent} sent`;
  const error = o.lastError ? `; last error ${isoOr(o.lastErrorAt, '-')}: ${o.lastError}` : '';
  return `${`link ${o.link}`.padEnd(13)} ${o.connected ? 'connected' : 'not connected'}, ${queue}; last success ${isoOr(o.lastSuccessAt, 'never')}${error}`;
}

function formatHl7(h: Hl7Status): string[] {
  const lines = [`hl7 senders   ${h.senders.length}`];
  for (const s of h.senders) {
    const clock =
      s.clockOffsetSeconds === null
        ? 'clock unknown'
        : `clock ${s.clockOffsetSeconds >= 0 ? '+' : ''}${s.clockOffsetSeconds} s (MSH-7 - arrival)`;
    lines.push(
      `  ${s.sender}: last ${s.lastMessageTs}, ${clock}${s.demoRows ? `, ${s.demoRows} demo/test rows not stored` : ''}`,
    );
  }
  const codes = Object.entries(h.unmappedCodes).map(([code, n]) => `${code} ${n}`);
  if (codes.length) lines.push(`hl7 unmapped  ${codes.join(', ')}`);
  return lines;
}

function formatDuration(seconds: number): string {
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}
