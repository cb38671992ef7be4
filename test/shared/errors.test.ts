import { once } from 'node:events';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, request, type RequestListener, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { http as registerFunction, type Response } from '@google-cloud/functions-framework';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import t from 'tap';
import ts from 'typescript';
import { sendError } from '../../cloud/http.js';
import { writeError } from '../../cloud/requestGuard.js';
import { sendJsonError } from '../../edge/http/server.js';
import { errorTable, withTable } from '../../scripts/errorsDoc.js';
import {
  errorCodes,
  httpStatusOf,
  isHttpErrorCode,
  reject,
  WardgateError,
  type ErrorEntry,
  type HttpErrorCode,
} from '../../shared/errors.js';

const docs = readFileSync(new URL('../../docs/ERRORS.md', import.meta.url), 'utf8');
const registry = errorCodes as Record<string, ErrorEntry>;

t.test('docs/ERRORS.md documents every code, and no code that does not exist', async (t) => {
  for (const code of Object.keys(errorCodes)) t.match(docs, new RegExp(`\\| \`${code}\` \\|`), `${code} has a row`);
  const documented = new Set(docs.match(/WG_ERR_[A-Z0-9_]+/g));
  for (const code of documented) t.ok(code in errorCodes, `${code} exists in shared/errors.ts`);
});

/** Every file under these folders of the product, as text. */
function productSources(): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  const walk = (dir: URL) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) walk(new URL(`${entry.name}/`, dir));
      else if (/\.(ts|js)$/.test(entry.name))
        out.push([fileURLToPath(new URL(entry.name, dir)), readFileSync(new URL(entry.name, dir), 'utf8')]);
    }
  };
  for (const dir of ['edge/', 'cloud/', 'shared/', 'simulators/', 'bin/'])
    walk(new URL(`../../${dir}`, import.meta.url));
  return out;
}

t.test(
  'every WG_ERR_ code the product names is registered, also where a code is only a string (a metric label, a stored reason)',
  async (t) => {
    const sources = productSources();
    t.ok(sources.length > 100, `${sources.length} files read`);
    let named = 0;
    for (const [file, text] of sources) {
      for (const [code] of text.matchAll(/WG_ERR_[A-Z0-9_]*[A-Z0-9]/g)) {
        named++;
        if (!(code in errorCodes)) t.fail(`${code} in ${file} is not registered in shared/errors.ts`);
      }
    }
    t.ok(named > 200, `${named} codes named, all registered`);
  },
);

t.test("docs/ERRORS.md's table of every code is the registry's: code, HTTP status, meaning", async (t) => {
  t.equal(
    withTable(docs),
    docs,
    'the page holds the table made from shared/errors.ts (node dist/scripts/errorsDoc.js rewrites it)',
  );
  t.match(errorTable(), '| `WG_ERR_THROTTLED` | 429 | Too many failed logins');
  t.match(errorTable(), '| `WG_ERR_HL7_FORMAT` | - |', 'a code that never travels over HTTP has no status');
});

