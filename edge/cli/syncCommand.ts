// `wardgate sync`: the operator's view of the sync and the one action it
// needs: sending quarantined batches again once the cause is fixed. Works on
// the database directly, whether or not the daemon runs; a running daemon
// picks the retried batches up at its next sync tick.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig, type GatewayConfig } from '../config/load.js';
import { createLogger } from '../log.js';
import { DB_FILE, openDatabase, type Db } from '../store/database.js';
import { BatchBuilder } from '../sync/batchBuilder.js';
import { googleIdTokens } from '../sync/idToken.js';
import { Outbound, outboundSettings } from '../net/outbound.js';
import { Pseudonyms } from '../sync/pseudonyms.js';
import { Verifier, type VerifyReport } from '../sync/verifier.js';
import { Outbox } from '../store/outbox.js';
import { readSyncStatus } from '../store/syncStatusQuery.js';
import { WardgateError } from '../../shared/errors.js';
import { ExitCode, parseCommandArgs, type Command, type CommandIO } from '../../shared/cli.js';

export const syncCommand: Command = {
  name: 'sync',
  summary: 'sync state and quarantined batches; --retry-quarantined sends them again; --verify checks the cloud',
  help: `Usage: wardgate sync [--config FILE] (--status | --retry-quarantined | --verify [--since T]) [--json]

--status             the sync state, backlog, drain rate and every quarantined
                     batch with the cloud's reason (the default)
--retry-quarantined  puts quarantined batches back in flight and lifts a pause
                     caused by an authentication, clock or ward error; run it
                     after fixing the cause (secret, clock, config)
--verify             asks the cloud what it holds of what it confirmed
                     (counts and digests per range, {cloud.url}/verifyRange)
                     since the last verification, and puts any range with a
                     hole back in flight (the daemon sends it at its next sync
                     tick); exit code 1 when a hole was found
--since T            with --verify: check from time T (RFC 3339 or epoch ms),
                     not before the cloud ran a version with verifyRange

Options:
  -c, --config FILE   the YAML config file (for the data directory)
      --json          machine-readable output`,
  async run(io: CommandIO): Promise<number> {
    const { values } = parseCommandArgs(io.argv, {
      config: { type: 'string', short: 'c' },
      status: { type: 'boolean' },
      'retry-quarantined': { type: 'boolean' },
      json: { type: 'boolean' },
      verify: { type: 'boolean' },
      since: { type: 'string' },
    });
    if (values.help) {
      io.stdout.write(`${this.help}\n`);
      return ExitCode.ok;
    }
    if ([values.status, values['retry-quarantined'], values.verify].filter(Boolean).length > 1)
      throw new WardgateError('WG_ERR_USAGE', 'give one of --status, --retry-quarantined, --verify');
    if (values.since !== undefined && !values.verify)
      throw new WardgateError('WG_ERR_USAGE', '--since goes with --verify');
    const since = values.since === undefined ? undefined : parseSince(values.since);
    const config = loadConfig({ ...(values.config !== undefined && { file: values.config }), env: io.env });
    if (!existsSync(join(config.gateway.dataDir, DB_FILE)))
      throw new WardgateError(
        'WG_ERR_USAGE',
        `no database in ${config.gateway.dataDir}: has the daemon ever run with this config?`,
      );
    const db = openDatabase(config.gateway.dataDir);
    try {
      const outbox = new Outbox(db);
      if (values.verify) return await verify(io, config, db, outbox, since, values.json === true);
      if (values['retry-quarantined']) {
        const retried = outbox.retryQuarantined();
        io.stdout.write(
          values.json
            ? `${JSON.stringify({ retried })}\n`
            : `${retried} quarantined batch(es) back in flight; the daemon sends them at its next sync tick\n`,
        );
        return ExitCode.ok;
      }
      const status = readSyncStatus(db, config.cloud !== undefined);
      const quarantined = outbox.batches('quarantined').map((b) => ({
        batchId: b.id,
        items: b.items,
        readings: b.readings,
        httpStatus: b.httpStatus,
        code: b.errorCode,
        reason: b.reason,
        quarantinedAt: b.quarantinedAt === null ? null : new Date(b.quarantinedAt).toISOString(),
      }));
      if (values.json) {
        io.stdout.write(`${JSON.stringify({ ...status, quarantined }, null, 2)}\n`);
      } else {
        const lines = [
          `sync ${status.state}${status.pausedReason ? ` (paused: ${status.pausedReason})` : ''}, last success ${status.lastSuccessTs ?? 'never'}`,
          `backlog ${status.backlog.readings} readings, ${status.backlog.alarmEvents} alarm events, ${status.backlog.statuses} statuses; ${status.drainRatePerSecond} readings/s`,
          `quarantined ${quarantined.length}`,
          ...quarantined.map((q) => `  ${q.batchId}  ${q.items} items  ${q.httpStatus ?? '-'} ${q.code}: ${q.reason}`),
        ];
        io.stdout.write(`${lines.join('\n')}\n`);
      }
      return ExitCode.ok;
    } finally {
      db.close();
    }
  },
};

