// Google ID tokens through the real google-auth-library, from a service account
// key file, against a token endpoint of the test's own. The library posts to
// https://oauth2.googleapis.com/token whatever the key file's token_uri says,
// but it honours https_proxy: a loopback proxy answers CONNECT to that host
// itself, with a certificate the child processes trust (NODE_EXTRA_CA_CERTS,
// read at a process's start, hence the children). Nothing leaves the machine.
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { verify } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { TLSSocket } from 'node:tls';
import { ROOT, connectAs, spawnDaemon, writeTestConfig } from '../../helpers/gateway.js';
import { tempDir, waitFor } from '../../helpers/env.js';
import { selfSignedCert } from '../../helpers/tls.js';
import { TOKEN_HOST, TOKEN_URL, serviceAccount, type ServiceAccount } from '../../helpers/serviceAccount.js';
import { startContractServer } from './contractServer.js';

t.setTimeout(120_000);
const AUDIENCE = 'https://europe-west1-wardgate-test.cloudfunctions.net';
const ID_TOKEN_JS = join(ROOT, 'dist', 'edge', 'sync', 'idToken.js');

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const fromB64url = (part: string) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as unknown;

/** A service account key file's fields, with a fresh RSA key; `publicKey` checks what it signed. */
/**
 * Google's token endpoint for one service account, behind a loopback proxy.
 * It grants an ID token only to a JWT assertion signed with the account's key,
 * issued by its email, for the token URL, asking for AUDIENCE; `failing` makes
 * it answer 500.
 */
