// `wardgate sync`: the operator's view of the sync and the one action it
// needs: sending quarantined batches again once the cause is fixed. Works on
// the database directly, whether or not the daemon runs; a running daemon
// picks the retried batches up at its next sync tick.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../config/load.js';
import { DB_FILE, openDatabase } from '../store/database.js';
import { Outbox } from '../sync/outbox.js';
import { readSyncStatus } from '../sync/syncStatus.js';
import { WardgateError } from '../../shared/errors.js';
import { ExitCode, parseCommandArgs, type Command, type CommandIO } from '../../shared/cli.js';

export const syncCommand: Command = {
  name: 'sync',
  summary: 'sync state and quarantined batches; --retry-quarantined sends them again',
  help: `Usage: wardgate sync [--config FILE] (--status | --retry-quarantined) [--json]

--status             the sync state, backlog, drain rate and every quarantined
                     batch with the cloud's reason (the default)
--retry-quarantined  puts quarantined batches back in flight and lifts a pause
                     caused by an authentication, clock or ward error; run it
                     after fixing the cause (secret, clock, config)

Options:
  -c, --config FILE   the YAML config file (for the data directory)
      --json          machine-readable output`,
  async run(io: CommandIO): Promise<number> {
    const { values } = parseCommandArgs(io.argv, {
      config: { type: 'string', short: 'c' }, status: { type: 'boolean' }, 'retry-quarantined': { type: 'boolean' }, json: { type: 'boolean' },
    });
    if (values.help) {
      io.stdout.write(`${this.help}\n`);
      return ExitCode.ok;
    }
    if (values.status && values['retry-quarantined']) throw new WardgateError('WG_ERR_USAGE', 'give either --status or --retry-quarantined');
    const config = loadConfig({ ...(values.config !== undefined && { file: values.config }), env: io.env });
    if (!existsSync(join(config.gateway.dataDir, DB_FILE))) throw new WardgateError('WG_ERR_USAGE', `no database in ${config.gateway.dataDir}: has the daemon ever run with this config?`);
    const db = openDatabase(config.gateway.dataDir);
    try {
      const outbox = new Outbox(db);
      if (values['retry-quarantined']) {
        const retried = outbox.retryQuarantined();
        io.stdout.write(values.json ? `${JSON.stringify({ retried })}\n` : `${retried} quarantined batch(es) back in flight; the daemon sends them at its next sync tick\n`);
        return ExitCode.ok;
      }
      const status = readSyncStatus(db, config.cloud !== undefined);
      const quarantined = outbox.batches('quarantined').map((b) => ({
        batchId: b.id, items: b.items, readings: b.readings, httpStatus: b.httpStatus, code: b.errorCode, reason: b.reason,
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
