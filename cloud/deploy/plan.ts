// The deployment as data: every gcloud command, in order, with why it is
// there. `wardgate cloud deploy --dry-run` prints them; without --dry-run they
// run one by one. Nothing here handles a secret value: secrets are created
// empty and filled by the operator (docs/DEPLOY.md), then mounted as env vars.
import indexesFile from './firestore.indexes.json' with { type: 'json' };
import ttlFile from './firestore.ttl.json' with { type: 'json' };
import fieldsFile from './firestore.fields.json' with { type: 'json' };

export interface DeployOptions {
  readonly project: string;
  readonly region: string;
  /** Directory holding the built bundle (package.json + cloud/ + shared/). */
  readonly source: string;
  readonly batchesTopic: string;
  readonly alertsTopic: string;
  readonly retentionDays: number;
  /** Require a Google ID token (roles/run.invoker) in front of the HMAC/token checks. */
  readonly requireIam: boolean;
  readonly maxInstances: number;
}

export interface Step {
  readonly why: string;
  readonly argv: readonly string[];
  /** Re-running the script must not fail on what an earlier run created. */
  readonly okIfExists?: boolean;
}

export const RUNTIME = 'nodejs22';
export const SECRETS = { gateways: 'wardgate-gateways', apiTokens: 'wardgate-api-tokens' } as const;

interface FunctionSpec {
  name: 'ingestBatch' | 'analyzeReadings' | 'wardApi' | 'edgeConfig';
  account: string;
  secrets: Record<string, string>;
  memory: string;
}

