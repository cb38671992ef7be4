// The `wardgate` command line: dispatches to a command, turns errors into
// messages and exit codes (0 ok, 1 failure, 2 bad usage or config).
import { WardgateError } from '../shared/errors.js';
import { checkCommand } from '../edge/cli/checkCommand.js';
import { edgeCommand } from '../edge/cli/edgeCommand.js';
import { passwdCommand } from '../edge/cli/passwdCommand.js';
import { statusCommand } from '../edge/cli/statusCommand.js';
import { syncCommand } from '../edge/cli/syncCommand.js';
import { ehrCommand } from '../edge/cli/ehrCommand.js';
import { admitCommand, alarmsCommand, dischargeCommand } from '../edge/cli/wardCommands.js';
import { ExitCode, type Command, type CommandIO } from '../shared/cli.js';

/**
 * A command whose modules load only when it runs: the cloud functions (the
 * Firestore and Pub/Sub clients), the simulators and the demo would otherwise
 * sit in the daemon's heap, about 35 MiB of RSS that `wardgate edge` never uses.
 */
function later(name: string, summary: string, load: () => Promise<Command>): Command {
  return { name, summary, help: '', run: async (io) => (await load()).run(io) };
}

const commands: readonly Command[] = [
  edgeCommand,
  statusCommand,
  syncCommand,
  alarmsCommand,
  admitCommand,
  dischargeCommand,
  ehrCommand,
  passwdCommand,
  checkCommand,
  later(
    'cloud',
    'run the cloud functions locally against the emulators, or deploy them',
    async () => (await import('../cloud/cli/cloudCommand.js')).cloudCommand,
  ),
  later(
    'simulate',
    'simulated bedside devices and scenarios against a gateway (or --dry-run)',
    async () => (await import('../simulators/cli/simulateCommand.js')).simulateCommand,
  ),
  later(
    'demo',
    'a whole simulated ward in one command: cloud emulators, edge, eight beds',
    async () => (await import('../simulators/demo/demoCommand.js')).demoCommand,
  ),
];

function usage(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return `Usage: wardgate <command> [options]

Commands:
${commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}

Run 'wardgate <command> --help' for a command's options.
Exit codes: 0 success, 1 runtime failure, 2 bad usage or configuration.
`;
}

export async function main(io: CommandIO): Promise<number> {
  const [name, ...rest] = io.argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.stdout.write(usage());
    return name === undefined ? ExitCode.usage : ExitCode.ok;
  }
  const command = commands.find((c) => c.name === name);
  if (!command) {
    io.stderr.write(`wardgate: unknown command '${name}'\n\n${usage()}`);
    return ExitCode.usage;
  }
  try {
    return await command.run({ ...io, argv: rest });
  } catch (err) {
    if (err instanceof WardgateError && (err.code === 'WG_ERR_CONFIG' || err.code === 'WG_ERR_USAGE')) {
      io.stderr.write(`wardgate ${name}: ${err.message}\n`);
      return ExitCode.usage;
    }
    io.stderr.write(`wardgate ${name}: ${(err as Error).stack ?? String(err)}\n`);
    return ExitCode.failure;
  }
}
