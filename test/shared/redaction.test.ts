// A record full of patient data, logged where the code logs it (an error and
// its cause, request headers, objects about an admission, a reading, a
// message), through the edge's logger and the cloud's: none of it is printed.
import t from 'tap';
import { createCloudLogger } from '../../cloud/log.js';
import { createLogger } from '../../edge/log.js';
import { REDACTED, redactUrlPasswords, redactedFields } from '../../shared/redaction.js';

type Log = ReturnType<typeof createLogger>;

const loggers: Array<[string, (sink: { write(line: string): void }) => Log]> = [
  ['edge', (sink) => createLogger('debug', sink)],
  ['cloud', (sink) => createCloudLogger('debug', sink)],
];

function capture(make: (sink: { write(line: string): void }) => Log): { log: Log; text: () => string } {
  let text = '';
  return { log: make({ write: (line) => void (text += line) }), text: () => text };
}

/** Each value a distinct string that appears nowhere else, so that any of them in the output is a leak. */
const patient = {
  mrn: 'MRN-55501234',
  identifier: 'NHS-943-476-5919',
  name: 'Albertine Hon',
  family: 'Hon',
  given: 'Albertine',
  birth: '1961-01-01',
  pseudonym: 'psn-7c1f0a9e',
  note: 'fell at home, daughter says confused since Tuesday',
};
const secrets = {
  password: 'correct-horse-battery',
  bearer: 'Bearer tok-3b-station-0123456789',
  cookie: 'wardgate_session=sess-a1b2c3d4e5',
  signature: 'v1=5f4dcc3b5aa765d61d8327deb882cf99',
  secretHash: 'scrypt$16384$salt$hash-9f8e7d',
  csrf: 'csrf-6a5b4c3d2e1f',
};
const leaks = [...Object.values(patient), ...Object.values(secrets)];

function logEverything(log: Log): void {
  // An error the code catches and logs as { err }: its own fields, and its cause's.
  const cause = Object.assign(new Error('constraint failed'), {
    identifier: patient.identifier,
    dateOfBirth: patient.birth,
  });
  const err = Object.assign(new Error('admission could not be stored', { cause }), {
    patient: patient.mrn,
    displayName: patient.name,
    payload: { pid: patient.mrn },
  });
  log.error({ err, bed: '12' }, 'admission failed');
  // A request as the HTTP layers log it.
  log.warn(
    {
      req: {
        method: 'POST',
        url: '/api/admissions',
        headers: { authorization: secrets.bearer, cookie: secrets.cookie, 'x-wardgate-signature': secrets.signature },
      },
    },
    'request refused',
  );
  // Objects about a patient, a reading, a message, an audit entry.
  log.info(
    {
      admission: {
        bed: '12',
        patient: patient.mrn,
        patientId: patient.mrn,
        displayName: patient.name,
        familyName: patient.family,
        givenName: patient.given,
        dateOfBirth: patient.birth,
        birthDate: patient.birth,
      },
      reading: { code: 'spo2', value: 97, unit: '%', subject: patient.pseudonym },
      message: {
        controlId: 'MSG-00017',
        raw: `PID|||${patient.mrn}||${patient.family}^${patient.given}||${patient.birth}`,
        text: patient.note,
      },
      audit: { action: 'admit', detail: { note: patient.note, comment: patient.note } },
      admissions: [{ bed: '14', displayName: patient.name, identifier: patient.identifier }],
    },
    'admitted',
  );
  log.debug(
    {
      user: { name: 'nurse.kim', password: secrets.password, secretHash: secrets.secretHash },
      session: { csrfToken: secrets.csrf, token: secrets.csrf },
    },
    'login',
  );
  log
    .child({ patient: patient.mrn })
    .info({ subject: patient.pseudonym, dob: patient.birth, freeText: patient.note }, 'child with a patient binding');
}

