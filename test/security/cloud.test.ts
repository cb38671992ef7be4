// Hostile input against the cloud functions, through the real Functions
// Framework: first the deployed entry point (the framework's own binary
// loading dist/cloud/index.js, as Cloud Functions runs it), then every
// function behind `wardgate cloud`'s local server on the Firestore and
// Pub/Sub emulators. Each attack has its expected answer: a status, a
// registered code, JSON, and never an HTML page or a stack trace.
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Firestore } from '@google-cloud/firestore';
import { createServer, type RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import type { CloudContext } from '../../cloud/context.js';
import { registerFunctions } from '../../cloud/functions.js';
import { startLocalCloud } from '../../cloud/local/localCloud.js';
import { createCloudLogger } from '../../cloud/log.js';
import { defaults, sha256Hex, type CloudSettings } from '../../cloud/settings.js';
import { hours, segments } from '../../cloud/store/paths.js';
import { errorCodes } from '../../shared/errors.js';
import { buildBatch, signedBatchRequest, signedConfigHeaders, type SyncBatch } from '../../shared/sync/index.js';
import { startEmulators } from '../helpers/emulators.js';
import { freePort, waitFor } from '../helpers/env.js';
import { ROOT } from '../helpers/gateway.js';

t.setTimeout(240_000);

const SECRET = 'gw-3b-secret-for-security-0123456789abcdef';
const TOKEN = 'station-3b-token-for-security-0123';
const GATEWAYS = JSON.stringify({ 'gw-3b': { ward: '3B', secret: SECRET } });

interface Answer {
  status: number;
  type: string;
  text: string;
  json: { ok?: boolean; error?: { code?: string; message?: string; field?: string } } | null;
  ms: number;
}

interface Call {
  method?: string;
  path: string;
  headers?: Record<string, string | number>;
  body?: Buffer | string;
  /** Send the headers only and wait for the answer: the body is announced but never sent. */
  headersOnly?: boolean;
  /** Send the body with Transfer-Encoding: chunked. */
  chunked?: boolean;
}

/** One request with exactly these headers (fetch would add or refuse some). An early answer is read even if the body is cut off. */
function call(base: string, c: Call): Promise<Answer> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const url = new URL(base);
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        method: c.method ?? 'GET',
        path: `${url.pathname.replace(/\/$/, '')}${c.path}`,
        headers: c.headers ?? {},
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (d: Buffer) => chunks.push(d));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json = null;
          try {
            json = JSON.parse(text);
          } catch {
            // not JSON: the reply is judged by its text
          }
          resolve({
            status: res.statusCode ?? 0,
            type: String(res.headers['content-type'] ?? ''),
            text,
            json,
            ms: Date.now() - started,
          });
          req.destroy();
        });
      },
    );
    req.on('error', (err) => (req.writableEnded || c.headersOnly ? undefined : reject(err)));
    req.setTimeout(60_000, () => req.destroy(new Error(`no answer to ${c.method ?? 'GET'} ${c.path}`)));
    if (c.headersOnly) return void req.flushHeaders();
    if (c.chunked) {
      req.write(c.body ?? '');
      return void req.end();
    }
    req.end(c.body);
  });
}

/** Raw bytes on a socket: for requests Node's HTTP client will not send. */
function raw(base: string, bytes: string): Promise<string> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(url.port), url.hostname, () => socket.write(bytes));
    let text = '';
    socket.on('data', (d) => (text += d.toString('latin1')));
    socket.on('end', () => resolve(text));
    socket.on('close', () => resolve(text));
    socket.on('error', reject);
    socket.setTimeout(30_000, () => socket.destroy(new Error('no answer')));
  });
}

