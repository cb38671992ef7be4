// The deployment plan and `wardgate cloud`'s usage errors, without gcloud or emulators.
import t from 'tap';
import { PassThrough } from 'node:stream';
import { cloudCommand } from '../../cloud/cli/cloudCommand.js';
import { deployPlan, shellQuote } from '../../cloud/deploy/plan.js';
import { WardgateError } from '../../shared/errors.js';

function io(argv: string[], env: NodeJS.ProcessEnv = {}) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d: Buffer) => (out += d));
  stderr.on('data', (d: Buffer) => (err += d));
  return { io: { argv, stdout, stderr, stdin: new PassThrough(), env }, out: () => out, err: () => err };
}

t.test('deploy --dry-run prints every gcloud command and runs none', async (t) => {
  const run = io(['deploy', '--project', 'wardgate-prod', '--region', 'europe-west1', '--dry-run']);
  t.equal(await cloudCommand.run(run.io), 0);
  const lines = run.out().split('\n').filter((l) => l.startsWith('gcloud '));
  const deploys = lines.filter((l) => l.startsWith('gcloud functions deploy '));
  t.same(deploys.map((l) => l.split(' ')[3]), ['ingestBatch', 'edgeConfig', 'analyzeReadings', 'wardApi']);
  for (const d of deploys) {
    t.match(d, / --gen2 /, 'gen2');
    t.match(d, / --runtime=nodejs22 /, 'Node 22 runtime (nodejs20 is decommissioned)');
    t.match(d, / --service-account=wardgate-[a-z]+@wardgate-prod\.iam\.gserviceaccount\.com /, 'its own service account');
  }
  t.match(deploys[0], /--set-secrets=WARDGATE_GATEWAYS=wardgate-gateways:latest/, 'gateway secrets from Secret Manager');
  t.match(deploys[3], /--set-secrets=WARDGATE_API_TOKENS=wardgate-api-tokens:latest/);
  t.notMatch(deploys[2], /--set-secrets/, 'the analysis gets no secret it does not need');
  t.match(deploys[2], /--trigger-topic=wardgate-batches .*--retry/, 'analysis triggered by the batches topic, retried');
  t.ok(lines.some((l) => l.includes('indexes composite create --collection-group=segments') && l.includes('array-config=contains')), 'indexes from the file');
  t.equal(lines.filter((l) => l.includes('ttls update expireAt')).length, 4, 'TTL policies from the file');
  t.ok(lines.some((l) => l.includes('indexes fields update s --collection-group=segments --disable-indexes')), 'segment columns exempt from indexing');
  t.ok(lines.some((l) => l.includes('roles/datastore.viewer') && l.includes('wardgate-api@')), 'the API may only read Firestore');
  t.ok(lines.some((l) => l.startsWith('gcloud pubsub topics add-iam-policy-binding wardgate-batches') && l.includes('wardgate-ingest@')), 'publisher on one topic');
  t.notOk(lines.some((l) => /roles\/(owner|editor)/.test(l)), 'no broad roles');
  t.match(run.out(), /# dry run: \d+ commands printed, none run/);
});

t.test('deploy plan: --require-iam locks the HTTP functions behind IAM', async (t) => {
  const base = { project: 'wardgate-prod', region: 'europe-west1', source: 'bundle-dir', batchesTopic: 'b-topic', alertsTopic: 'a-topic', retentionDays: 7, maxInstances: 5 };
  const open = deployPlan({ ...base, requireIam: false }).filter((s) => s.argv.includes('--trigger-http'));
  const locked = deployPlan({ ...base, requireIam: true }).filter((s) => s.argv.includes('--trigger-http'));
  t.ok(open.every((s) => s.argv.includes('--allow-unauthenticated')));
  t.ok(locked.every((s) => s.argv.includes('--no-allow-unauthenticated')));
  t.ok(locked.every((s) => s.argv.some((a) => a.includes('WARDGATE_RETENTION_DAYS=7'))));
  t.equal(shellQuote("it's"), `'it'\\''s'`);
  t.equal(shellQuote('--flag=a,b'), '--flag=a,b');
});

t.test('usage errors name the option', async (t) => {
  const cases: Array<[string[], NodeJS.ProcessEnv, string]> = [
    [['deploy', '--region', 'europe-west1', '--dry-run'], {}, '--project'],
    [['deploy', '--project', 'wardgate-prod', '--region', 'Europe West', '--dry-run'], {}, '--region'],
    [['deploy', '--project', 'wardgate-prod', '--region', 'europe-west1', '--max-instances', '0', '--dry-run'], {}, '--max-instances'],
    [[], {}, 'FIRESTORE_EMULATOR_HOST'],
    [[], { FIRESTORE_EMULATOR_HOST: '10.0.0.5:8080', PUBSUB_EMULATOR_HOST: '127.0.0.1:1' }, 'FIRESTORE_EMULATOR_HOST'],
    [['--port', '70000'], { FIRESTORE_EMULATOR_HOST: '127.0.0.1:1', PUBSUB_EMULATOR_HOST: '127.0.0.1:2' }, '--port'],
    [['--gateway', 'gw-1'], { FIRESTORE_EMULATOR_HOST: '127.0.0.1:1', PUBSUB_EMULATOR_HOST: '127.0.0.1:2' }, '--gateway'],
    [['--gateway', 'gw-1:3B'], { FIRESTORE_EMULATOR_HOST: '127.0.0.1:1', PUBSUB_EMULATOR_HOST: '127.0.0.1:2', WARDGATE_CLOUD_SECRET: 'short' }, 'WARDGATE_CLOUD_SECRET'],
    [['--bogus'], {}, ''],
  ];
  for (const [argv, env, field] of cases) {
    const err = await cloudCommand.run(io(argv, env).io).then(() => undefined, (e: unknown) => e);
    t.ok(err instanceof WardgateError, `${argv.join(' ')}: refused`);
    if (field) t.equal((err as WardgateError).field, field, (err as Error).message);
  }
  const help = io(['--help']);
  t.equal(await cloudCommand.run(help.io), 0);
  t.match(help.out(), /Usage: wardgate cloud/);
});
