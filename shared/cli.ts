// Shared pieces of every wardgate command (edge, cloud, simulators): exit codes,
// the command shape, and argument parsing that turns mistakes into WG_ERR_USAGE.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { WardgateError } from './errors.js';

/** Exit codes of every wardgate command (documented in the README). */
export const ExitCode = { ok: 0, failure: 1, usage: 2 } as const;

export interface CommandIO {
  readonly argv: readonly string[];
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  readonly stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  readonly env: NodeJS.ProcessEnv;
}

export interface Command {
  readonly name: string;
  readonly summary: string;
  readonly help: string;
  run(io: CommandIO): Promise<number>;
}

export function parseCommandArgs<T extends NonNullable<ParseArgsConfig['options']>>(
  argv: readonly string[],
  options: T,
  allowPositionals = false,
) {
  try {
    return parseArgs({
      args: [...argv],
      options: { ...options, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals,
    });
  } catch (err) {
    throw new WardgateError('WG_ERR_USAGE', (err as Error).message);
  }
}
