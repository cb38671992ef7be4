// Cloud function logs: pino JSON on stdout, which Cloud Logging parses; the
// level is mapped to Cloud Logging's `severity`. Patient fields, values and
// secrets are redacted by configuration, not by discipline at call sites.
import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

const redact = [
  'patient', '*.patient', 'subject', '*.subject', 'value', '*.value', 'values', '*.values',
  'secret', '*.secret', 'token', '*.token', 'authorization', '*.authorization', 'signature', '*.signature',
];

export function createCloudLogger(level = 'info', destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'wardgate-cloud' },
      messageKey: 'message',
      formatters: { level: (label) => ({ severity: label.toUpperCase() }) },
      redact: { paths: redact, censor: '[redacted]' },
    },
    destination ?? pino.destination({ dest: 1, sync: true }),
  );
}
