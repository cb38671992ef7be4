// The deployment as data: every gcloud command, in order, with why it is
// there. `wardgate cloud deploy --dry-run` prints them; without --dry-run they
// run one by one. Nothing here handles a secret value: the operator adds the
// secrets' versions (or names the files gcloud reads them from), and the
// functions read them as files mounted from Secret Manager, again while they
// run, so a new gateway or a rotated secret needs no redeploy (docs/DEPLOY.md).
import indexesFile from './firestore.indexes.json' with { type: 'json' };
import ttlFile from './firestore.ttl.json' with { type: 'json' };
import fieldsFile from './firestore.fields.json' with { type: 'json' };

/**
 * Who may call the HTTP functions, besides their own HMAC or bearer-token check:
 * - public: anyone (`--allow-unauthenticated`, an allUsers invoker binding);
 * - no-invoker-check: anyone, without an allUsers binding, for organisations
 *   with Domain Restricted Sharing (`gcloud run services update --no-invoker-iam-check`);
 * - private: only principals with roles/run.invoker presenting a Google ID token.
 */
export type Access = 'public' | 'no-invoker-check' | 'private';

export interface DeployOptions {
  readonly project: string;
  readonly region: string;
  /** Directory holding the built bundle (package.json + cloud/ + shared/). */
  readonly source: string;
  readonly batchesTopic: string;
  readonly alertsTopic: string;
  readonly retentionDays: number;
  readonly analysisShards: number;
  readonly logLevel: string;
  readonly access: Access;
  /** private: principals (user:, group:, serviceAccount:) that may call wardApi. */
  readonly apiInvokers: readonly string[];
  readonly maxInstances: number;
  /** Files that gcloud reads the first (or a new) version of each secret from; absent: the operator adds versions. */
  readonly gatewaysFile?: string;
  readonly apiTokensFile?: string;
}

export interface Step {
  readonly why: string;
  readonly argv: readonly string[];
  /** Re-running the script must not fail on what an earlier run created. */
  readonly okIfExists?: boolean;
  /**
   * A check: the command must print something. If it prints nothing, the
   * deploy stops after the checks next to it, before changing anything
   * else, and prints this guidance.
   */
  readonly guide?: string;
}

export const RUNTIME = 'nodejs22';
export const SECRETS = { gateways: 'wardgate-gateways', apiTokens: 'wardgate-api-tokens' } as const;
/** Where a secret is mounted: one directory per secret (a mount shadows its whole directory). */
export const secretPath = (secret: string) => `/etc/secrets/${secret}/${secret}.json`;
/** A gen2 function runs as the Cloud Run service of the same name in lower case. */
export const serviceOf = (fn: string) => fn.toLowerCase();

export interface FunctionSpec {
  readonly name: string;
  readonly account: string;
  /** Environment variable naming the mounted file -> the secret mounted there. */
  readonly secrets: Readonly<Record<string, string>>;
  readonly memory: string;
  /** gateways (HMAC, optionally an ID token), front-ends (bearer token), or the batches topic. */
  readonly caller: 'edge' | 'frontend' | 'pubsub';
  /**
   * Whole vCPUs and requests served at once by one instance, for functions
   * that queue a gateway's record transactions in the instance (storeRecord.ts):
   * below one vCPU Cloud Run serves one request at a time, so a draining
   * gateway's batches would each start an instance of their own and contend
   * in Firestore instead of queueing.
   */
  readonly instance?: { readonly cpu: number; readonly concurrency: number };
}

/**
 * One vCPU, up to 16 requests at once: a gateway sends at most 16 batches at
 * once (cloud.concurrency), so one instance can hold a whole gateway's
 * drain in its queue; more gateways spread over more instances.
 */
export const QUEUEING = { cpu: 1, concurrency: 16 } as const;

/** The functions. Consumers of the batches topic are deployed first: a topic drops what is published before it has a subscription. */
export const FUNCTIONS: readonly FunctionSpec[] = [
  { name: 'analyzeReadings', account: 'wardgate-analysis', secrets: {}, memory: '512Mi', caller: 'pubsub' },
  {
    name: 'ingestBatch',
    account: 'wardgate-ingest',
    secrets: { WARDGATE_GATEWAYS_FILE: SECRETS.gateways },
    memory: '512Mi',
    caller: 'edge',
    instance: QUEUEING,
  },
  {
    name: 'edgeConfig',
    account: 'wardgate-ingest',
    secrets: { WARDGATE_GATEWAYS_FILE: SECRETS.gateways },
    memory: '256Mi',
    caller: 'edge',
  },
  {
    name: 'wardApi',
    account: 'wardgate-api',
    secrets: { WARDGATE_API_TOKENS_FILE: SECRETS.apiTokens },
    memory: '256Mi',
    caller: 'frontend',
  },
  // The edge's reconciliation (docs/SYNC.md): reads segments and corrects the record of stored numbers, so the ingest identity.
  {
    name: 'verifyRange',
    account: 'wardgate-ingest',
    secrets: { WARDGATE_GATEWAYS_FILE: SECRETS.gateways },
    memory: '512Mi',
    caller: 'edge',
    instance: QUEUEING,
  },
];