function parseSince(text: string): number {
  const ms = /^\d+$/.test(text) ? Number(text) : Date.parse(text);
  if (!Number.isFinite(ms))
    throw new WardgateError('WG_ERR_USAGE', `--since: expected RFC 3339 or epoch milliseconds, got ${text}`);
  return ms;
}

async function verify(
  io: CommandIO,
  config: GatewayConfig,
  db: Db,
  outbox: Outbox,
  since: number | undefined,
  json: boolean,
): Promise<number> {
  const cloud = config.cloud;
  if (!cloud) throw new WardgateError('WG_ERR_USAGE', 'no cloud in the config: nothing was synced to verify');
  const outbound = new Outbound(outboundSettings(config.proxy, io.env), { proxyTimeoutMs: cloud.requestTimeoutMs });
  const tokens = cloud.idToken ? googleIdTokens({ ...cloud.idToken, outbound }) : undefined;
  const verifier = new Verifier({
    outbound,
    db,
    outbox,
    url: cloud.url,
    gateway: config.gateway.id,
    secret: io.env[cloud.secretEnv] ?? '',
    timeoutMs: cloud.requestTimeoutMs,
    log: createLogger('silent'),
    builder: new BatchBuilder(db, new Pseudonyms(db, io.env[cloud.wardSecretEnv] ?? ''), {
      gateway: config.gateway.id,
      ward: config.ward,
    }),
    ...(tokens && { headers: () => tokens.headers() }),
  });
  let report: VerifyReport;
  try {
    // Run after run (each bounded, each going on from where the last stopped) up to the cursors.
    report = await verifier.run(since === undefined ? {} : { since });
    while (!report.complete) report = addReports(report, await verifier.run());
  } catch (err) {
    throw new WardgateError('WG_ERR_UNAVAILABLE', `verification failed: ${(err as Error).message}`);
  } finally {
    // A proxy connection left open (a CONNECT never answered) would keep the command from exiting.
    await outbound.destroy();
  }
  if (json) io.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else {
    const lines = [
      `verified ${report.items} items in ${report.ranges} ranges: ${report.missing} missing in the cloud, ${report.extra} extra; ${report.resent} re-sent`,
      ...report.holes.map((h) => `  hole in ${h.stream} ${h.lo}-${h.hi}: edge ${h.edge}, cloud ${h.cloud}`),
      ...(report.corrected > 0
        ? [`the cloud corrected its record of ${report.corrected} item(s) it did not hold`]
        : []),
      ...(report.resent > 0 ? ['the daemon sends the re-sent ranges at its next sync tick'] : []),
    ];
    io.stdout.write(`${lines.join('\n')}\n`);
  }
  return report.holes.length > 0 ? ExitCode.failure : ExitCode.ok;
}

/** Two runs' reports as one: the figures added, the holes of both, the state after the later. */
function addReports(a: VerifyReport, b: VerifyReport): VerifyReport {
  return {
    ranges: a.ranges + b.ranges,
    items: a.items + b.items,
    missing: a.missing + b.missing,
    extra: a.extra + b.extra,
    resent: a.resent + b.resent,
    corrected: a.corrected + b.corrected,
    holes: [...a.holes, ...b.holes],
    pendingRepairs: b.pendingRepairs,
    complete: b.complete,
  };
}
