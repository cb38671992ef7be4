// Ward commands for the box's engineer: admit, discharge, list and acknowledge
// alarms. They act through the running daemon (so the alarm engine knows at
// once), and the audit trail names them as the local admin.
import { parseCommandArgs, ExitCode, type Command, type CommandIO } from '../../shared/cli.js';
import { WardgateError } from '../../shared/errors.js';
import { check, DaemonNotRunning, localApi } from './localApi.js';

async function run(
  io: CommandIO,
  config: string | undefined,
  action: (api: ReturnType<typeof localApi>) => Promise<string>,
): Promise<number> {
  try {
    io.stdout.write(await action(localApi(config, io.env)));
    return ExitCode.ok;
  } catch (err) {
    if (!(err instanceof DaemonNotRunning)) throw err;
    io.stderr.write(`wardgate: ${err.message}\n`);
    return ExitCode.failure;
  }
}

function help(io: CommandIO, text: string): number {
  io.stdout.write(`${text}\n`);
  return ExitCode.ok;
}

function need(value: string | undefined, flag: string): string {
  if (!value) throw new WardgateError('WG_ERR_USAGE', `${flag} is required`);
  return value;
}

const configOption = { config: { type: 'string', short: 'c' } } as const;

export const admitCommand: Command = {
  name: 'admit',
  summary: 'admit a patient to a bed',
  help: `Usage: wardgate admit --bed BED --patient ID [--authority A] [--name NAME] [--config FILE]

Admits a patient to a bed on the running gateway. ID is the hospital's patient
identifier (it stays on the ward; the cloud only ever sees a keyed pseudonym);
NAME is shown on the ward dashboard only.

With the hospital's ADT feed (hl7.adt), this is the fallback: the admission
is marked manual, and the feed adopts it when it names the same patient (same
ID and authority, so give --authority as the feed sends it) in the same bed,
or ends it when it puts another patient there (docs/INTEGRATION.md).`,
  async run(io) {
    const { values } = parseCommandArgs(io.argv, {
      ...configOption,
      bed: { type: 'string' },
      patient: { type: 'string' },
      authority: { type: 'string' },
      name: { type: 'string' },
    });
    if (values.help) return help(io, this.help);
    const body = {
      bed: need(values.bed, '--bed'),
      identifier: need(values.patient, '--patient'),
      ...(values.authority !== undefined && { authority: values.authority }),
      ...(values.name !== undefined && { displayName: values.name }),
    };
    return run(io, values.config, async (api) => {
      check(await api.call('POST', '/api/admissions', body));
      return `admitted to bed ${body.bed}\n`;
    });
  },
};

export const dischargeCommand: Command = {
  name: 'discharge',
  summary: 'discharge the patient in a bed',
  help: `Usage: wardgate discharge --bed BED [--config FILE]`,
  async run(io) {
    const { values } = parseCommandArgs(io.argv, { ...configOption, bed: { type: 'string' } });
    if (values.help) return help(io, this.help);
    const bed = need(values.bed, '--bed');
    return run(io, values.config, async (api) => {
      check(await api.call('POST', `/api/beds/${encodeURIComponent(bed)}/discharge`));
      return `bed ${bed} discharged\n`;
    });
  },
};

export const alarmsCommand: Command = {
  name: 'alarms',
  summary: 'list open alarms, or acknowledge one (--ack ID)',
  help: `Usage: wardgate alarms [--json] [--ack ID] [--config FILE]

Lists the open alarms of the running gateway, highest priority first; --ack
acknowledges one (as the local admin, recorded in the audit trail).`,
  async run(io) {
    const { values } = parseCommandArgs(io.argv, {
      ...configOption,
      json: { type: 'boolean' },
      ack: { type: 'string' },
    });
    if (values.help) return help(io, this.help);
    return run(io, values.config, async (api) => {
      if (values.ack !== undefined) {
        const alarm = check(await api.call('POST', `/api/alarms/${encodeURIComponent(values.ack)}/ack`));
        return `acknowledged: ${String(alarm.message)}\n`;
      }
      const { alarms } = check(await api.call('GET', '/api/alarms')) as { alarms: Array<Record<string, unknown>> };
      if (values.json) return `${JSON.stringify(alarms, null, 2)}\n`;
      if (!alarms.length) return 'no open alarms\n';
      return `${alarms.map((a) => `${String(a.priority).padEnd(6)} ${String(a.state).padEnd(12)} bed ${(typeof a.bed === 'string' ? a.bed : '-').padEnd(4)} ${String(a.message)}  [${String(a.id)}]`).join('\n')}\n`;
    });
  },
};
