// Cloud function logs: pino JSON on stdout, which Cloud Logging parses; the
// level is mapped to Cloud Logging's `severity`. Patient fields, values and
// secrets are redacted by configuration (the list shared with the edge), not
// by discipline at call sites.
import { pino, type DestinationStream, type Logger } from 'pino';
import { REDACTED, redactedPaths } from '../shared/redaction.js';

export type { Logger };

export function createCloudLogger(level = 'info', destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'wardgate-cloud' },
      messageKey: 'message',
      formatters: { level: (label) => ({ severity: label.toUpperCase() }) },
      redact: { paths: [...redactedPaths], censor: REDACTED },
    },
    destination ?? pino.destination({ dest: 1, sync: true }),
  );
}
