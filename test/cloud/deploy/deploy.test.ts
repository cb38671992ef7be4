// The deployment plan (commands, order, flags), the runner's first-run
// guidance, `wardgate cloud`'s usage errors, and secret files followed while
// the functions run. Never a real gcloud: the plan is printed, or run against
// a stand-in `gcloud` on PATH that records its arguments.
import t from 'tap';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { cloudCommand } from '../../../cloud/cli/cloudCommand.js';
import { runPlan } from '../../../cloud/deploy/deploy.js';
import { deployPlan, QUEUEING, shellQuote, type DeployOptions, type Step } from '../../../cloud/deploy/plan.js';
import { cloudConfigSchema } from '../../../edge/sync/config.js';
import { reloadSecrets, settingsFromEnv } from '../../../cloud/settings.js';
import { WardgateError } from '../../../shared/errors.js';
import { tempDir, waitFor } from '../../helpers/env.js';

function io(argv: string[], env: NodeJS.ProcessEnv = {}) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d: Buffer) => (out += d.toString()));
  stderr.on('data', (d: Buffer) => (err += d.toString()));
  return { io: { argv, stdout, stderr, stdin: new PassThrough(), env }, out: () => out, err: () => err };
}

const base: DeployOptions = {
  project: 'wardgate-prod',
  region: 'europe-west1',
  source: 'bundle-dir',
  batchesTopic: 'wardgate-batches',
  alertsTopic: 'wardgate-alerts',
  retentionDays: 7,
  analysisShards: 3,
  logLevel: 'warn',
  access: 'public',
  apiInvokers: [],
  maxInstances: 5,
};
const line = (s: Step) => s.argv.join(' ');
const at = (steps: Step[], test: (l: string) => boolean, what: string) => {
  const i = steps.findIndex((s) => test(line(s)));
  if (i < 0) throw new Error(`no step: ${what}`);
  return i;
};
const deployOf = (steps: Step[], fn: string) =>
  at(steps, (l) => l.startsWith(`gcloud functions deploy ${fn} `), `deploy ${fn}`);