const ACCOUNTS: Readonly<Record<string, string>> = {
  'wardgate-ingest': 'ingestBatch and edgeConfig: Firestore read/write, publish batches, read gateway secrets',
  'wardgate-analysis': 'analyzeReadings: Firestore read/write, publish alerts',
  'wardgate-api': 'wardApi: Firestore read only, read API token hashes',
  'wardgate-trigger': 'Eventarc trigger identity: may invoke analyzeReadings only',
  'wardgate-build': "Cloud Build identity for the functions' builds: logs, images, sources",
  'wardgate-edge': "the gateways' identity in private access: may invoke ingestBatch and edgeConfig only",
};

const SECRET_FORMAT: Readonly<Record<string, string>> = {
  [SECRETS.gateways]: '{"gw-3b": {"ward": "3B", "secret": "<32+ random characters>"}}',
  [SECRETS.apiTokens]: '[{"name": "station-3b", "sha256": "<sha256 hex of the token>", "wards": ["3B"]}]',
};

export function deployPlan(o: DeployOptions): Step[] {
  const p = `--project=${o.project}`;
  const r = `--region=${o.region}`;
  const sa = (name: string) => `${name}@${o.project}.iam.gserviceaccount.com`;
  const member = (name: string) => `--member=serviceAccount:${sa(name)}`;
  const steps: Step[] = [
    {
      why: 'APIs the functions and this script use',
      argv: [
        'gcloud',
        'services',
        'enable',
        'cloudfunctions.googleapis.com',
        'run.googleapis.com',
        'cloudbuild.googleapis.com',
        'artifactregistry.googleapis.com',
        'eventarc.googleapis.com',
        'pubsub.googleapis.com',
        'firestore.googleapis.com',
        'secretmanager.googleapis.com',
        'iam.googleapis.com',
        p,
      ],
    },
  ];

  // Secrets first, and their versions checked, so that a first run without them stops here with instructions,
  // before anything else is created, rather than at the first function deploy.
  const files: Record<string, string | undefined> = {
    [SECRETS.gateways]: o.gatewaysFile,
    [SECRETS.apiTokens]: o.apiTokensFile,
  };
  for (const secret of Object.values(SECRETS)) {
    steps.push({
      why: `secret ${secret}, empty (its value is the operator's: docs/DEPLOY.md)`,
      argv: ['gcloud', 'secrets', 'create', secret, '--replication-policy=automatic', p],
      okIfExists: true,
    });
  }
  for (const [secret, file] of Object.entries(files)) {
    if (file)
      steps.push({
        why: `a new version of ${secret}, read by gcloud from ${file}`,
        argv: ['gcloud', 'secrets', 'versions', 'add', secret, `--data-file=${file}`, p],
      });
  }
  for (const secret of Object.values(SECRETS)) {
    steps.push({
      why: `check: ${secret} has an enabled version (the functions mount its latest)`,
      argv: [
        'gcloud',
        'secrets',
        'versions',
        'list',
        secret,
        '--filter=state:ENABLED',
        '--limit=1',
        '--format=value(name)',
        p,
      ],
      guide: `The secret ${secret} has no value yet. Write it to a file, as JSON like\n  ${SECRET_FORMAT[secret]}\nthen add it and run this deploy again (what ran so far is safe to run again):\n  gcloud secrets versions add ${secret} --data-file=FILE --project=${o.project}\n(or pass the file: --${secret === SECRETS.gateways ? 'gateways' : 'api-tokens'}-file FILE)`,
    });
  }

  steps.push({
    why: "Firestore in native mode, in the functions' region",
    argv: ['gcloud', 'firestore', 'databases', 'create', `--location=${o.region}`, '--type=firestore-native', p],
    okIfExists: true,
  });
  const accounts = Object.entries(ACCOUNTS).filter(([a]) => a !== 'wardgate-edge' || o.access === 'private');
  for (const [name, display] of accounts) {
    steps.push({
      why: `service account: ${display}`,
      argv: ['gcloud', 'iam', 'service-accounts', 'create', name, `--display-name=${display}`, p],
      okIfExists: true,
    });
  }
  // Firestore roles are project-wide (Firestore has no per-collection IAM); the writers get datastore.user, the API only
  // datastore.viewer. The build account gets what a function build needs, since new projects' default build account may not.
  const projectRoles: Array<[string, string]> = [
    ['wardgate-ingest', 'roles/datastore.user'],
    ['wardgate-analysis', 'roles/datastore.user'],
    ['wardgate-api', 'roles/datastore.viewer'],
    ['wardgate-trigger', 'roles/eventarc.eventReceiver'],
    ['wardgate-build', 'roles/logging.logWriter'],
    ['wardgate-build', 'roles/artifactregistry.writer'],
    ['wardgate-build', 'roles/storage.objectAdmin'],
  ];
  for (const [name, role] of projectRoles) {
    steps.push({
      why: `${name}: ${role}`,
      argv: [
        'gcloud',
        'projects',
        'add-iam-policy-binding',
        o.project,
        member(name),
        `--role=${role}`,
        '--condition=None',
      ],
    });
  }
  for (const topic of [o.batchesTopic, o.alertsTopic]) {
    steps.push({ why: `topic ${topic}`, argv: ['gcloud', 'pubsub', 'topics', 'create', topic, p], okIfExists: true });
  }
  // Publisher rights on one topic each, not project-wide.
  steps.push({
    why: 'ingest may publish batches only',
    argv: [
      'gcloud',
      'pubsub',
      'topics',
      'add-iam-policy-binding',
      o.batchesTopic,
      member('wardgate-ingest'),
      '--role=roles/pubsub.publisher',
      p,
    ],
  });
  steps.push({
    why: 'analysis may publish alerts only',
    argv: [
      'gcloud',
      'pubsub',
      'topics',
      'add-iam-policy-binding',
      o.alertsTopic,
      member('wardgate-analysis'),
      '--role=roles/pubsub.publisher',
      p,
    ],
  });
  steps.push({
    why: 'ingest reads gateway secrets',
    argv: [
      'gcloud',
      'secrets',
      'add-iam-policy-binding',
      SECRETS.gateways,
      member('wardgate-ingest'),
      '--role=roles/secretmanager.secretAccessor',
      p,
    ],
  });
  steps.push({
    why: 'the API reads token hashes',
    argv: [
      'gcloud',
      'secrets',
      'add-iam-policy-binding',
      SECRETS.apiTokens,
      member('wardgate-api'),
      '--role=roles/secretmanager.secretAccessor',
      p,
    ],
  });
  steps.push(...firestoreSteps(p));

  const env = [
    `WARDGATE_PROJECT=${o.project}`,
    `WARDGATE_BATCHES_TOPIC=${o.batchesTopic}`,
    `WARDGATE_ALERTS_TOPIC=${o.alertsTopic}`,
    `WARDGATE_RETENTION_DAYS=${o.retentionDays}`,
    `WARDGATE_ANALYSIS_SHARDS=${o.analysisShards}`,
    `WARDGATE_LOG_LEVEL=${o.logLevel}`,
  ];
  const ordered = [
    ...FUNCTIONS.filter((f) => f.caller === 'pubsub'),
    ...FUNCTIONS.filter((f) => f.caller !== 'pubsub'),
  ];
  for (const f of ordered) {
    const trigger =
      f.caller === 'pubsub'
        ? // --retry: a failed analysis is redelivered by Pub/Sub; the function is idempotent.
          [`--trigger-topic=${o.batchesTopic}`, `--trigger-service-account=${sa('wardgate-trigger')}`, '--retry']
        : ['--trigger-http', o.access === 'public' ? '--allow-unauthenticated' : '--no-allow-unauthenticated'];
    const mounts = Object.entries(f.secrets);
    const fnEnv = [
      ...env,
      ...mounts.map(([name, secret]) => `${name}=${secretPath(secret)}`),
      ...(mounts.length ? ['WARDGATE_SECRETS_MOUNTED=true'] : []),
    ];
    steps.push({
      why: `function ${f.name}${mounts.length ? `, with ${mounts.map(([, s]) => s).join(', ')} mounted as a file (read again while it runs)` : ''}`,
      argv: [
        'gcloud',
        'functions',
        'deploy',
        f.name,
        '--gen2',
        `--runtime=${RUNTIME}`,
        r,
        `--source=${o.source}`,
        `--entry-point=${f.name}`,
        ...trigger,
        `--service-account=${sa(f.account)}`,
        `--build-service-account=projects/${o.project}/serviceAccounts/${sa('wardgate-build')}`,
        `--set-env-vars=${fnEnv.join(',')}`,
        ...(mounts.length
          ? [`--set-secrets=${mounts.map(([, secret]) => `${secretPath(secret)}=${secret}:latest`).join(',')}`]
          : []),
        `--memory=${f.memory}`,
        ...(f.instance ? [`--cpu=${f.instance.cpu}`, `--concurrency=${f.instance.concurrency}`] : []),
        '--timeout=60s',
        `--max-instances=${o.maxInstances}`,
        p,
      ],
    });
    steps.push(...accessSteps(f, o, sa, p, r));
  }
  return steps;
}

