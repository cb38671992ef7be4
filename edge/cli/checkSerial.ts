// `wardgate check serial --driver D FILE`: reads a capture of a serial port
// (what `cat /dev/ttyUSB0 > FILE` saved, or a vendor's sample output) and
// prints, record by record, what the gateway would store, flag or refuse and
// why, then what framing lost (junk bytes, over-long lines, a cut record).
import { readFileSync } from 'node:fs';
import { WardgateError } from '../../shared/errors.js';
import { ExitCode, parseCommandArgs, type Command, type CommandIO } from '../../shared/cli.js';
import { serialDrivers as driverNames, type SerialDriverName } from '../config/schema.js';
import { serialDrivers } from '../serial/driverRegistry.js';
import { checkSerial, describe } from '../serial/check.js';

const clocks = ['local', 'utc', 'ignore'] as const;

export const checkSerialCommand: Command = {
  name: 'serial',
  summary: 'a serial capture, line by line or record by record, through a driver (--driver D FILE)',
  help: `Usage: wardgate check serial --driver D [--device-clock local|utc|ignore] [--json] FILE

Reads FILE as the raw bytes of a serial port and runs them through the
driver's framing, the driver and the gateway's validation, as a port with that
driver would. Prints one line per record read: store (with the values, and
"artifact" or "unreliable" where they are flagged), nothing to store (the
device sent no value), not monitoring (the device reports no sensor, no cable,
sensor off or a fault: a technical alarm, no value), skipped (a header), or
refuse with the error code and why. Then what framing lost.

  --driver D          ${driverNames.join(', ')}
  --device-clock C    how to read device times without a zone (default local), as the port's deviceClock
  --json              {"records": [...], "faults": {...}} instead of text

Exit codes: 0 every record would be accepted, 1 some record would be refused
or bytes were lost in framing, 2 bad usage or an unreadable file.`,
  async run(io: CommandIO): Promise<number> {
    const { values, positionals } = parseCommandArgs(
      io.argv,
      { driver: { type: 'string' }, 'device-clock': { type: 'string' }, json: { type: 'boolean' } },
      true,
    );
    if (values.help) {
      io.stdout.write(`${this.help}\n`);
      return ExitCode.ok;
    }
    const driver = values.driver;
    if (driver === undefined)
      throw new WardgateError('WG_ERR_USAGE', `--driver is required (one of ${driverNames.join(', ')})`);
    if (!(driverNames as readonly string[]).includes(driver))
      throw new WardgateError('WG_ERR_USAGE', `--driver: expected one of ${driverNames.join(', ')}, got '${driver}'`);
    const clock = values['device-clock'] ?? 'local';
    if (!(clocks as readonly string[]).includes(clock))
      throw new WardgateError('WG_ERR_USAGE', `--device-clock: expected local, utc or ignore, got '${clock}'`);
    if (positionals.length !== 1) throw new WardgateError('WG_ERR_USAGE', 'expected one capture FILE');
    let capture: Buffer;
    try {
      capture = readFileSync(positionals[0]);
    } catch (err) {
      throw new WardgateError(
        'WG_ERR_USAGE',
        `cannot read ${positionals[0]}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      );
    }
    const name = driver as SerialDriverName;
    const report = await checkSerial(capture, name, {
      deviceClock: clock as (typeof clocks)[number],
      maxLineBytes: 1024,
      now: Date.now(),
      maxFutureMs: 300_000,
    });
    const lost = report.faults.junk + report.faults.overlong + report.faults.partial;
    const refused = report.records.filter((r) => r.outcome === 'refuse').length;
    if (values.json) io.stdout.write(`${JSON.stringify(report)}\n`);
    else {
      const unit = serialDrivers[name].framer ? 'record' : 'line';
      for (const record of report.records) io.stdout.write(`${describe(record, unit)}\n`);
      const { junk, overlong, partial } = report.faults;
      io.stdout.write(
        `${report.records.length} ${unit}s read, ${refused} refused; framing lost ${junk} junk bytes, ${overlong} over-long lines, ${partial} cut ${unit}s\n`,
      );
    }
    return refused || lost ? ExitCode.failure : ExitCode.ok;
  },
};
