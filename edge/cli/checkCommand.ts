// `wardgate check KIND ...`: offline previews of captured device traffic,
// what the gateway would store, flag or refuse and why. One subcommand per
// kind of traffic: hl7 (checkHl7.ts) and serial (checkSerial.ts).
import { ExitCode, type Command, type CommandIO } from '../../shared/cli.js';
import { WardgateError } from '../../shared/errors.js';
import { checkHl7Command } from './checkHl7.js';
import { checkSerialCommand } from './checkSerial.js';

const kinds: Command[] = [checkHl7Command, checkSerialCommand];

function help(): string {
  const width = Math.max(...kinds.map((k) => k.name.length));
  return `Usage: wardgate check <kind> [options] FILE...

Previews captured traffic without storing or sending anything:
${kinds.map((k) => `  ${k.name.padEnd(width)}  ${k.summary}`).join('\n')}

Run 'wardgate check <kind> --help' for its options.`;
}

export const checkCommand: Command = {
  name: 'check',
  summary: 'preview captured device traffic: what would be stored, flagged or refused',
  get help() {
    return help();
  },
  async run(io: CommandIO): Promise<number> {
    const [kind, ...rest] = io.argv;
    if (kind === undefined || kind === '--help' || kind === '-h') {
      io.stdout.write(`${help()}\n`);
      return kind === undefined ? ExitCode.usage : ExitCode.ok;
    }
    const command = kinds.find((k) => k.name === kind);
    if (!command)
      throw new WardgateError(
        'WG_ERR_USAGE',
        `cannot check '${kind}'; expected one of ${kinds.map((k) => k.name).join(', ')}`,
      );
    return command.run({ ...io, argv: rest });
  },
};
