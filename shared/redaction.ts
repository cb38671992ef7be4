// The fields no log line shows, on the edge and in the cloud alike: one list,
// so that what one side keeps out of its logs the other does not print. Both
// loggers (edge/log.ts, cloud/log.ts) pass every record through
// redactRecord; no call site has to remember to.
//
// A walk over the record rather than pino's `redact` paths: a field must be
// found however deep it sits (req.headers.authorization, an error's cause),
// and pino's wildcard paths for this list, two levels deep, cost about 200 µs
// a line where the walk costs 5 to 20 (the former edge paths, one level: 15
// to 30).

/** Field names (keys of a log record, any case) whose values are never logged. */
// prettier-ignore
export const redactedFields = [
  // Who the patient is: identifiers, names, dates of birth.
  'patient', 'patientId', 'mrn', 'identifier', 'subject',
  'displayName', 'patientName', 'familyName', 'givenName',
  'dateOfBirth', 'birthDate', 'dob',
  // What was measured or said about them: values, whole payloads and messages, free text.
  'value', 'values', 'payload', 'raw', 'text', 'note', 'notes', 'comment', 'freeText',
  // Secrets: passwords, tokens, signatures, and the headers that carry them.
  'password', 'passphrase', 'secret', 'secretHash', 'token', 'localToken', 'csrfToken', 'idToken', 'accessToken',
  'authorization', 'proxy-authorization', 'proxyAuthorization', 'cookie', 'set-cookie', 'signature',
  'x-wardgate-signature',
] as const;

/** What a redacted value is replaced with. */
export const REDACTED = '[redacted]';

/** Deeper than this, a record is not printed: nothing the code logs comes near. */
const MAX_DEPTH = 12;

const redacted = new Set(redactedFields.map((f) => f.toLowerCase()));

/**
 * A copy of a log record with the value of every listed field replaced, at
 * any depth, in plain objects, arrays and errors (own properties, message,
 * stack, cause and aggregated errors alike). The record itself is not
 * changed: the caller may still be using it.
 */
export function redactRecord<T extends object>(record: T): T {
  try {
    return copy(record, 0, new WeakSet()) as T;
  } catch (err) {
    // A log line never takes the process down: what could not be copied is not printed.
    return { unprintable: err instanceof Error ? err.name : typeof err } as unknown as T;
  }
}

type Child = (this: unknown, bindings: Record<string, unknown>, ...rest: never[]) => unknown;

/**
 * Makes every child of a pino logger redact its bindings (log.child({ ... })):
 * pino passes only the root's bindings through the bindings formatter.
 * Children are created from the root, so they inherit this child() too.
 */
export function redactingChildren<L extends { child: Child }>(logger: L): L {
  const child = logger.child;
  const redacting: Child = function (this: unknown, bindings, ...rest) {
    return child.call(this, redactRecord(bindings), ...rest);
  };
  Object.defineProperty(logger, 'child', { value: redacting, writable: true, configurable: true });
  return logger;
}

/** The run of characters that can be a URL's authority (`user:password@host:port`), matched from a given index. */
const AUTHORITY = /[^\s/?#"'<>]*/y;

/**
 * `text` with every URL password in it (`scheme://user:password@host`)
 * replaced: in an error message, a stack, a proxy variable as some library
 * kept it. The userinfo runs to the last `@` before the host, and the
 * password from its first `:`, as a URL parser reads them. One pass over the
 * text, whatever it holds: a log record may carry a string a device or a
 * client sent (a topic, a field), and a backtracking pattern over tens of
 * kilobytes of such text would hold the event loop, and the alarms, for
 * seconds.
 */
export function redactUrlPasswords(text: string): string {
  // Most strings hold no `://` at all.
  if (!text.includes('://') || !text.includes('@')) return text;
  let out = '';
  let copied = 0;
  for (let mark = text.indexOf('://'); mark !== -1;) {
    const start = mark + 3;
    AUTHORITY.lastIndex = start;
    const end = start + AUTHORITY.exec(text)![0].length;
    let colon = -1;
    let at = -1;
    for (let i = start; i < end; i++) {
      const c = text.charCodeAt(i);
      if (c === 0x40 /* @ */) at = i;
      else if (c === 0x3a /* : */ && colon === -1) colon = i;
    }
    if (at !== -1 && colon !== -1 && colon < at) {
      out += `${text.slice(copied, colon + 1)}${REDACTED}`;
      copied = at;
    }
    // The next URL starts at the end of this one's authority at the earliest (its last `:` may be the next `://`'s):
    // no character is read more than twice.
    mark = text.indexOf('://', end - 1);
  }
  return copied === 0 ? text : out + text.slice(copied);
}

function copy(value: unknown, depth: number, path: WeakSet<object>): unknown {
  if (typeof value === 'string') return redactUrlPasswords(value);
  if (value === null || typeof value !== 'object') return value;
  if (depth > MAX_DEPTH) return '[too deep]';
  // A URL prints its password in its href: printed as that href without it.
  if (value instanceof URL) return redactUrlPasswords(value.href);
  // What prints itself (a Date, a Buffer) holds no field to look for.
  if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return value;
  if (path.has(value)) return '[circular]';
  path.add(value);
  try {
    if (Array.isArray(value)) return value.map((item) => copy(item, depth + 1, path));
    if (value instanceof Error) return copyError(value, depth, path);
    // A plain object, as pino wants; defined rather than assigned, so that a
    // field named '__proto__' stays a field instead of replacing the prototype.
    const out = {};
    for (const [key, item] of Object.entries(value)) {
      Object.defineProperty(out, key, {
        value: field(key, item, depth, path),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return out;
  } finally {
    path.delete(value);
  }
}

/**
 * An error of the same class (so that pino's serializer names its type), with
 * every own property copied, and its name, message and whatever else it shows
 * through its prototype too: a DOMException (a fetch's TimeoutError or
 * AbortError, often an error's cause) keeps name, message and code in
 * accessors that read internal slots, and on a copy they throw, which took
 * the whole process down with the log line. Each is read from the error and
 * defined on the copy as its own, enumerable where the error's was.
 */
function copyError(err: Error, depth: number, path: WeakSet<object>): Error {
  const out = Object.create(Object.getPrototypeOf(err) as object) as Error;
  const listed = new Set<string>();
  // Inherited ones too: pino lists an error's fields the same way.
  for (const key in err) listed.add(key);
  const keys = new Set([...Object.getOwnPropertyNames(err), 'name', 'message', ...listed]);
  for (const key of keys) {
    const own = Object.getOwnPropertyDescriptor(err, key);
    let value: unknown;
    try {
      // An own property of err, or one it shows through its prototype (an accessor runs on err itself, where it works).
      value = Reflect.get(err, key);
    } catch {
      continue;
    }
    Object.defineProperty(out, key, {
      value: field(key, value, depth, path),
      enumerable: own ? own.enumerable : listed.has(key),
      writable: true,
      configurable: true,
    });
  }
  return out;
}

function field(key: string, value: unknown, depth: number, path: WeakSet<object>): unknown {
  return redacted.has(key.toLowerCase()) ? REDACTED : copy(value, depth + 1, path);
}