async function tokenEndpoint(t: Test, dir: string, account: ServiceAccount) {
  const cert = selfSignedCert(dir, 'token-endpoint', TOKEN_HOST);
  const state = {
    failing: false,
    granted: 0,
    refused: [] as string[],
    idToken: `${b64url({ alg: 'RS256' })}.${b64url({ aud: AUDIENCE, exp: Math.floor(Date.now() / 1000) + 3600 })}.sig`,
  };
  const refusal = (form: URLSearchParams): string | undefined => {
    if (form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:jwt-bearer') return 'grant_type';
    const [header = '', claims = '', signature = ''] = (form.get('assertion') ?? '').split('.');
    const h = fromB64url(header) as { alg?: string };
    const c = fromB64url(claims) as { iss?: string; aud?: string; target_audience?: string; exp?: number };
    if (h.alg !== 'RS256') return `header ${JSON.stringify(h)}`;
    const signed = Buffer.from(`${header}.${claims}`);
    if (!verify('RSA-SHA256', signed, account.publicKey, Buffer.from(signature, 'base64url'))) return 'signature';
    if (c.iss !== account.key.client_email || c.aud !== TOKEN_URL) return `claims ${JSON.stringify(c)}`;
    if (c.target_audience !== AUDIENCE) return `target_audience ${c.target_audience}`;
    if (!(typeof c.exp === 'number' && c.exp * 1000 > Date.now())) return `exp ${c.exp}`;
    return undefined;
  };
  const google = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const answer = (status: number, json: unknown) =>
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(json));
      if (state.failing) return answer(500, { error: 'internal_failure', error_description: 'down for the test' });
      const why =
        req.method !== 'POST' || req.url !== '/token'
          ? `${req.method} ${req.url}`
          : refusal(new URLSearchParams(Buffer.concat(chunks).toString('utf8')));
      if (why !== undefined) {
        state.refused.push(why);
        return answer(400, { error: 'invalid_grant', error_description: why });
      }
      state.granted++;
      answer(200, { id_token: state.idToken });
    });
  });
  const tls = { key: readFileSync(cert.key), cert: readFileSync(cert.cert) };
  const proxy = createServer((_req, res) => res.writeHead(405).end());
  proxy.on('connect', (req: IncomingMessage, socket, head: Buffer) => {
    // Only the token host, answered here: the proxy never connects anywhere.
    if (req.url !== `${TOKEN_HOST}:443`) return void socket.end('HTTP/1.1 403 Forbidden\r\n\r\n');
    socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    if (head.length > 0) socket.unshift(head);
    google.emit('connection', new TLSSocket(socket, { isServer: true, ...tls }));
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    google.closeAllConnections();
    proxy.closeAllConnections();
    return new Promise<void>((resolve) => proxy.close(() => resolve()));
  });
  const env = {
    https_proxy: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`,
    HTTPS_PROXY: '',
    NO_PROXY: '',
    no_proxy: '',
    NODE_EXTRA_CA_CERTS: cert.cert,
    GOOGLE_APPLICATION_CREDENTIALS: '',
  };
  return { state, env };
}

interface Reply {
  headers?: Record<string, string>;
  error?: string;
  /** Whether a module of google-auth-library is loaded in the child. */
  loaded: boolean;
}

/**
 * A node process holding one `googleIdTokens(options)` from the build: it
 * replies once when created, then once per line it is sent, with the
 * outcome of a `headers()` call.
 */
const CHILD = `
import { createRequire } from 'node:module';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
const modules = createRequire(process.cwd() + '/').cache;
const loaded = () => Object.keys(modules).some((m) => m.includes('/node_modules/google-auth-library/'));
const { googleIdTokens } = await import(pathToFileURL(process.argv[1]).href);
const tokens = googleIdTokens(JSON.parse(process.argv[2]));
const reply = (r) => process.stdout.write(JSON.stringify({ ...r, loaded: loaded() }) + '\\n');
reply({});
for await (const _ of createInterface({ input: process.stdin })) {
  await tokens.headers().then((headers) => reply({ headers }), (err) => reply({ error: String(err?.message ?? err) }));
}
`;

async function tokenSource(t: Test, options: { audience: string; credentialsFile?: string }, env: object) {
  const child = spawn(process.execPath, ['--input-type=module', '-e', CHILD, ID_TOKEN_JS, JSON.stringify(options)], {
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  t.teardown(() => void child.kill());
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const next = async (): Promise<Reply> => {
    const line = await lines.next();
    if (line.done) throw new Error(`the child ended (${child.exitCode})`);
    return JSON.parse(line.value) as Reply;
  };
  const created = await next();
  return {
    created,
    headers: () => {
      child.stdin.write('headers\n');
      return next();
    },
  };
}

/** A service account, its token endpoint and a token source for it; the key file written unless `keyFile` is false. */
async function tokens(t: Test, keyFile = true) {
  const dir = tempDir(t);
  const account = serviceAccount();
  const credentialsFile = join(dir, 'sa.json');
  const writeKeyFile = () => writeFileSync(credentialsFile, JSON.stringify(account.key), { mode: 0o600 });
  if (keyFile) writeKeyFile();
  const endpoint = await tokenEndpoint(t, dir, account);
  const source = await tokenSource(t, { audience: AUDIENCE, credentialsFile }, endpoint.env);
  return { endpoint, source, writeKeyFile };
}

t.test('the token source loads the library at its first token, and gets a Bearer ID token', async (t) => {
  const { endpoint, source } = await tokens(t);
  t.equal(source.created.loaded, false, 'creating it does not load google-auth-library');

  const first = await source.headers();
  t.same(first, { headers: { Authorization: `Bearer ${endpoint.state.idToken}` }, loaded: true });
  t.same(endpoint.state.refused, [], 'the assertion was signed with the key, for the audience');
  t.equal(endpoint.state.granted, 1);
  const second = await source.headers();
  t.same(second.headers, first.headers, 'the next request carries the same token');
  t.equal(endpoint.state.granted, 1, 'kept by the library until it nears its expiry');
});

t.test('a first token without the key file fails; the next one is fetched once the file is there', async (t) => {
  const { endpoint, source, writeKeyFile } = await tokens(t, false);

  const failed = await source.headers();
  t.match(failed.error, /ENOENT/, 'the missing file is the error');
  writeKeyFile();
  t.same((await source.headers()).headers, { Authorization: `Bearer ${endpoint.state.idToken}` });
  t.equal(endpoint.state.granted, 1);
});

t.test('a token endpoint answering 500 fails the attempt; the next one gets a token', async (t) => {
  const { endpoint, source } = await tokens(t);

  endpoint.state.failing = true;
  t.match((await source.headers()).error, /internal_failure/);
  endpoint.state.failing = false;
  t.same((await source.headers()).headers, { Authorization: `Bearer ${endpoint.state.idToken}` });
  t.same(endpoint.state.refused, []);
});

t.test('a gateway configured with cloud.idToken sends its batches with the Bearer token', async (t) => {
  const SECRET = 'gw-test-cloud-secret-0123456789abcdef';
  const env = { WG_CLOUD: SECRET, WG_WARD: 'ward-3b-pseudonym-secret-0123456789' };
  const server = await startContractServer(SECRET);
  t.teardown(() => server.stop());
  const account = serviceAccount();
  const { dir, file, mqttPort } = await writeTestConfig(t, {
    env,
    devices: [{ id: 'pox-1', bed: '1' }],
    extra: {
      cloud: {
        url: server.url,
        secretEnv: 'WG_CLOUD',
        wardSecretEnv: 'WG_WARD',
        batch: { maxItems: 10, maxAgeMs: 0 },
        backoff: { initialMs: 20, maxMs: 200 },
        idToken: { audience: AUDIENCE, credentialsFile: 'sa.json' },
      },
      jobs: { sync: '* * * * * *' },
    },
  });
  writeFileSync(join(dir, 'sa.json'), JSON.stringify(account.key), { mode: 0o600 });
  const endpoint = await tokenEndpoint(t, dir, account);
  await spawnDaemon(t, file, join(dir, 'data'), { ...env, ...endpoint.env });
  const device = await connectAs(t, `mqtt://127.0.0.1:${mqttPort}`, 'pox-1');
  const obs = { seq: 1, obs: [{ code: 'spo2', value: 97, unit: '%' }] };
  await device.publishAsync('wardgate/devices/pox-1/obs', JSON.stringify(obs), { qos: 1 });

  await waitFor(() => (server.batchIds.length > 0 ? true : undefined), 20_000, 'a batch at the cloud');
  t.ok(server.authorizations.length > 0);
  t.same(new Set(server.authorizations), new Set([`Bearer ${endpoint.state.idToken}`]), 'every batch with the token');
  t.same(endpoint.state.refused, []);
});
