// The fields no log line shows, on the edge and in the cloud alike: one list,
// so that what one side keeps out of its logs the other does not print. pino
// redacts them by configuration (edge/log.ts, cloud/log.ts); no call site has
// to remember to.

/** Field names (keys of a log record) whose values are never logged. */
export const redactedFields = [
  // Who the patient is: identifiers, names, dates of birth.
  'patient', 'patientId', 'mrn', 'identifier', 'subject',
  'displayName', 'patientName', 'familyName', 'givenName',
  'dateOfBirth', 'birthDate', 'dob',
  // What was measured or said about them: values, whole payloads and messages, free text.
  'value', 'values', 'payload', 'raw', 'text', 'note', 'notes', 'comment', 'freeText',
  // Secrets: passwords, tokens, signatures, and the headers that carry them.
  'password', 'passphrase', 'secret', 'secretHash', 'token', 'localToken', 'csrfToken', 'idToken', 'accessToken',
  'authorization', 'cookie', 'set-cookie', 'signature', 'x-wardgate-signature',
] as const;

/**
 * How deep a field is looked for: at the top of a record and two objects
 * down, which covers what the code logs (`err.patient`, `err.cause.patient`,
 * `req.headers.authorization`, `admission.patient`). Each level is one more
 * wildcard for pino to walk on every line.
 */
const DEPTH = 2;

/** The fields as pino redact paths, at every depth up to DEPTH. */
export const redactedPaths: readonly string[] = redactedFields.flatMap((field) => {
  const plain = /^[A-Za-z_$][\w$]*$/.test(field);
  // A header name with a dash is written in brackets: *.*["set-cookie"].
  return Array.from({ length: DEPTH + 1 }, (_, depth) => (plain ? `${'*.'.repeat(depth)}${field}` : `${'*.'.repeat(depth).slice(0, -1)}["${field}"]`));
});

/** What a redacted value is replaced with. */
export const REDACTED = '[redacted]';