export function deployPlan(o: DeployOptions): Step[] {
  const p = `--project=${o.project}`;
  const sa = (name: string) => `${name}@${o.project}.iam.gserviceaccount.com`;
  const member = (name: string) => `--member=serviceAccount:${sa(name)}`;
  const accounts = {
    'wardgate-ingest': 'ingestBatch and edgeConfig: Firestore read/write, publish batches, read gateway secrets',
    'wardgate-analysis': 'analyzeReadings: Firestore read/write, publish alerts',
    'wardgate-api': 'wardApi: Firestore read only, read API token hashes',
    'wardgate-trigger': 'Eventarc trigger identity: may invoke analyzeReadings only',
  };
  const steps: Step[] = [
    { why: 'APIs the functions use', argv: ['gcloud', 'services', 'enable', 'cloudfunctions.googleapis.com', 'run.googleapis.com', 'cloudbuild.googleapis.com', 'artifactregistry.googleapis.com', 'eventarc.googleapis.com', 'pubsub.googleapis.com', 'firestore.googleapis.com', 'secretmanager.googleapis.com', p] },
    { why: 'Firestore in native mode, in the functions\' region', argv: ['gcloud', 'firestore', 'databases', 'create', `--location=${o.region}`, '--type=firestore-native', p], okIfExists: true },
  ];
  for (const [name, why] of Object.entries(accounts)) {
    steps.push({ why: `service account: ${why}`, argv: ['gcloud', 'iam', 'service-accounts', 'create', name, `--display-name=${why}`, p], okIfExists: true });
  }
  // Firestore roles are project-wide (Firestore has no per-collection IAM); the writers get datastore.user, the API only datastore.viewer.
  for (const [name, role] of [['wardgate-ingest', 'roles/datastore.user'], ['wardgate-analysis', 'roles/datastore.user'], ['wardgate-api', 'roles/datastore.viewer'], ['wardgate-trigger', 'roles/eventarc.eventReceiver']]) {
    steps.push({ why: `${name}: ${role}`, argv: ['gcloud', 'projects', 'add-iam-policy-binding', o.project, member(name), `--role=${role}`, '--condition=None'] });
  }
  for (const topic of [o.batchesTopic, o.alertsTopic]) {
    steps.push({ why: `topic ${topic}`, argv: ['gcloud', 'pubsub', 'topics', 'create', topic, p], okIfExists: true });
  }
  // Publisher rights on one topic each, not project-wide.
  steps.push({ why: 'ingest may publish batches only', argv: ['gcloud', 'pubsub', 'topics', 'add-iam-policy-binding', o.batchesTopic, member('wardgate-ingest'), '--role=roles/pubsub.publisher', p] });
  steps.push({ why: 'analysis may publish alerts only', argv: ['gcloud', 'pubsub', 'topics', 'add-iam-policy-binding', o.alertsTopic, member('wardgate-analysis'), '--role=roles/pubsub.publisher', p] });
  for (const secret of Object.values(SECRETS)) {
    steps.push({ why: `secret ${secret} (the operator adds its value: docs/DEPLOY.md)`, argv: ['gcloud', 'secrets', 'create', secret, '--replication-policy=automatic', p], okIfExists: true });
  }
  steps.push({ why: 'ingest reads gateway secrets', argv: ['gcloud', 'secrets', 'add-iam-policy-binding', SECRETS.gateways, member('wardgate-ingest'), '--role=roles/secretmanager.secretAccessor', p] });
  steps.push({ why: 'the API reads token hashes', argv: ['gcloud', 'secrets', 'add-iam-policy-binding', SECRETS.apiTokens, member('wardgate-api'), '--role=roles/secretmanager.secretAccessor', p] });
  for (const index of indexesFile.indexes) {
    const fields = index.fields.map((f) => `--field-config=field-path=${f.fieldPath},${'arrayConfig' in f ? 'array-config=contains' : `order=${String(f.order).toLowerCase()}`}`);
    steps.push({ why: `index: ${index.why}`, argv: ['gcloud', 'firestore', 'indexes', 'composite', 'create', `--collection-group=${index.collectionGroup}`, `--query-scope=${index.queryScope.toLowerCase()}`, ...fields, '--async', p], okIfExists: true });
  }
  for (const e of fieldsFile.exemptions) {
    steps.push({ why: `no single-field indexes on ${e.collectionGroup}.${e.field} (read whole, never queried)`, argv: ['gcloud', 'firestore', 'indexes', 'fields', 'update', e.field, `--collection-group=${e.collectionGroup}`, '--disable-indexes', '--async', p] });
  }
  for (const group of ttlFile.collectionGroups) {
    steps.push({ why: `TTL: ${group} expire at ${ttlFile.field}`, argv: ['gcloud', 'firestore', 'fields', 'ttls', 'update', ttlFile.field, `--collection-group=${group}`, '--enable-ttl', '--async', p] });
  }
  const env = `--set-env-vars=WARDGATE_PROJECT=${o.project},WARDGATE_BATCHES_TOPIC=${o.batchesTopic},WARDGATE_ALERTS_TOPIC=${o.alertsTopic},WARDGATE_RETENTION_DAYS=${o.retentionDays}`;
  const specs: FunctionSpec[] = [
    { name: 'ingestBatch', account: 'wardgate-ingest', secrets: { WARDGATE_GATEWAYS: SECRETS.gateways }, memory: '512Mi' },
    { name: 'edgeConfig', account: 'wardgate-ingest', secrets: { WARDGATE_GATEWAYS: SECRETS.gateways }, memory: '256Mi' },
    { name: 'analyzeReadings', account: 'wardgate-analysis', secrets: {}, memory: '512Mi' },
    { name: 'wardApi', account: 'wardgate-api', secrets: { WARDGATE_API_TOKENS: SECRETS.apiTokens }, memory: '256Mi' },
  ];
  for (const f of specs) {
    const trigger = f.name === 'analyzeReadings'
      // --retry: a failed analysis is redelivered by Pub/Sub; the function is idempotent.
      ? [`--trigger-topic=${o.batchesTopic}`, `--trigger-service-account=${sa('wardgate-trigger')}`, '--retry']
      : ['--trigger-http', o.requireIam ? '--no-allow-unauthenticated' : '--allow-unauthenticated'];
    const secrets = Object.entries(f.secrets).map(([k, v]) => `${k}=${v}:latest`);
    steps.push({
      why: `function ${f.name}`,
      argv: [
        'gcloud', 'functions', 'deploy', f.name, '--gen2', `--runtime=${RUNTIME}`, `--region=${o.region}`, `--source=${o.source}`,
        `--entry-point=${f.name}`, ...trigger, `--service-account=${sa(f.account)}`, env,
        ...(secrets.length ? [`--set-secrets=${secrets.join(',')}`] : []),
        `--memory=${f.memory}`, '--timeout=60s', `--max-instances=${o.maxInstances}`, p,
      ],
    });
  }
  steps.push({ why: 'the trigger identity may invoke analyzeReadings', argv: ['gcloud', 'functions', 'add-invoker-policy-binding', 'analyzeReadings', `--region=${o.region}`, member('wardgate-trigger'), p] });
  return steps;
}

/** POSIX shell quoting, for printing commands that can be pasted. */
export function shellQuote(arg: string): string {
  return /^[A-Za-z0-9_./:=@,+-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

export const formatStep = (s: Step) => `# ${s.why}\n${s.argv.map(shellQuote).join(' ')}`;
