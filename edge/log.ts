// Structured JSON logs (pino). Patient identifiers, payloads and secrets are
// redacted by configuration here, so that no call site has to remember to.
import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

export const redactedPaths = [
  'patient', '*.patient', 'patientId', '*.patientId', 'mrn', '*.mrn', 'displayName', '*.displayName',
  'payload', '*.payload', 'raw', '*.raw', 'value', '*.value', 'values', '*.values',
  'password', '*.password', 'secret', '*.secret', 'secretHash', '*.secretHash', 'token', '*.token',
];

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'wardgate' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: redactedPaths, censor: '[redacted]' },
    },
    destination ?? pino.destination({ dest: 1, sync: true }),
  );
}