for (const [side, make] of loggers) {
  t.test(`${side}: a record full of patient data and secrets is logged with none of them`, async (t) => {
    const { log, text } = capture(make);
    logEverything(log);
    const out = text();
    const lines = out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    t.equal(lines.length, 5, 'every record was logged');
    for (const leak of leaks) t.notOk(out.includes(leak), `no ${leak}`);
    t.notMatch(out, /"value":97/, 'no measured value');
    // What is not patient data is still there, so the log stays useful.
    t.match(out, /"bed":"12"/);
    t.match(out, /"code":"spo2"/);
    t.match(out, /"controlId":"MSG-00017"/);
    t.match(out, /admission could not be stored/);
    t.match(out, /"method":"POST"/);
    t.match(out, /"name":"nurse.kim"/);
    t.ok(out.split(REDACTED).length > 25, 'the fields are there, redacted');
  });

  t.test(
    `${side}: every field of the list is redacted at any depth, in any case, in arrays and in a grandchild's bindings`,
    async (t) => {
      const { log, text } = capture(make);
      for (const field of redactedFields) {
        const marker = `leak-${field}`;
        log.info(
          {
            [field]: `${marker}-0`,
            a: { [field.toUpperCase()]: `${marker}-1`, b: { c: { d: [{ e: { [field]: `${marker}-5` } }] } } },
          },
          'nested',
        );
        log
          .child({ ward: '3B' })
          .child({ [field]: `${marker}-child` })
          .info('bound');
      }
      const out = text();
      t.equal(out.trim().split('\n').length, 2 * redactedFields.length);
      t.notMatch(out, /leak-/, 'no value anywhere');
      t.match(out, /"ward":"3B"/);
    },
  );

  t.test(
    `${side}: an error keeps its type, message and stack; the caller's objects are not changed; a cycle is no crash`,
    async (t) => {
      const { log, text } = capture(make);
      const err = Object.assign(new TypeError('bed 12 is not a number'), { patient: patient.mrn });
      const record = { err, admission: { bed: '12', displayName: patient.name } };
      log.error(record, 'failed');
      log.error(err);
      const circular: Record<string, unknown> = { bed: '12', identifier: patient.identifier };
      circular.self = circular;
      log.warn({ circular }, 'a record that holds itself');
      const [first, second, third] = text()
        .trim()
        .split('\n')
        .map(
          (l) => JSON.parse(l) as Record<string, { type?: string; message?: string; stack?: string; patient?: string }>,
        );
      t.match(first.err, { type: 'TypeError', message: 'bed 12 is not a number', patient: REDACTED });
      t.match(first.err.stack, /^TypeError: bed 12 is not a number\n\s+at /);
      t.match(second.err, { type: 'TypeError', patient: REDACTED });
      t.match(third.circular, { bed: '12', identifier: REDACTED, self: '[circular]' });
      t.equal(err.patient, patient.mrn, 'the error itself still holds its field');
      t.equal(record.admission.displayName, patient.name, 'and so does the record');
      t.notOk(text().includes(patient.mrn) || text().includes(patient.identifier));
    },
  );

  t.test(
    `${side}: an error caused by a fetch's timeout (a DOMException) is logged, not a crash of the process`,
    async (t) => {
      const { log, text } = capture(make);
      // What a request deadline's abort leaves as the cause of a failed fetch (edge/sync/transport.ts).
      const timeout = new DOMException('no answer within 10000 ms', 'TimeoutError');
      const err = Object.assign(new Error('fetch failed', { cause: timeout }), { token: secrets.bearer });
      log.error({ err }, 'verification failed');
      log.warn({ err: new DOMException('This operation was aborted', 'AbortError') }, 'aborted');
      const [first, second] = text()
        .trim()
        .split('\n')
        .map(
          (l) => JSON.parse(l) as Record<string, { type?: string; message?: string; stack?: string; name?: string }>,
        );
      t.match(first.err, { type: 'Error', message: 'fetch failed: no answer within 10000 ms', token: REDACTED });
      t.match(first.err.stack, /caused by: TimeoutError: no answer within 10000 ms/);
      t.match(second.err, { type: 'DOMException', message: 'This operation was aborted', name: 'AbortError' });
      t.equal(timeout.message, 'no answer within 10000 ms', 'the error itself still works');
      t.notOk(text().includes(secrets.bearer));
    },
  );

  t.test(
    `${side}: a field named __proto__ (as JSON.parse makes it) is logged as a field, its contents redacted`,
    async (t) => {
      const { log, text } = capture(make);
      const parsed = JSON.parse(`{"__proto__": {"bed": "12", "mrn": "${patient.mrn}"}, "bed": "14"}`) as Record<
        string,
        unknown
      >;
      log.warn({ body: parsed }, 'a hostile body');
      const line = JSON.parse(text()) as { body: Record<string, unknown> };
      t.ok(Object.hasOwn(line.body, '__proto__'), 'still an own field of the record');
      t.same(line.body['__proto__'], { bed: '12', mrn: REDACTED });
      t.equal(line.body.bed, '14');
      t.notOk(text().includes(patient.mrn));
    },
  );

  t.test(
    `${side}: a proxy URL's password is blanked wherever it sits: a URL object, a string, an error's message`,
    async (t) => {
      const { log, text } = capture(make);
      const password = 'Pr0xy:pa55@word';
      const raw = `http://ward:${password}@proxy.hospital.example:3128`;
      const url = new URL(`http://ward:${encodeURIComponent(password)}@proxy.hospital.example:3128/`);
      // What an HTTP library's error keeps of the request it failed: its proxy agent, the proxy URL, the headers.
      const err = Object.assign(new Error(`request through ${raw} failed`), {
        config: {
          proxy: raw,
          agent: { proxy: url, proxyHeaders: { 'Proxy-Authorization': 'Basic d2FyZDpzZWNyZXQ=' } },
          headers: { proxyAuthorization: 'Basic d2FyZDpzZWNyZXQ=' },
        },
      });
      log.error({ err, list: [url, `see ${raw}, then https://cloud.example/a@b`] }, 'token failed');
      const out = text();
      for (const leak of [password, encodeURIComponent(password), 'pa55', 'd2FyZDpzZWNyZXQ='])
        t.notOk(out.includes(leak), `no ${leak}`);
      const line = JSON.parse(out) as {
        err: { message: string; config: { proxy: string; agent: { proxy: string } } };
        list: string[];
      };
      t.equal(line.err.message, `request through http://ward:${REDACTED}@proxy.hospital.example:3128 failed`);
      t.equal(line.err.config.proxy, `http://ward:${REDACTED}@proxy.hospital.example:3128`);
      t.match(
        line.err.config.agent.proxy,
        /^http:\/\/ward:.+@proxy\.hospital\.example:3128\/$/,
        'the URL, its user and host',
      );
      t.same(line.list[1], `see http://ward:${REDACTED}@proxy.hospital.example:3128, then https://cloud.example/a@b`);
      t.equal(url.password, encodeURIComponent(password), 'the URL itself is not changed');
    },
  );
}