/** What follows a function's deploy: who may invoke it. The trigger's binding comes before any producer is deployed. */
function accessSteps(f: FunctionSpec, o: DeployOptions, sa: (n: string) => string, p: string, r: string): Step[] {
  const invoker = (principal: string, why: string): Step => ({
    why,
    argv: ['gcloud', 'functions', 'add-invoker-policy-binding', f.name, r, `--member=${principal}`, p],
  });
  if (f.caller === 'pubsub')
    return [
      invoker(
        `serviceAccount:${sa('wardgate-trigger')}`,
        `the trigger identity may invoke ${f.name}, before anything publishes to ${o.batchesTopic}`,
      ),
    ];
  if (o.access === 'public') return [];
  const service = ['gcloud', 'run', 'services', 'update', serviceOf(f.name), r];
  if (o.access === 'no-invoker-check') {
    return [
      {
        why: `${f.name} open to all without an allUsers binding (Domain Restricted Sharing allows this)`,
        argv: [...service, '--no-invoker-iam-check', p],
      },
    ];
  }
  if (f.caller === 'edge') {
    return [
      invoker(`serviceAccount:${sa('wardgate-edge')}`, `the gateways' identity may invoke ${f.name}`),
      // One ID token for both edge functions: the edge's idToken.audience is the functions' base URL.
      {
        why: `${f.name} accepts ID tokens for the functions' base URL (the edge's idToken.audience)`,
        argv: [...service, `--add-custom-audiences=https://${o.region}-${o.project}.cloudfunctions.net`, p],
      },
    ];
  }
  return o.apiInvokers.map((m) => invoker(m, `${m} may invoke ${f.name}`));
}

