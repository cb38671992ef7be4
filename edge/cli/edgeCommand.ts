// `wardgate edge`: the daemon. Loads and validates the config, starts the
// gateway, and stops it cleanly on SIGTERM or SIGINT.
import { loadConfig } from '../config/load.js';
import { Gateway } from '../gateway.js';
import { ExitCode, parseCommandArgs, type Command, type CommandIO } from '../../shared/cli.js';

export const edgeCommand: Command = {
  name: 'edge',
  summary: 'run the gateway daemon',
  help: `Usage: wardgate edge [--config FILE]

Runs the gateway: embedded MQTT broker, durable ingest into SQLite, /healthz and
/metrics on the HTTP port. Without --config it runs on built-in defaults
(MQTT 127.0.0.1:1883, HTTP 127.0.0.1:8080, data in ./data).
SIGTERM or SIGINT stop it cleanly: no new messages are accepted, pending
commits finish, the database is closed.

Options:
  -c, --config FILE   the YAML config file`,
  async run(io: CommandIO): Promise<number> {
    const { values } = parseCommandArgs(io.argv, { config: { type: 'string', short: 'c' } });
    if (values.help) {
      io.stdout.write(`${this.help}\n`);
      return ExitCode.ok;
    }
    const config = loadConfig({ ...(values.config !== undefined && { file: values.config }), env: io.env });
    const gateway = new Gateway(config);
    const stopped = new Promise<number>((resolve) => {
      const stop = (signal: string) => {
        gateway.log.info({ signal }, 'stopping');
        gateway.stop().then(
          () => resolve(ExitCode.ok),
          () => resolve(ExitCode.failure),
        );
      };
      process.once('SIGTERM', () => stop('SIGTERM'));
      process.once('SIGINT', () => stop('SIGINT'));
    });
    try {
      await gateway.start();
    } catch (err) {
      const e = err as NodeJS.ErrnoException & { port?: number; address?: string };
      const detail = e.code === 'EADDRINUSE' ? `address ${e.address}:${e.port} is already in use` : e.message;
      gateway.log.fatal({ err }, 'start failed');
      io.stderr.write(`wardgate edge: cannot start: ${detail}\n`);
      return ExitCode.failure;
    }
    return stopped;
  },
};
