// `wardgate edge`: the daemon. Loads and validates the config, starts the
// gateway, and stops it cleanly on SIGTERM or SIGINT.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig, type GatewayConfig } from '../config/load.js';
import { DB_FILE, hasTable, openDatabaseReadOnly } from '../store/database.js';
import { refusalOfUnsafeDurability } from '../store/unsafeDurability.js';
import { SdNotify } from './sdNotify.js';
import { storedPulledConfig } from '../store/pulledConfigStore.js';
import { withPulledConfig } from '../sync/configPull.js';
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
    const config = withCloudOverrides(
      loadConfig({ ...(values.config !== undefined && { file: values.config }), env: io.env }),
    );
    const unsafe = refusalOfUnsafeDurability(io.env, [
      config.mqtt.host,
      config.mqtt.tls?.host,
      config.http.host,
      config.hl7?.host,
    ]);
    if (unsafe) {
      io.stderr.write(`wardgate edge: ${unsafe}\n`);
      return ExitCode.usage;
    }
    const gateway = new Gateway(config, {
      onFatal: (err) => {
        io.stderr.write(`wardgate edge: ${err.message}; exiting so that a restart recovers from what the disk holds\n`);
        process.exit(ExitCode.failure);
      },
    });
    const notify = new SdNotify(io.env, gateway.log);
    const stopped = new Promise<number>((resolve) => {
      const stop = (signal: string) => {
        gateway.log.info({ signal }, 'stopping');
        notify.stopping();
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
    notify.ready();
    return stopped;
  },
};

/** Alarm overrides pulled from the cloud (validated and audited when pulled) apply from this start on. */
function withCloudOverrides(config: GatewayConfig): GatewayConfig {
  if (!existsSync(join(config.gateway.dataDir, DB_FILE))) return config;
  const db = openDatabaseReadOnly(config.gateway.dataDir);
  try {
    return hasTable(db, 'sync_state') ? withPulledConfig(config, storedPulledConfig(db)) : config;
  } finally {
    db.close();
  }
}