t.test("the list holds every field the edge's and the cloud's own lists protected", async (t) => {
  const formerEdge = [
    'patient',
    'patientId',
    'mrn',
    'displayName',
    'payload',
    'raw',
    'value',
    'values',
    'password',
    'secret',
    'secretHash',
    'token',
  ];
  const formerCloud = ['patient', 'subject', 'value', 'values', 'secret', 'token', 'authorization', 'signature'];
  const fields = new Set<string>(redactedFields);
  for (const field of [...formerEdge, ...formerCloud]) t.ok(fields.has(field), field);
});

t.test('URL passwords are found in one pass: a long hostile string costs no more than its length', async (t) => {
  t.equal(
    redactUrlPasswords(
      'a://u:p@h://v:q@k/ and x://w:r@y.z:80/p?q=a@b, not https://cloud.example/a@b nor s://user@host:8',
    ),
    `a://u:${REDACTED}@h://v:${REDACTED}@k/ and x://w:${REDACTED}@y.z:80/p?q=a@b, not https://cloud.example/a@b nor s://user@host:8`,
  );
  // Shapes that make a backtracking pattern quadratic: 64 KiB took it 2.7 and 4.6 s.
  for (const text of [
    `${'a'.repeat(65_536)}:/ @ ://`,
    `a://${'b'.repeat(32_768)}:${'c'.repeat(32_768)}/@`,
    `${'://x'.repeat(16_384)}@`,
  ]) {
    const started = performance.now();
    redactUrlPasswords(text);
    t.ok(
      performance.now() - started < 100,
      `${text.length} characters in ${Math.round(performance.now() - started)} ms`,
    );
  }
});