t.test('deploy --dry-run prints every gcloud command and runs none', async (t) => {
  const run = io([
    'deploy',
    '--project',
    'wardgate-prod',
    '--region',
    'europe-west1',
    '--dry-run',
    '--analysis-shards',
    '4',
    '--log-level',
    'debug',
  ]);
  t.equal(await cloudCommand.run(run.io), 0);
  const lines = run
    .out()
    .split('\n')
    .filter((l) => l.startsWith('gcloud '));
  const deploys = lines.filter((l) => l.startsWith('gcloud functions deploy '));
  t.same(
    deploys.map((l) => l.split(' ')[3]),
    ['analyzeReadings', 'ingestBatch', 'edgeConfig', 'wardApi', 'verifyRange'],
    'the consumer of the batches topic first',
  );
  for (const d of deploys) {
    t.match(d, / --gen2 /, 'gen2');
    t.match(d, / --runtime=nodejs22 /, 'Node 22 runtime (nodejs20 is decommissioned)');
    t.match(
      d,
      / --service-account=wardgate-[a-z]+@wardgate-prod\.iam\.gserviceaccount\.com /,
      'its own service account',
    );
    t.match(
      d,
      / --build-service-account=projects\/wardgate-prod\/serviceAccounts\/wardgate-build@wardgate-prod\.iam\.gserviceaccount\.com /,
      'built by our build account',
    );
    t.match(
      d,
      /WARDGATE_ANALYSIS_SHARDS=4[, ]/,
      'shards deployed to every function (the API reads hours by shard too)',
    );
    t.match(d, /WARDGATE_LOG_LEVEL=debug[, ]/);
    t.notMatch(d, /--set-secrets=WARDGATE_/, 'no secret as an environment variable (read once per instance)');
  }
  const [analysis, ingest, , api, verify] = deploys;
  // A gateway's record transactions queue inside an instance: that takes a whole vCPU and more than one request at a time.
  for (const d of [ingest, verify])
    t.match(d, / --cpu=1 --concurrency=16 /, 'one vCPU, 16 requests at once, for the per-gateway queue');
  t.notOk(
    cloudConfigSchema.safeParse({ url: 'https://cloud.example', concurrency: QUEUEING.concurrency + 1 }).success,
    'a gateway never has more batches in flight than one instance takes',
  );
  t.match(
    ingest,
    /--set-secrets=\/etc\/secrets\/wardgate-gateways\/wardgate-gateways\.json=wardgate-gateways:latest /,
    'gateway secrets mounted as a file',
  );
  t.match(
    ingest,
    /WARDGATE_GATEWAYS_FILE=\/etc\/secrets\/wardgate-gateways\/wardgate-gateways\.json,.*WARDGATE_SECRETS_MOUNTED=true/,
  );
  t.match(
    api,
    /--set-secrets=\/etc\/secrets\/wardgate-api-tokens\/wardgate-api-tokens\.json=wardgate-api-tokens:latest /,
  );
  t.match(api, /WARDGATE_API_TOKENS_FILE=/);
  t.notMatch(analysis, /--set-secrets|SECRETS_MOUNTED/, 'the analysis gets no secret it does not need');
  t.match(analysis, /--trigger-topic=wardgate-batches .*--retry/, 'analysis triggered by the batches topic, retried');
  t.ok(
    lines.some(
      (l) => l.includes('indexes composite create --collection-group=segments') && l.includes('array-config=contains'),
    ),
    'indexes from the file',
  );
  t.equal(lines.filter((l) => l.includes('ttls update expireAt')).length, 5, 'TTL policies from the file');
  t.ok(
    lines.some((l) => l.includes('indexes fields update s --collection-group=segments --disable-indexes')),
    'segment columns exempt from indexing',
  );
  t.ok(
    lines.some((l) => l.includes('roles/datastore.viewer') && l.includes('wardgate-api@')),
    'the API may only read Firestore',
  );
  t.ok(
    lines.some(
      (l) =>
        l.startsWith('gcloud pubsub topics add-iam-policy-binding wardgate-batches') && l.includes('wardgate-ingest@'),
    ),
    'publisher on one topic',
  );
  t.notOk(
    lines.some((l) => /roles\/(owner|editor|cloudbuild\.builds\.builder)/.test(l)),
    'no broad roles',
  );
  t.match(run.out(), /# dry run: \d+ commands printed, none run/);
});

t.test('deploy plan: order on a fresh project', async (t) => {
  const steps = deployPlan(base);
  const firstChange = at(steps, (l) => l.startsWith('gcloud firestore databases create'), 'firestore');
  for (const secret of ['wardgate-gateways', 'wardgate-api-tokens']) {
    const created = at(steps, (l) => l.startsWith(`gcloud secrets create ${secret} `), `create ${secret}`);
    const check = at(steps, (l) => l.startsWith(`gcloud secrets versions list ${secret} `), `check ${secret}`);
    t.ok(
      created < check && check < firstChange,
      `${secret}: created, then its version checked, before anything else is made`,
    );
    t.match(
      steps[check].guide ?? '',
      new RegExp(`gcloud secrets versions add ${secret} --data-file=FILE`),
      'the check tells the operator what to do',
    );
    t.ok(
      steps.slice(0, firstChange).every((s) => !line(s).includes('service-accounts create')),
      'no service account before the checks',
    );
  }
  const analysis = deployOf(steps, 'analyzeReadings');
  const trigger = at(
    steps,
    (l) =>
      l.startsWith('gcloud functions add-invoker-policy-binding analyzeReadings') && l.includes('wardgate-trigger@'),
    'trigger invoker',
  );
  const ingest = deployOf(steps, 'ingestBatch');
  t.ok(
    analysis < trigger && trigger < ingest,
    'the trigger may invoke the analysis before anything can publish batches',
  );
  const receiver = at(
    steps,
    (l) => l.includes('roles/eventarc.eventReceiver') && l.includes('wardgate-trigger@'),
    'event receiver',
  );
  t.ok(receiver < analysis, 'the trigger identity receives events before its trigger exists');
  for (const role of ['roles/logging.logWriter', 'roles/artifactregistry.writer', 'roles/storage.objectAdmin']) {
    t.ok(
      at(steps, (l) => l.includes(role) && l.includes('wardgate-build@'), role) < analysis,
      `the build account has ${role} before the first build`,
    );
  }
  for (const account of [
    'wardgate-ingest',
    'wardgate-analysis',
    'wardgate-api',
    'wardgate-trigger',
    'wardgate-build',
  ]) {
    t.ok(
      at(steps, (l) => l.startsWith(`gcloud iam service-accounts create ${account} `), account) < analysis,
      `${account} exists before the first deploy`,
    );
  }
  t.ok(
    at(
      steps,
      (l) => l.startsWith('gcloud secrets add-iam-policy-binding wardgate-gateways') && l.includes('wardgate-ingest@'),
      'accessor',
    ) < ingest,
    'ingest may read its secret before it is deployed',
  );
  t.ok(
    at(steps, (l) => l.startsWith('gcloud pubsub topics create wardgate-batches'), 'topic') < analysis,
    'the topic exists before its trigger',
  );
});

t.test('deploy plan: access modes', async (t) => {
  const http = (steps: Step[]) => steps.filter((s) => s.argv.includes('--trigger-http'));
  const pub = deployPlan(base);
  t.ok(
    http(pub).every((s) => s.argv.includes('--allow-unauthenticated')),
    'public: an allUsers invoker binding with each deploy',
  );
  t.notOk(
    pub.some((s) => line(s).startsWith('gcloud run services update')),
    'public: nothing more',
  );
  t.notOk(
    pub.some((s) => line(s).includes('wardgate-edge')),
    'public: no gateway identity',
  );

  const drs = deployPlan({ ...base, access: 'no-invoker-check' });
  t.ok(
    http(drs).every((s) => s.argv.includes('--no-allow-unauthenticated')),
    'no-invoker-check: no allUsers binding (Domain Restricted Sharing refuses it)',
  );
  for (const [fn, service] of [
    ['ingestBatch', 'ingestbatch'],
    ['edgeConfig', 'edgeconfig'],
    ['wardApi', 'wardapi'],
  ]) {
    const update = at(
      drs,
      (l) =>
        l ===
        `gcloud run services update ${service} --region=europe-west1 --no-invoker-iam-check --project=wardgate-prod`,
      `${fn} check off`,
    );
    t.ok(update > deployOf(drs, fn), `${fn}: invoker check turned off on its service, after its deploy`);
  }
  t.notOk(drs.some((s) => line(s).includes('allUsers')));

  const priv = deployPlan({ ...base, access: 'private', apiInvokers: ['group:ward-displays@hospital.example'] });
  t.ok(
    http(priv).every((s) => s.argv.includes('--no-allow-unauthenticated')),
    'private: IAM only',
  );
  t.notOk(priv.some((s) => line(s).includes('--no-invoker-iam-check') || line(s).includes('allUsers')));
  const edgeAccount = at(
    priv,
    (l) => l.startsWith('gcloud iam service-accounts create wardgate-edge '),
    'edge account',
  );
  for (const fn of ['ingestBatch', 'edgeConfig']) {
    const binding = at(
      priv,
      (l) =>
        l.startsWith(`gcloud functions add-invoker-policy-binding ${fn} `) &&
        l.includes('--member=serviceAccount:wardgate-edge@wardgate-prod.iam.gserviceaccount.com'),
      `${fn} edge invoker`,
    );
    t.ok(edgeAccount < binding && binding > deployOf(priv, fn), `${fn}: the gateways' identity may invoke it`);
    t.ok(
      priv.some(
        (s) =>
          line(s) ===
          `gcloud run services update ${fn.toLowerCase()} --region=europe-west1 --add-custom-audiences=https://europe-west1-wardgate-prod.cloudfunctions.net --project=wardgate-prod`,
      ),
      `${fn}: one audience for the edge's ID token`,
    );
  }
  t.ok(
    priv.some(
      (s) =>
        line(s).startsWith('gcloud functions add-invoker-policy-binding wardApi ') &&
        line(s).includes('--member=group:ward-displays@hospital.example'),
    ),
    'the named front-ends may call wardApi',
  );
  t.notOk(
    priv.some(
      (s) =>
        line(s).startsWith('gcloud functions add-invoker-policy-binding wardApi ') && line(s).includes('wardgate-edge'),
    ),
    'the gateways may not read the API',
  );
  t.ok(
    priv.every((s) => !line(s).includes('WARDGATE_RETENTION_DAYS') || line(s).includes('WARDGATE_RETENTION_DAYS=7')),
  );
});

t.test('deploy plan: secret files given add versions before the check', async (t) => {
  const steps = deployPlan({ ...base, gatewaysFile: '/secure/gateways.json' });
  const add = at(
    steps,
    (l) =>
      l === 'gcloud secrets versions add wardgate-gateways --data-file=/secure/gateways.json --project=wardgate-prod',
    'versions add',
  );
  t.ok(
    add < at(steps, (l) => l.startsWith('gcloud secrets versions list wardgate-gateways'), 'check'),
    'added, then checked',
  );
  t.notOk(
    steps.some((s) => line(s).startsWith('gcloud secrets versions add wardgate-api-tokens')),
    'only the file given',
  );
  t.equal(shellQuote("it's"), `'it'\\''s'`);
  t.equal(shellQuote('--flag=a,b'), '--flag=a,b');
});

/** A stand-in `gcloud` that records each call; `secrets versions list` finds a version only for the secrets named in STANDIN_VERSIONS. */
function gcloudStandIn(t: { teardown(fn: () => unknown): void }) {
  const dir = tempDir(t, 'wardgate-gcloud-');
  const log = join(dir, 'calls.log');
  writeFileSync(
    join(dir, 'gcloud'),
    `#!/bin/sh
printf '%s\\n' "$*" >> "${log}"
case "$*" in
  "secrets versions list "*) for s in $STANDIN_VERSIONS; do case "$*" in *" $s "*) echo "projects/p/secrets/$s/versions/1";; esac; done;;
  "iam service-accounts create "*) echo "ERROR: (gcloud.iam.service-accounts.create) Resource in projects [p] is the subject of a conflict: Service account already exists" >&2; exit 1;;
esac
exit 0
`,
  );
  chmodSync(join(dir, 'gcloud'), 0o755);
  const path = process.env.PATH;
  process.env.PATH = `${dir}:${path}`;
  t.teardown(() => {
    process.env.PATH = path;
    delete process.env.STANDIN_VERSIONS;
  });
  return { calls: () => readFileSync(log, 'utf8').trim().split('\n') };
}

t.test('a first run with no secret versions stops after the checks and says what to do', async (t) => {
  const gcloud = gcloudStandIn(t);
  process.env.STANDIN_VERSIONS = 'wardgate-api-tokens';
  const run = io([]);
  t.equal(await runPlan(base, false, run.io), 1);
  const calls = gcloud.calls();
  t.match(calls.at(-1), /^secrets versions list wardgate-api-tokens /, 'both secrets checked, then nothing more');
  t.notOk(
    calls.some((c) => /^(firestore|iam|functions|projects|pubsub) /.test(c)),
    'nothing else created or deployed',
  );
  t.match(run.err(), /The secret wardgate-gateways has no value yet/);
  t.match(run.err(), /gcloud secrets versions add wardgate-gateways --data-file=FILE --project=wardgate-prod/);
  t.notMatch(run.err(), /wardgate-api-tokens has no value/, 'the secret that has a version is not reported');
});

t.test('with secret versions, the whole plan runs in order; "already exists" is not a failure', async (t) => {
  const gcloud = gcloudStandIn(t);
  process.env.STANDIN_VERSIONS = 'wardgate-gateways wardgate-api-tokens';
  const run = io([]);
  t.equal(await runPlan(base, false, run.io), 0, run.err());
  t.same(
    gcloud.calls(),
    deployPlan(base).map((s) => s.argv.slice(1).join(' ')),
    "every command, in the plan's order",
  );
});

t.test('usage errors name the option', async (t) => {
  const deploy = ['deploy', '--project', 'wardgate-prod', '--region', 'europe-west1', '--dry-run'];
  const cases: Array<[string[], NodeJS.ProcessEnv, string]> = [
    [['deploy', '--region', 'europe-west1', '--dry-run'], {}, '--project'],
    [['deploy', '--project', 'wardgate-prod', '--region', 'Europe West', '--dry-run'], {}, '--region'],
    [[...deploy, '--max-instances', '0'], {}, '--max-instances'],
    [[...deploy, '--analysis-shards', '0'], {}, '--analysis-shards'],
    [[...deploy, '--log-level', 'loud'], {}, '--log-level'],
    [[...deploy, '--access', 'open'], {}, '--access'],
    [[...deploy, '--access', 'public', '--require-iam'], {}, '--access'],
    [[...deploy, '--api-invoker', 'group:displays@hospital.example'], {}, '--api-invoker'],
    [[...deploy, '--access', 'private', '--api-invoker', 'displays@hospital.example'], {}, '--api-invoker'],
    [[], {}, 'FIRESTORE_EMULATOR_HOST'],
    [[], { FIRESTORE_EMULATOR_HOST: '10.0.0.5:8080', PUBSUB_EMULATOR_HOST: '127.0.0.1:1' }, 'FIRESTORE_EMULATOR_HOST'],
    [['--port', '70000'], { FIRESTORE_EMULATOR_HOST: '127.0.0.1:1', PUBSUB_EMULATOR_HOST: '127.0.0.1:2' }, '--port'],
    [
      ['--gateway', 'gw-1'],
      { FIRESTORE_EMULATOR_HOST: '127.0.0.1:1', PUBSUB_EMULATOR_HOST: '127.0.0.1:2' },
      '--gateway',
    ],
    [
      ['--gateway', 'gw-1:3B'],
      { FIRESTORE_EMULATOR_HOST: '127.0.0.1:1', PUBSUB_EMULATOR_HOST: '127.0.0.1:2', WARDGATE_CLOUD_SECRET: 'short' },
      'WARDGATE_CLOUD_SECRET',
    ],
    [['--bogus'], {}, ''],
  ];
  for (const [argv, env, field] of cases) {
    const err = await cloudCommand.run(io(argv, env).io).then(
      () => undefined,
      (e: unknown) => e,
    );
    t.ok(err instanceof WardgateError, `${argv.join(' ')}: refused`);
    if (field) t.equal((err as WardgateError).field, field, (err as Error).message);
  }
  const priv = io([...deploy, '--require-iam']);
  t.equal(await cloudCommand.run(priv.io), 0, '--require-iam still means private');
  t.match(priv.out(), /wardgate-edge/);
  const help = io(['--help']);
  t.equal(await cloudCommand.run(help.io), 0);
  t.match(help.out(), /Usage: wardgate cloud/);
});

t.test(
  'secret files are followed in the background: a new gateway soon after its first request, a rotated secret at the next reading',
  async (t) => {
    const dir = tempDir(t);
    const file = join(dir, 'gateways.json');
    const write = (gws: Record<string, string>) =>
      writeFileSync(
        file,
        JSON.stringify(Object.fromEntries(Object.entries(gws).map(([id, secret]) => [id, { ward: '3B', secret }]))),
        { mode: 0o600 },
      );
    const a1 = 'a'.repeat(32);
    const a2 = 'b'.repeat(32);
    write({ 'gw-a': a1 });
    const settings = settingsFromEnv({ WARDGATE_GATEWAYS_FILE: file });
    t.equal(settings.gateways.get('gw-a')?.secret, a1);
    write({ 'gw-a': a1, 'gw-new': a2 });
    t.equal(settings.gateways.get('gw-new'), undefined, 'a request is answered from what was read, without reading');
    t.equal(
      await waitFor(() => settings.gateways.get('gw-new')?.secret),
      a2,
      'a gateway added to the secret is known soon after, without a redeploy',
    );
    write({ 'gw-a': a2, 'gw-new': a2 });
    t.equal(settings.gateways.get('gw-a')?.secret, a1, 'a warm instance keeps the secret it read');
    t.same(await reloadSecrets(settings), []);
    t.equal(settings.gateways.get('gw-a')?.secret, a2, 'a rotated secret is in force after the next reading');
    writeFileSync(file, '{"gw-a": {"ward": "3B", "secret": "short"}}');
    const failed = await reloadSecrets(settings);
    t.same(
      failed.map((f) => f.what),
      ['WARDGATE_GATEWAYS_FILE'],
      'a bad new version is a failed reading',
    );
    t.notMatch(JSON.stringify(failed), /short/, 'which does not quote the file');
    t.equal(settings.gateways.get('gw-a')?.secret, a2, 'and the last good one stays');
    t.same([...settings.gateways.keys()].sort(), ['gw-a', 'gw-new']);
    t.equal(settings.gateways.get('gw-unknown'), undefined);

    const tokens = join(dir, 'tokens.json');
    writeFileSync(tokens, JSON.stringify([{ name: 'station-3b', sha256: 'c'.repeat(64), wards: ['3B'] }]), {
      mode: 0o644,
    });
    t.throws(
      () => settingsFromEnv({ WARDGATE_API_TOKENS_FILE: tokens }),
      /mode 644/,
      'a local secret file must be 0600',
    );
    const mounted = settingsFromEnv({ WARDGATE_API_TOKENS_FILE: tokens, WARDGATE_SECRETS_MOUNTED: 'true' });
    t.same(
      mounted.apiTokens.map((x) => x.name),
      ['station-3b'],
      'a Secret Manager mount: the platform sets its permissions',
    );
    writeFileSync(
      tokens,
      JSON.stringify([
        { name: 'station-3b', sha256: 'c'.repeat(64), wards: ['3B'] },
        { name: 'station-4a', sha256: 'd'.repeat(64), wards: ['4A'] },
      ]),
    );
    await reloadSecrets(mounted);
    t.same(
      mounted.apiTokens.map((x) => x.name),
      ['station-3b', 'station-4a'],
      'a new API token reaches warm instances too',
    );
  },
);

t.test('docs/DEPLOY.md shows the dry run as it is', async (t) => {
  const run = io(['deploy', '--project', 'my-hospital-wardgate', '--region', 'europe-west1', '--dry-run']);
  t.equal(await cloudCommand.run(run.io), 0);
  const doc = readFileSync(new URL('../../../docs/DEPLOY.md', import.meta.url), 'utf8');
  const block = /### `--dry-run` output\n[\s\S]*?```sh\n([\s\S]*?)```/.exec(doc)?.[1];
  t.equal(
    block,
    run.out(),
    'the printed plan matches the one in the docs (regenerate the block when the plan changes)',
  );
});
