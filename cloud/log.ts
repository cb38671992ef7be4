// Cloud function logs: pino JSON on stdout, which Cloud Logging parses; the
// level is mapped to Cloud Logging's `severity`. Patient fields, values and
// secrets are redacted here, in every record and every child's bindings, by
// the list shared with the edge (shared/redaction.ts), not by discipline at
// call sites.
import { pino, type DestinationStream, type Logger } from 'pino';
import { redactingChildren, redactRecord } from '../shared/redaction.js';

export type { Logger };

export function createCloudLogger(level = 'info', destination?: DestinationStream): Logger {
  const log = pino(
    {
      level,
      base: { service: 'wardgate-cloud' },
      messageKey: 'message',
      formatters: { level: (label) => ({ severity: label.toUpperCase() }), bindings: redactRecord, log: redactRecord },
    },
    destination ?? pino.destination({ dest: 1, sync: true }),
  );
  return redactingChildren(log);
}