/** Firestore indexes, index exemptions and TTL policies, from the files beside this one. */
function firestoreSteps(p: string): Step[] {
  const steps: Step[] = [];
  for (const index of indexesFile.indexes) {
    const fields = index.fields.map(
      (f) =>
        `--field-config=field-path=${f.fieldPath},${'arrayConfig' in f ? 'array-config=contains' : `order=${String(f.order).toLowerCase()}`}`,
    );
    steps.push({
      why: `index: ${index.why}`,
      argv: [
        'gcloud',
        'firestore',
        'indexes',
        'composite',
        'create',
        `--collection-group=${index.collectionGroup}`,
        `--query-scope=${index.queryScope.toLowerCase()}`,
        ...fields,
        '--async',
        p,
      ],
      okIfExists: true,
    });
  }
  for (const e of fieldsFile.exemptions) {
    steps.push({
      why: `no single-field indexes on ${e.collectionGroup}.${e.field} (read whole, never queried)`,
      argv: [
        'gcloud',
        'firestore',
        'indexes',
        'fields',
        'update',
        e.field,
        `--collection-group=${e.collectionGroup}`,
        '--disable-indexes',
        '--async',
        p,
      ],
    });
  }
  for (const group of ttlFile.collectionGroups) {
    steps.push({
      why: `TTL: ${group} expire at ${ttlFile.field}`,
      argv: [
        'gcloud',
        'firestore',
        'fields',
        'ttls',
        'update',
        ttlFile.field,
        `--collection-group=${group}`,
        '--enable-ttl',
        '--async',
        p,
      ],
    });
  }
  return steps;
}

/** POSIX shell quoting, for printing commands that can be pasted. */
export function shellQuote(arg: string): string {
  return /^[A-Za-z0-9_./:=@,+-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

export const formatStep = (s: Step) => `# ${s.why}\n${s.argv.map(shellQuote).join(' ')}`;