/** A registered code, in the JSON error body, without a trace of HTML or a stack. */
function refused(t: Test, name: string, answer: Answer, status: number, code: string, field?: string): void {
  t.equal(answer.status, status, `${name}: HTTP ${status}`);
  t.match(answer.type, /^application\/json/, `${name}: JSON`);
  t.equal(answer.json?.ok, false, `${name}: an error body`);
  t.equal(
    answer.json?.error?.code,
    code,
    `${name}: ${code} (${answer.json?.error?.message ?? answer.text.slice(0, 120)})`,
  );
  t.ok(code in errorCodes, `${name}: ${code} is registered`);
  if (field !== undefined) t.equal(answer.json?.error?.field, field, `${name}: field ${field}`);
  t.notMatch(answer.text, /<html|<pre|\n\s+at |node_modules|\.js:\d+/i, `${name}: no page, no stack trace`);
}

function batchOf(over: Partial<SyncBatch> = {}, bed = '3'): SyncBatch {
  const now = Date.now();
  return buildBatch({
    gateway: 'gw-3b',
    ward: '3B',
    created: now,
    alarms: [],
    statuses: [],
    readings: [1, 2, 3].map((i) => ({
      n: i,
      device: 'pox-1',
      seq: i,
      code: 'spo2',
      value: 96,
      unit: '%' as const,
      ts: now - 60_000 + i * 1000,
      flags: 0,
      bed,
    })),
    ...over,
  });
}

/** The framework's own binary serving one function from the built entry point, as Cloud Functions runs it. */
async function deployedFunction(t: Test, target: string): Promise<{ url: string; memoryHighMiB: () => number }> {
  const port = await freePort();
  const main = join(ROOT, 'node_modules', '@google-cloud', 'functions-framework', 'build', 'src', 'main.js');
  const child = spawn(
    process.execPath,
    [main, `--target=${target}`, `--source=${join(ROOT, 'dist', 'cloud', 'index.js')}`, `--port=${port}`],
    {
      env: {
        PATH: process.env.PATH,
        NODE_ENV: 'development',
        METADATA_SERVER_DETECTION: 'none',
        WARDGATE_LOG_LEVEL: 'silent',
        WARDGATE_PROJECT: 'wardgate-test',
        WARDGATE_GATEWAYS: GATEWAYS,
        WARDGATE_API_TOKENS: JSON.stringify([{ name: 'station-3b', sha256: sha256Hex(TOKEN), wards: ['3B'] }]),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      }),
  );
  await waitFor(
    () => (out.includes('Serving function') ? true : undefined),
    60_000,
    `the framework serving ${target}: ${out}`,
  );
  const memoryHighMiB = () =>
    Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1]) / 1024;
  return { url: `http://127.0.0.1:${port}`, memoryHighMiB };
}

