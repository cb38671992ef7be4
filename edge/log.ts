// Structured JSON logs (pino). Patient identifiers, payloads and secrets are
// redacted by configuration here (the list shared with the cloud), so that no
// call site has to remember to.
import { pino, type DestinationStream, type Logger } from 'pino';
import { REDACTED, redactedPaths } from '../shared/redaction.js';

export type { Logger };

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'wardgate' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: [...redactedPaths], censor: REDACTED },
    },
    destination ?? pino.destination({ dest: 1, sync: true }),
  );
}