t.test('every HTTP status the page names beside a code is the one the registry gives it', async (t) => {
  let checked = 0;
  for (const line of docs.split('\n')) {
    const row = /^\| `(WG_ERR_[A-Z0-9_]+)` \|/.exec(line);
    if (row) {
      for (const [, status] of line.matchAll(/HTTP (\d{3})/g)) {
        t.equal(Number(status), registry[row[1]].status, `${row[1]}: HTTP ${status}`);
        checked++;
      }
    }
  }
  for (const [, code, status] of docs.matchAll(/`(WG_ERR_[A-Z0-9_]+)` \((\d{3})\b/g)) {
    t.equal(Number(status), registry[code].status, `${code} (${status})`);
    checked++;
  }
  for (const [, status, code] of docs.matchAll(/\b(\d{3}) `(WG_ERR_[A-Z0-9_]+)`/g)) {
    t.equal(Number(status), registry[code].status, `${status} ${code}`);
    checked++;
  }
  t.ok(checked >= 20, `${checked} statuses checked`);
});

/** The JSON examples of the "Error bodies" section, in order: the edge's, then the cloud's. */
function documentedBodies(): Array<Record<string, unknown>> {
  const section = docs.slice(docs.indexOf('## Error bodies'), docs.indexOf('## Every code'));
  return [...section.matchAll(/```json\n(.*)\n```/g)].map(([, json]) => JSON.parse(json) as Record<string, unknown>);
}

async function answer(listener: RequestListener, path = '/'): Promise<{ status: number; type: string; body: unknown }> {
  const server = createServer(listener).listen(0, '127.0.0.1');
  await once(server, 'listening');
  try {
    const res = await new Promise<import('node:http').IncomingMessage>((resolve, reject) => {
      request({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, path }, resolve)
        .on('error', reject)
        .end();
    });
    const chunks: Buffer[] = [];
    for await (const chunk of res) chunks.push(chunk as Buffer);
    return {
      status: res.statusCode ?? 0,
      type: String(res.headers['content-type']),
      body: JSON.parse(Buffer.concat(chunks).toString('utf8')),
    };
  } finally {
    server.closeAllConnections();
    server.close();
  }
}

t.test('the edge API sends the body the page shows, with the status of its code', async (t) => {
  const [edge] = documentedBodies();
  t.ok(edge, 'the page shows an edge body');
  const { code, message, field } = edge as { code: HttpErrorCode; message: string; field: string };
  const sent = await answer((_req, res) => sendJsonError(res, code, message, field));
  t.same(sent.body, edge);
  t.equal(sent.status, httpStatusOf(code));
  t.match(sent.type, /^application\/json/);
  const bare = await answer((_req, res) => sendJsonError(res, 'WG_ERR_NOT_FOUND', 'no such resource: /x'));
  t.same(bare.body, { code: 'WG_ERR_NOT_FOUND', message: 'no such resource: /x' }, 'no field: left out');
  t.equal(bare.status, 404);
});

t.test(
  'the cloud sends the body the page shows, with the status of its code, from the function and from the guard',
  async (t) => {
    const [, cloud] = documentedBodies();
    t.ok(cloud, 'the page shows a cloud body');
    const { code, message, field } = (cloud as { error: { code: HttpErrorCode; message: string; field: string } })
      .error;
    registerFunction('errorBodyExample', (_req, res: Response) => sendError(res, code, message, field));
    const framework = await answer(getTestServer('errorBodyExample').listeners('request')[0] as RequestListener);
    t.same(framework.body, cloud, 'a function answering through the framework');
    t.equal(framework.status, httpStatusOf(code));
    const guard = await answer((_req, res: ServerResponse) => writeError(res, code, message, field));
    t.same(guard.body, cloud, 'the guard in front of the framework');
    t.equal(guard.status, httpStatusOf(code));
    const bare = await answer((_req, res: ServerResponse) =>
      writeError(res, 'WG_ERR_LENGTH', 'send the body with a Content-Length'),
    );
    t.same(
      bare.body,
      { ok: false, error: { code: 'WG_ERR_LENGTH', message: 'send the body with a Content-Length' } },
      'no field: left out',
    );
    t.equal(bare.status, 411);
  },
);

t.test('the registry answers which codes travel over HTTP, and with which status', async (t) => {
  t.equal(httpStatusOf('WG_ERR_THROTTLED'), 429);
  t.equal(httpStatusOf('WG_ERR_CONFLICT'), 409);
  t.ok(isHttpErrorCode('WG_ERR_SCHEMA'));
  t.notOk(isHttpErrorCode('WG_ERR_HL7_FORMAT'), 'registered, no status');
  t.notOk(isHttpErrorCode('WG_ERR_RATE_LIMITED'), 'not registered');
  t.notOk(isHttpErrorCode('toString'), 'nothing from the prototype');
  for (const [code, { status }] of Object.entries(registry)) {
    t.match(code, /^WG_ERR_[A-Z0-9_]+$/);
    if (status !== undefined) t.ok(status >= 400 && status < 600, `${code}: ${status} is an error status`);
  }
});

t.test('an unregistered code, or a status chosen by hand, does not compile', async (t) => {
  const file = fileURLToPath(new URL('./errorCodes.typecheck.ts', import.meta.url));
  const source = readFileSync(file, 'utf8');
  const expected = source.split('\n').flatMap((line, i) => (/^\s*\/\/ @ts-expect-error/.test(line) ? [i + 1] : []));
  t.ok(expected.length >= 8, `${expected.length} lines that must not compile`);
  const config = ts.getParsedCommandLineOfConfigFile(
    fileURLToPath(new URL('../../tsconfig.test.json', import.meta.url)),
    {},
    { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => undefined },
  )!;
  let previous: ts.Program | undefined;
  const compile = (text: string) => {
    const host = ts.createCompilerHost(config.options);
    const read = host.getSourceFile.bind(host);
    host.getSourceFile = (name, version) =>
      name === file ? ts.createSourceFile(name, text, version) : read(name, version);
    // The second compile reuses the first one's parse of every other file.
    previous = ts.createProgram([file], config.options, host, previous);
    const checked = previous.getSourceFile(file)!;
    return [...previous.getSyntacticDiagnostics(checked), ...previous.getSemanticDiagnostics(checked)];
  };
  t.same(
    compile(source).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n')),
    [],
    'as written, every directive is used',
  );
  // Without the directives, the line after each must be an error of its own.
  const bare = source.replace(/^\s*\/\/ @ts-expect-error.*$/gm, '');
  const errors = compile(bare);
  const lines = errors.map((d) => d.file!.getLineAndCharacterOfPosition(d.start!).line + 1);
  t.same(
    lines,
    expected.map((l) => l + 1),
    'one error on each line under a directive, and none elsewhere',
  );
  const messages = errors.map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n')).join('\n');
  t.match(messages, /"WG_ERR_THROTTLE"/);
  t.match(messages, /"WG_ERR_RATE_LIMITED"/);
  t.match(messages, /"WG_ERR_HL7_FORMAT"/);
});

t.test('errors carry their code and field', async (t) => {
  const err = new WardgateError('WG_ERR_CONFIG', 'expected a number', 'mqtt.port');
  t.equal(err.message, 'mqtt.port: expected a number');
  t.equal(err.code, 'WG_ERR_CONFIG');
  t.same(reject('WG_ERR_UNIT', 'no'), { code: 'WG_ERR_UNIT', message: 'no' });
});
