// `wardgate ehr`: the running gateway's link to the hospital's EHR (config
// ehr): its state and queue, and --retry-quarantined to send the messages the
// EHR refused again once their cause is fixed (as the local admin, audited).
import { parseCommandArgs, ExitCode, type Command } from '../../shared/cli.js';
import { check, DaemonNotRunning, localApi } from './localApi.js';

const iso = (ms: unknown) => (typeof ms === 'number' ? new Date(ms).toISOString() : 'never');

export const ehrCommand: Command = {
  name: 'ehr',
  summary: "the EHR link's state and queue, or send refused messages again (--retry-quarantined)",
  help: `Usage: wardgate ehr [--retry-quarantined] [--json] [--config FILE]

Shows the running gateway's link to the EHR: connected or not, messages
queued, quarantined (refused by the EHR with AR) and sent, the last success
and the last error with the EHR's reason. --retry-quarantined puts the
quarantined messages back in the queue with their own control ids, once the
cause is fixed (docs/INTEGRATION.md, "Outbound links and the queue").`,
  async run(io) {
    const { values } = parseCommandArgs(io.argv, {
      config: { type: 'string', short: 'c' },
      json: { type: 'boolean' },
      'retry-quarantined': { type: 'boolean' },
    });
    if (values.help) {
      io.stdout.write(`${this.help}\n`);
      return ExitCode.ok;
    }
    try {
      const api = localApi(values.config, io.env);
      if (values['retry-quarantined']) {
        const { requeued } = check(await api.call('POST', '/api/ehr/retry'));
        io.stdout.write(`${String(requeued)} quarantined message(s) queued again\n`);
        return ExitCode.ok;
      }
      const link = check(await api.call('GET', '/api/ehr'));
      if (values.json) io.stdout.write(`${JSON.stringify(link, null, 2)}\n`);
      else {
        io.stdout.write(
          `ehr: ${link.connected ? 'connected' : 'not connected'}, ${String(link.queued)} queued, ${String(link.quarantined)} quarantined, ${String(link.sent)} sent; ` +
            `last success ${iso(link.lastSuccessAt)}${typeof link.lastError === 'string' ? `; last error ${iso(link.lastErrorAt)}: ${link.lastError}` : ''}\n`,
        );
      }
      return ExitCode.ok;
    } catch (err) {
      if (!(err instanceof DaemonNotRunning)) throw err;
      io.stderr.write(`wardgate: ${err.message}\n`);
      return ExitCode.failure;
    }
  },
};
