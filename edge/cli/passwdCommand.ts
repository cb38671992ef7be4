// `wardgate passwd`: reads a password on stdin and prints the salted hash that
// goes into the config as secretHash (or a 0600 secretHashFile).
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { WardgateError } from '../../shared/errors.js';
import { hashPassword } from '../auth/password.js';
import { ExitCode, parseCommandArgs, type Command, type CommandIO } from '../../shared/cli.js';

export const MIN_PASSWORD_LENGTH = 12;

export const passwdCommand: Command = {
  name: 'passwd',
  summary: 'read a password on stdin, print its salted hash for the config',
  help: `Usage: wardgate passwd

Reads a password from standard input (one line) and prints a salted scrypt hash
for a device's or user's secretHash. Passwords shorter than ${MIN_PASSWORD_LENGTH} characters are refused.

  echo -n 'long device secret' | wardgate passwd`,
  async run(io: CommandIO): Promise<number> {
    const { values } = parseCommandArgs(io.argv, {});
    if (values.help) {
      io.stdout.write(`${this.help}\n`);
      return ExitCode.ok;
    }
    if (io.stdin.isTTY) io.stderr.write('Password: ');
    const password = await readFirstLine(io.stdin, io.stdin.isTTY === true);
    if (io.stdin.isTTY) io.stderr.write('\n');
    if (password.length < MIN_PASSWORD_LENGTH) {
      throw new WardgateError('WG_ERR_USAGE', `password must be at least ${MIN_PASSWORD_LENGTH} characters`);
    }
    io.stdout.write(`${await hashPassword(password)}\n`);
    return ExitCode.ok;
  },
};

/** On a terminal, readline runs it in raw mode and echoes to a sink, so the password is not shown. */
async function readFirstLine(input: NodeJS.ReadableStream, terminal: boolean): Promise<string> {
  const sink = new Writable({ write: (_chunk, _enc, done) => done() });
  const lines = createInterface({ input, output: sink, crlfDelay: Infinity, terminal });
  for await (const line of lines) {
    lines.close();
    return line;
  }
  return '';
}
