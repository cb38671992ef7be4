// Structured JSON logs (pino). Patient identifiers, payloads and secrets are
// redacted here, in every record and every child's bindings, by the list
// shared with the cloud (shared/redaction.ts): no call site has to remember to.
import { pino, type DestinationStream, type Logger } from 'pino';
import { redactingChildren, redactRecord } from '../shared/redaction.js';

export type { Logger };

export function createLogger(level: string, destination?: DestinationStream): Logger {
  const log = pino(
    {
      level,
      base: { service: 'wardgate' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { bindings: redactRecord, log: redactRecord },
    },
    destination ?? pino.destination({ dest: 1, sync: true }),
  );
  return redactingChildren(log);
}