t.test('deployed entry point: refused from the headers, before the framework reads the body', async (t) => {
  const ingest = await deployedFunction(t, 'ingestBatch');
  const before = ingest.memoryHighMiB();
  // 1 GiB of spaces in 1 MB of gzip: the framework would inflate it all before the function ran.
  const bomb = gzipSync(Buffer.alloc(1024 * 1024 * 1024, 0x20), { level: 9 });
  const signed = signedBatchRequest(batchOf(), SECRET, Date.now(), bomb);
  const answer = await call(ingest.url, {
    method: 'POST',
    path: '/',
    body: bomb,
    headers: { ...signed.headers, 'Content-Encoding': 'gzip', 'Content-Length': bomb.length },
  });
  refused(t, 'a gzip bomb as Content-Encoding', answer, 415, 'WG_ERR_ENCODING', 'Content-Encoding');
  const grew = ingest.memoryHighMiB() - before;
  t.ok(grew < 64, `memory high-water grew ${grew.toFixed(1)} MiB (unguarded: over 1,000)`);
  t.ok(answer.ms < 5_000, `answered in ${answer.ms} ms (unguarded: seconds)`);

  const good = signedBatchRequest(batchOf(), SECRET, Date.now());
  const attacks: Array<[string, Call, number, string, string?]> = [
    [
      'Content-Encoding: identity',
      { method: 'POST', path: '/', body: good.body, headers: { ...good.headers, 'Content-Encoding': 'identity' } },
      415,
      'WG_ERR_ENCODING',
      'Content-Encoding',
    ],
    [
      'Content-Encoding: br',
      { method: 'POST', path: '/', body: good.body, headers: { ...good.headers, 'Content-Encoding': 'br' } },
      415,
      'WG_ERR_ENCODING',
      'Content-Encoding',
    ],
    [
      '1 GiB announced, never sent',
      { method: 'POST', path: '/', headersOnly: true, headers: { ...good.headers, 'Content-Length': 1024 ** 3 } },
      413,
      'WG_ERR_TOO_LARGE',
      'Content-Length',
    ],
    [
      'a chunked body',
      {
        method: 'POST',
        path: '/',
        chunked: true,
        body: good.body,
        headers: { ...good.headers, 'Transfer-Encoding': 'chunked' },
      },
      411,
      'WG_ERR_LENGTH',
      'Content-Length',
    ],
    [
      'malformed JSON as application/json',
      { method: 'POST', path: '/', body: '{"v":', headers: { 'Content-Type': 'application/json' } },
      400,
      'WG_ERR_JSON',
    ],
    [
      'an unknown charset',
      { method: 'POST', path: '/', body: 'x', headers: { 'Content-Type': 'text/plain; charset=bogus' } },
      415,
      'WG_ERR_ENCODING',
      'Content-Type',
    ],
    ['favicon.ico', { path: '/favicon.ico' }, 404, 'WG_ERR_NOT_FOUND'],
    ['GET', { path: '/' }, 405, 'WG_ERR_METHOD'],
  ];
  for (const [name, c, status, code, field] of attacks)
    refused(t, name, await call(ingest.url, c), status, code, field);
  const malformed = await raw(ingest.url, 'GET /\x7f HTTP/1.1\r\nHost: x\r\n\r\n');
  t.match(
    malformed,
    /^HTTP\/1\.1 400 [^]*application\/json[^]*"WG_ERR_SCHEMA"/,
    'a request Node cannot parse: JSON 400',
  );
  const oversized = await raw(ingest.url, `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
  t.match(
    oversized,
    /^HTTP\/1\.1 431 Request Header Fields Too Large\r\n[^]*application\/json[^]*"WG_ERR_HEADERS_TOO_LARGE"/,
    'headers over 16 KiB: JSON 431 with its own code',
  );

  const api = await deployedFunction(t, 'wardApi');
  const auth = { Authorization: `Bearer ${TOKEN}` };
  const apiAttacks: Array<[string, Call, number, string, string?]> = [
    ['a malformed %-escape in the path', { path: '/wards/3B/patients/%E0%A4%A/vitals' }, 400, 'WG_ERR_SCHEMA', 'path'],
    [
      'a malformed %-escape, authenticated',
      { path: '/wards/3B/%ZZ/overview', headers: auth },
      400,
      'WG_ERR_SCHEMA',
      'path',
    ],
    [
      'a GET with a body',
      { path: '/wards/3B/overview', body: 'x'.repeat(10), headers: { ...auth, 'Content-Length': 10 } },
      413,
      'WG_ERR_TOO_LARGE',
      'Content-Length',
    ],
    [
      'a gzip body to the read API',
      { method: 'POST', path: '/wards/3B/overview', body: gzipSync('{}'), headers: { 'Content-Encoding': 'gzip' } },
      415,
      'WG_ERR_ENCODING',
      'Content-Encoding',
    ],
    ['no token', { path: '/wards/3B/overview' }, 401, 'WG_ERR_AUTH', 'Authorization'],
    ['robots.txt', { path: '/robots.txt' }, 404, 'WG_ERR_NOT_FOUND'],
    ['DELETE', { method: 'DELETE', path: '/wards/3B/overview', headers: auth }, 405, 'WG_ERR_METHOD'],
  ];
  for (const [name, c, status, code, field] of apiAttacks)
    refused(t, `wardApi: ${name}`, await call(api.url, c), status, code, field);
});

t.test('a failure inside a function is a JSON 500 that names nothing of ours', async (t) => {
  // A context whose gateway list throws, as a broken secret file might: the handler meets an error it did not expect.
  const broken = {
    settings: {
      ...defaults,
      gateways: {
        get: () => {
          throw new Error('read failed at /srv/secrets/gateways.json:12');
        },
      },
      apiTokens: [],
    },
    log: createCloudLogger('silent'),
    now: Date.now,
  } as unknown as CloudContext;
  registerFunctions(() => broken);
  const server = createServer(getTestServer('edgeConfig').listeners('request')[0] as RequestListener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const answer = await call(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, {
    path: '/',
    headers: signedConfigHeaders('gw-3b', SECRET, Date.now()),
  });
  refused(t, 'a handler that throws', answer, 500, 'WG_ERR_INTERNAL');
  t.notMatch(answer.text, /secrets|gateways\.json/, "the error's own message stays in the log");
});

t.test('every function on the emulators', async (t) => {
  const emulators = await startEmulators(t, 'wardgate-security');
  process.env.FIRESTORE_EMULATOR_HOST = emulators.firestoreHost;
  process.env.PUBSUB_EMULATOR_HOST = emulators.pubsubHost;
  const settings: CloudSettings = {
    ...defaults,
    projectId: 'wardgate-security',
    logLevel: 'silent',
    gateways: new Map([['gw-3b', { ward: '3B', secret: SECRET }]]),
    apiTokens: [{ name: 'station-3b', sha256: sha256Hex(TOKEN), wards: ['3B'] }],
  };
  const cloud = await startLocalCloud({ settings, port: 0, env: process.env, log: createCloudLogger('silent') });
  t.teardown(() => cloud.stop());
  const db: Firestore = cloud.ctx.db;
  const ingest = `${cloud.url}/ingestBatch`;
  const api = `${cloud.url}/wardApi`;
  const auth = { Authorization: `Bearer ${TOKEN}` };

  // Something for the read API to read: a stored batch, analysed into an hourly document.
  const seed = signedBatchRequest(batchOf(), SECRET, Date.now());
  t.equal(
    (await call(ingest, { method: 'POST', path: '/', body: seed.body, headers: seed.headers })).status,
    200,
    'a good batch is stored',
  );
  await waitFor(
    async () => ((await hours(db, '3B').limit(1).get()).size > 0 ? true : undefined),
    60_000,
    'the analysis to write an hour',
  );

  t.test('signatures: one answer for every bad one', async (t) => {
    const good = signedBatchRequest(batchOf(), SECRET, Date.now());
    const unknown = signedBatchRequest(batchOf({ gateway: 'gw-9z' }), SECRET, Date.now());
    const probes: Array<[string, Record<string, string>]> = [
      ['an unknown gateway', { ...good.headers, 'X-Wardgate-Gateway': 'gw-9z' }],
      ['an unknown gateway, signed with its own body', unknown.headers],
      ['a known gateway, a wrong signature', { ...good.headers, 'X-Wardgate-Signature': `v1=${'0'.repeat(64)}` }],
      ['a known gateway, no signature', { ...good.headers, 'X-Wardgate-Signature': '' }],
      ['a known gateway, a malformed signature', { ...good.headers, 'X-Wardgate-Signature': 'v2=abc' }],
      ['no gateway header', { ...good.headers, 'X-Wardgate-Gateway': '' }],
      ['a gateway named constructor', { ...good.headers, 'X-Wardgate-Gateway': 'constructor' }],
      ['a gateway named __proto__', { ...good.headers, 'X-Wardgate-Gateway': '__proto__' }],
    ];
    const bodies = new Set<string>();
    for (const [name, headers] of probes) {
      const answer = await call(ingest, { method: 'POST', path: '/', body: good.body, headers });
      refused(t, name, answer, 401, 'WG_ERR_SIGNATURE', 'X-Wardgate-Signature');
      bodies.add(answer.text);
    }
    for (const [name, headers] of [
      ['unknown gateway', signedConfigHeaders('gw-9z', SECRET, Date.now())],
      ['known gateway, wrong secret', signedConfigHeaders('gw-3b', 'another-secret-0123456789abcdef-xyz', Date.now())],
    ] as const) {
      const answer = await call(cloud.url, { path: '/edgeConfig', headers });
      refused(t, `edgeConfig: ${name}`, answer, 401, 'WG_ERR_SIGNATURE', 'X-Wardgate-Signature');
      bodies.add(answer.text);
    }
    t.equal(bodies.size, 1, 'the same body, byte for byte, for every bad signature');

    // Timing: a known id with a wrong signature and an unknown id do the same work (one HMAC over the body).
    const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const big = gzipSync(Buffer.from(JSON.stringify(batchOf())).toString('base64').repeat(200));
    const time = async (gateway: string) => {
      const started = process.hrtime.bigint();
      await call(ingest, {
        method: 'POST',
        path: '/',
        body: big,
        headers: {
          ...signedBatchRequest(batchOf(), 'x'.repeat(40), Date.now(), big).headers,
          'X-Wardgate-Gateway': gateway,
        },
      });
      return Number(process.hrtime.bigint() - started) / 1e6;
    };
    const known: number[] = [];
    const unknownTimes: number[] = [];
    for (let i = 0; i < 15; i++) {
      known.push(await time('gw-3b'));
      unknownTimes.push(await time('gw-9z'));
    }
    const [k, u] = [median(known), median(unknownTimes)];
    t.ok(
      Math.abs(k - u) < Math.max(20, k),
      `similar timing: known ${k.toFixed(1)} ms, unknown ${u.toFixed(1)} ms (medians of 15)`,
    );
  });

  t.test('the read API: names from Object.prototype, forged cursors, repeated parameters', async (t) => {
    const now = Date.now();
    for (const subject of ['constructor', 'hasOwnProperty', 'toString', 'valueOf', 'isPrototypeOf']) {
      for (const what of ['summaries', 'vitals']) {
        const answer = await call(api, { path: `/wards/3B/patients/${subject}/${what}`, headers: auth });
        t.equal(answer.status, 200, `${what} of a subject named ${subject}: 200 (${answer.text.slice(0, 100)})`);
      }
    }
    t.equal(
      (await call(api, { path: '/wards/3B/alerts?subject=constructor', headers: auth })).status,
      200,
      'alerts filtered by a subject named constructor',
    );
    const cursor = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const vitals = `/wards/3B/patients/bed-3/vitals?from=${now - 3_600_000}&to=${now}&bucket=60`;
    const forged: Array<[string, string]> = [
      ['not base64 JSON', '/wards/3B/overview?cursor=%25%25%25'],
      ['JSON of the wrong shape', `/wards/3B/overview?cursor=${cursor([1, 2])}`],
      ['a negative offset', `/wards/3B/overview?cursor=${cursor({ o: -1 })}`],
      ['a huge offset', `/wards/3B/overview?cursor=${cursor({ o: 1e15 })}`],
      ['an alerts cursor with a path in its id', `/wards/3B/alerts?cursor=${cursor({ ts: now, id: 'a/b' })}`],
      ['an alerts cursor with a reserved id', `/wards/3B/alerts?cursor=${cursor({ ts: now, id: '__x__' })}`],
      ['an alerts cursor with a text time', `/wards/3B/alerts?cursor=${cursor({ ts: 'now', id: 'a1' })}`],
      ['a vitals cursor far in the future', `${vitals}&cursor=${cursor({ t: 1e300 })}`],
      ['a vitals cursor before the range', `${vitals}&cursor=${cursor({ t: now - 7_200_000 })}`],
      ['a vitals cursor off the buckets', `${vitals}&cursor=${cursor({ t: now - 1 })}`],
      ['a cursor of 10 kB', `/wards/3B/overview?cursor=${'A'.repeat(10_000)}`],
    ];
    for (const [name, path] of forged)
      refused(t, `forged cursor: ${name}`, await call(api, { path, headers: auth }), 400, 'WG_ERR_SCHEMA', 'cursor');
    refused(
      t,
      'a parameter given twice',
      await call(api, { path: '/wards/3B/alerts?limit=1&limit=2', headers: auth }),
      400,
      'WG_ERR_SCHEMA',
      'limit',
    );
    refused(
      t,
      'an authenticated unknown route',
      await call(api, { path: '/wards/3B/everything', headers: auth }),
      404,
      'WG_ERR_NOT_FOUND',
    );
    refused(
      t,
      'a token for another ward',
      await call(api, { path: '/wards/4A/overview', headers: auth }),
      403,
      'WG_ERR_FORBIDDEN',
      'Authorization',
    );
    refused(t, 'an unknown function', await call(cloud.url, { path: '/nothing' }), 404, 'WG_ERR_NOT_FOUND');
  });

  t.test('ingest: free text and hostile bodies are refused, nothing stored', async (t) => {
    const before = (await segments(db, '3B').get()).size;
    const signed = (batch: SyncBatch) => signedBatchRequest(batch, SECRET, Date.now());
    const bodies: Array<[string, ReturnType<typeof signed>, string]> = [
      ['a name as the bed label', signed(batchOf({}, 'John Smith')), 'readings[0].bed'],
      ['an MRN as the bed label', signed(batchOf({}, 'MRN 1234567')), 'readings[0].bed'],
      [
        'a name in an audit detail',
        signed(
          batchOf({
            audit: [
              {
                n: 1,
                ts: Date.now() - 1000,
                actor: 'nurse-ann',
                action: 'admit',
                target: 'bed:3',
                detail: { note: 'John Smith' },
              },
            ],
          }),
        ),
        'audit[0].detail.note',
      ],
    ];
    for (const [name, request, field] of bodies) {
      refused(
        t,
        name,
        await call(ingest, { method: 'POST', path: '/', body: request.body, headers: request.headers }),
        400,
        'WG_ERR_SCHEMA',
        field,
      );
    }
    const good = signed(batchOf());
    refused(
      t,
      'Content-Encoding on a signed batch',
      await call(ingest, {
        method: 'POST',
        path: '/',
        body: good.body,
        headers: { ...good.headers, 'Content-Encoding': 'gzip' },
      }),
      415,
      'WG_ERR_ENCODING',
      'Content-Encoding',
    );
    refused(
      t,
      'malformed JSON as application/json',
      await call(ingest, { method: 'POST', path: '/', body: '{', headers: { 'Content-Type': 'application/json' } }),
      400,
      'WG_ERR_JSON',
    );
    const malformed = await raw(
      cloud.url,
      'POST /ingestBatch HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab',
    );
    t.match(malformed, /^HTTP\/1\.1 400 [^]*"WG_ERR_SCHEMA"/, 'two Content-Lengths: JSON 400');
    refused(
      t,
      'verifyRange: 100 kB announced',
      await call(cloud.url, {
        method: 'POST',
        path: '/verifyRange',
        headersOnly: true,
        headers: { 'Content-Length': 100_000 },
      }),
      413,
      'WG_ERR_TOO_LARGE',
      'Content-Length',
    );
    refused(
      t,
      'verifyRange: a chunked body',
      await call(cloud.url, {
        method: 'POST',
        path: '/verifyRange',
        chunked: true,
        body: '{}',
        headers: { 'Transfer-Encoding': 'chunked' },
      }),
      411,
      'WG_ERR_LENGTH',
      'Content-Length',
    );
    t.equal((await segments(db, '3B').get()).size, before, 'nothing stored from a refused request');
  });
});
