// `wardgate cloud`: every cloud function locally against the emulators, until
// Ctrl-C or SIGTERM; `wardgate cloud deploy`: the gcloud deployment (or, with
// --dry-run, the commands it would run).
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ExitCode, parseCommandArgs, type Command, type CommandIO } from '../../shared/cli.js';
import { WardgateError } from '../../shared/errors.js';
import { isPlainObject } from '../../shared/observation.js';
import { runPlan, stageBundle } from '../deploy/deploy.js';
import type { Access } from '../deploy/plan.js';
import { requireEmulators, startLocalCloud } from '../local/localCloud.js';
import { createCloudLogger } from '../log.js';
import {
  defaults,
  parseGateways,
  readSecretFile,
  settingsFromEnv,
  sha256Hex,
  type ApiToken,
  type GatewayEntry,
} from '../settings.js';

const DEFAULT_PORT = 8090;
const ACCESS: readonly string[] = ['public', 'no-invoker-check', 'private'] satisfies Access[];
const LOG_LEVELS: readonly string[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

const help = `Usage: wardgate cloud [options]
       wardgate cloud deploy --project ID --region REGION [--dry-run] [options]

Runs ingestBatch, analyzeReadings, wardApi and edgeConfig on one loopback port
(http://127.0.0.1:PORT/<function>) against the Firestore and Pub/Sub emulators
named by FIRESTORE_EMULATOR_HOST and PUBSUB_EMULATOR_HOST, creating the topics
and a push subscription to the local analyzeReadings. Stops on Ctrl-C or SIGTERM.

Options:
  -p, --port N            port to listen on (default ${DEFAULT_PORT}; 0 picks a free one)
      --project ID        emulator project id (default: GOOGLE_CLOUD_PROJECT or ${defaults.projectId})
      --gateway ID:WARD   accept this gateway for this ward, with the secret in
                          WARDGATE_CLOUD_SECRET (repeatable)
      --gateways FILE     gateways as JSON {"id": {"ward", "secret"}} (file mode 0600);
                          or WARDGATE_GATEWAYS / WARDGATE_GATEWAYS_FILE
      --edge-config FILE  JSON {"<gateway id>": {...overrides}} to serve to gateways' config pull
  API tokens: WARDGATE_API_TOKEN (one token for all wards) or WARDGATE_API_TOKENS(_FILE).

Deploy options:
      --project ID  --region REGION   required
      --dry-run           print the gcloud commands, run nothing
      --access MODE       who may call the HTTP functions before their own checks:
                          public (default), no-invoker-check (public without an
                          allUsers binding: Domain Restricted Sharing), or private
                          (IAM only: Google ID tokens); --require-iam = private
      --api-invoker P     private: a principal that may call wardApi (repeatable)
      --gateways-file F   add F as a new version of the wardgate-gateways secret
      --api-tokens-file F add F as a new version of the wardgate-api-tokens secret
      --max-instances N   per function (default 20)
      --retention-days N  raw and hourly data kept (default ${defaults.retentionDays})
      --analysis-shards N hour documents per ward-hour (default ${defaults.analysisShards})
      --log-level L       functions' log level (default ${defaults.logLevel})`;

export const cloudCommand: Command = {
  name: 'cloud',
  summary: 'run the cloud functions locally against the emulators, or deploy them',
  help,
  async run(io: CommandIO): Promise<number> {
    if (io.argv[0] === 'deploy') return deploy(io, io.argv.slice(1));
    const { values } = parseCommandArgs(io.argv, {
      port: { type: 'string', short: 'p' },
      project: { type: 'string' },
      gateway: { type: 'string', multiple: true },
      gateways: { type: 'string' },
      'edge-config': { type: 'string' },
    });
    if (values.help) {
      io.stdout.write(`${help}\n`);
      return ExitCode.ok;
    }
    const port = values.port === undefined ? DEFAULT_PORT : Number(values.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535)
      throw new WardgateError('WG_ERR_USAGE', 'expected a port from 0 to 65535', '--port');
    const env = io.env;
    requireEmulators(env);
    const gateways = new Map<string, GatewayEntry>(
      values.gateways ? parseGateways(readSecretFile(values.gateways, '--gateways'), '--gateways') : [],
    );
    for (const spec of values.gateway ?? []) {
      const [id, ward] = spec.split(':');
      if (!id || !ward) throw new WardgateError('WG_ERR_USAGE', 'expected ID:WARD', '--gateway');
      const secret = env.WARDGATE_CLOUD_SECRET;
      if (!secret || secret.length < 32)
        throw new WardgateError(
          'WG_ERR_CONFIG',
          'must hold the gateway secret (32+ characters) for --gateway',
          'WARDGATE_CLOUD_SECRET',
        );
      gateways.set(id, { ward, secret });
    }
    const base = settingsFromEnv(env, { ...(values.project !== undefined && { projectId: values.project }) });
    const apiTokens: ApiToken[] = [...base.apiTokens];
    if (env.WARDGATE_API_TOKEN)
      apiTokens.push({ name: 'WARDGATE_API_TOKEN', sha256: sha256Hex(env.WARDGATE_API_TOKEN), wards: ['*'] });
    const settings = { ...base, gateways: new Map([...base.gateways, ...gateways]), apiTokens };
    if (settings.gateways.size === 0)
      io.stderr.write('wardgate cloud: no gateways configured; ingestBatch will refuse every batch (see --gateway)\n');

    const cloud = await startLocalCloud({
      settings,
      port,
      env,
      log: createCloudLogger(settings.logLevel),
      ...(values['edge-config'] !== undefined && { edgeConfigs: readEdgeConfigs(values['edge-config']) }),
    });
    io.stdout.write(
      `wardgate cloud: functions at ${cloud.url}/{ingestBatch,analyzeReadings,wardApi,edgeConfig}; Ctrl-C stops\n`,
    );
    await new Promise<void>((resolve) => {
      const stop = () => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        resolve();
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    await cloud.stop();
    io.stdout.write('wardgate cloud: stopped\n');
    return ExitCode.ok;
  },
};

function readEdgeConfigs(file: string): Record<string, Record<string, unknown>> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new WardgateError('WG_ERR_CONFIG', `not readable JSON (${(err as Error).message})`, '--edge-config');
  }
  if (!isPlainObject(parsed) || !Object.values(parsed).every(isPlainObject)) {
    throw new WardgateError('WG_ERR_CONFIG', 'expected {"<gateway id>": {...overrides}}', '--edge-config');
  }
  return parsed as Record<string, Record<string, unknown>>;
}

async function deploy(io: CommandIO, argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(argv, {
    project: { type: 'string' },
    region: { type: 'string' },
    'dry-run': { type: 'boolean' },
    'require-iam': { type: 'boolean' },
    access: { type: 'string' },
    'api-invoker': { type: 'string', multiple: true },
    'gateways-file': { type: 'string' },
    'api-tokens-file': { type: 'string' },
    'max-instances': { type: 'string' },
    'retention-days': { type: 'string' },
    'analysis-shards': { type: 'string' },
    'log-level': { type: 'string' },
  });
  if (values.help) {
    io.stdout.write(`${help}\n`);
    return ExitCode.ok;
  }
  if (!values.project || !/^[a-z][a-z0-9-]{4,28}[a-z0-9]$/.test(values.project))
    throw new WardgateError('WG_ERR_USAGE', 'expected a GCP project id', '--project');
  if (!values.region || !/^[a-z]+-[a-z]+\d$/.test(values.region))
    throw new WardgateError('WG_ERR_USAGE', 'expected a region such as europe-west1', '--region');
  const count = (raw: string | undefined, fallback: number, name: string) => {
    const n = raw === undefined ? fallback : Number(raw);
    if (!Number.isSafeInteger(n) || n < 1)
      throw new WardgateError('WG_ERR_USAGE', 'expected a whole number >= 1', name);
    return n;
  };
  const access = (values.access ?? (values['require-iam'] === true ? 'private' : 'public')) as Access;
  if (!ACCESS.includes(access) || (values['require-iam'] === true && access !== 'private')) {
    throw new WardgateError(
      'WG_ERR_USAGE',
      `expected one of ${ACCESS.join(', ')} (--require-iam means private)`,
      '--access',
    );
  }
  const apiInvokers = values['api-invoker'] ?? [];
  if (apiInvokers.some((m) => !/^(user|group|serviceAccount|domain|principal|principalSet):\S+$/.test(m))) {
    throw new WardgateError(
      'WG_ERR_USAGE',
      'expected a principal such as serviceAccount:NAME@PROJECT.iam.gserviceaccount.com or group:EMAIL',
      '--api-invoker',
    );
  }
  if (apiInvokers.length > 0 && access !== 'private')
    throw new WardgateError(
      'WG_ERR_USAGE',
      'only with --access private (otherwise anyone may call wardApi)',
      '--api-invoker',
    );
  if (values['log-level'] !== undefined && !LOG_LEVELS.includes(values['log-level'])) {
    throw new WardgateError('WG_ERR_USAGE', `expected one of ${LOG_LEVELS.join(', ')}`, '--log-level');
  }
  const dryRun = values['dry-run'] === true;
  // Built, this file is dist/cloud/cli/cloudCommand.js: two levels up is dist/.
  const here = fileURLToPath(new URL('../../', import.meta.url));
  const dist = /[\\/]dist[\\/]$/.test(here) ? here : join(here, 'dist');
  const source = dryRun ? '<staged bundle>' : mkdtempSync(join(tmpdir(), 'wardgate-deploy-'));
  if (!dryRun) stageBundle(dist, join(dist, '..', 'package.json'), source);
  return runPlan(
    {
      project: values.project,
      region: values.region,
      source,
      batchesTopic: defaults.batchesTopic,
      alertsTopic: defaults.alertsTopic,
      retentionDays: count(values['retention-days'], defaults.retentionDays, '--retention-days'),
      analysisShards: count(values['analysis-shards'], defaults.analysisShards, '--analysis-shards'),
      logLevel: values['log-level'] ?? defaults.logLevel,
      access,
      apiInvokers,
      maxInstances: count(values['max-instances'], 20, '--max-instances'),
      ...(values['gateways-file'] !== undefined && { gatewaysFile: values['gateways-file'] }),
      ...(values['api-tokens-file'] !== undefined && { apiTokensFile: values['api-tokens-file'] }),
    },
    dryRun,
    io,
  );
}
