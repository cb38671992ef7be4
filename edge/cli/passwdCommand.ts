// `wardgate passwd`: reads a password on stdin and prints the salted hash that
// goes into the config as secretHash (or a 0600 secretHashFile). With
// --device it mints a device secret instead and prints the secret (for the
// device) and its fast verifier (for the config): see auth/deviceSecret.ts.
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { WardgateError } from '../../shared/errors.js';
import { deviceVerifier, mintDeviceSecret } from '../auth/deviceSecret.js';
import { hashPassword } from '../auth/password.js';
import { ExitCode, parseCommandArgs, type Command, type CommandIO } from '../../shared/cli.js';

export const MIN_PASSWORD_LENGTH = 12;

export const passwdCommand: Command = {
  name: 'passwd',
  summary: 'read a password on stdin, print its salted hash for the config (--device: mint a device secret)',
  help: `Usage: wardgate passwd [--device [--json]]

Reads a password from standard input (one line) and prints a salted scrypt hash
for a user's (or device's) secretHash. Passwords shorter than ${MIN_PASSWORD_LENGTH} characters are refused.

  echo -n 'a long pass phrase' | wardgate passwd

--device reads nothing: it mints a random device secret (256 bits) and prints
the secret, to configure in the device, and its verifier (sha256$...), for the
device's secretHash. A device secret is checked in microseconds, so a whole
floor of devices logs in again at once after a restart; an scrypt hash costs
each device about 150 ms of CPU. The secret is printed once and stored nowhere.

      --device  mint a device secret and print it with its verifier
      --json    with --device: {"secret": "...", "secretHash": "sha256$..."}`,
  async run(io: CommandIO): Promise<number> {
    const { values } = parseCommandArgs(io.argv, { device: { type: 'boolean' }, json: { type: 'boolean' } });
    if (values.help) {
      io.stdout.write(`${this.help}\n`);
      return ExitCode.ok;
    }
    if (values.json && !values.device) throw new WardgateError('WG_ERR_USAGE', '--json goes with --device');
    if (values.device) {
      const secret = mintDeviceSecret();
      const secretHash = deviceVerifier(secret);
      io.stdout.write(
        values.json ? `${JSON.stringify({ secret, secretHash })}\n` : `secret: ${secret}\nsecretHash: ${secretHash}\n`,
      );
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
