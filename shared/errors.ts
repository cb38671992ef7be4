// One registry of the stable error codes wardgate reports to devices, users and
// operators. docs/ERRORS.md documents each; a test keeps the two in step.

export const errorCodes = {
  WG_ERR_JSON: 'The payload is not valid UTF-8 JSON.',
  WG_ERR_SCHEMA: 'A field is missing, of the wrong type, or out of its range.',
  WG_ERR_UNKNOWN_CODE: 'An observation code is neither a known short name nor a known MDC code.',
  WG_ERR_UNIT: 'A unit does not fit the metric (for example kPa for SpO2).',
  WG_ERR_TIMESTAMP: 'A timestamp is unreadable, looks like epoch seconds, or lies too far in the future.',
  WG_ERR_TOO_LARGE: 'A message is larger than the configured limit.',
  WG_ERR_SEQ_CONFLICT: 'A sequence number already stored for this device arrived again with different content.',
  WG_ERR_UNKNOWN_DEVICE: 'The device is not declared in the configuration.',
  WG_ERR_AUTH: 'Wrong or missing credentials.',
  WG_ERR_FORBIDDEN: 'A client published or subscribed outside the topics its role allows.',
  WG_ERR_CLIENT_ID: 'An MQTT client identifier that belongs to another principal: a device must use its id, a user its name or name:suffix.',
  WG_ERR_THROTTLED: 'Too many failed logins for one user name; wait for the time given before trying again.',
  WG_ERR_SERIAL_LINE: 'A complete serial line does not match the format of the port\'s driver (a garbled, cut or foreign line).',
  WG_ERR_SERIAL_PORT: 'A serial port could not be opened or vanished; it is reopened with backoff.',
  WG_ERR_HL7_FORMAT: 'An HL7 v2 message cannot be parsed: no MSH segment, bad encoding characters or a malformed field.',
  WG_ERR_HL7_UNSUPPORTED: 'An HL7 v2 message is not one the port takes: the device listener takes observation reports (IHE PCD-01 ORU^R01), the ADT listener ADT messages; an ADT event the gateway does not use is accepted without effect.',
  WG_ERR_HL7_SENDER: 'The HL7 sender (address, MSH-3 sending application, MSH-4 facility) is not allowed, or reports a device or bed it may not (hl7.senders).',
  WG_ERR_HL7_STATUS: 'An HL7 OBX row is refused by its result status (OBX-11): D deleted, W wrong, or a value outside HL7 table 0085.',
  WG_ERR_HL7_TIMEZONE: 'An HL7 time has no UTC offset, MSH-7 gives none, and no time zone is configured for the sender (hl7.senders[].timeZone): the gateway does not assume its own zone.',
  WG_ERR_HL7_LOCATION: 'An HL7 message names a PV1-3 location (point of care, room, bed) that hl7.locations does not map to a bed of this ward.',
  WG_ERR_HL7_DEMO: 'An HL7 message or row of demo or test data (MSH-11 D or T, OBX-8 demo-data or test-data): counted and logged, never stored as patient data.',
  WG_ERR_HL7_PATIENT: 'An HL7 ADT message names no usable patient: PID-3 (or MRG-1 for a merge) holds no identifier of the type and authority in hl7.adt.identifier.',
  WG_ERR_HL7_REFUSED: 'A hospital system refused a message the gateway sent it (MSA-1 AR or CR): the message is quarantined, not resent, and a technical alarm is raised until an operator sends it again.',
  WG_ERR_HL7_BUSY: 'An HL7 connection was refused or closed: too many open (hl7.maxConnections, hl7.maxConnectionsPerAddress) or no message in time (hl7.firstMessageTimeoutMs).',
  WG_ERR_STORE: 'The reading could not be committed; it was not acknowledged and the sender should retry.',
  WG_ERR_CONFLICT: 'The request conflicts with the current state (a bed already occupied, a patient already admitted).',
  WG_ERR_INTERNAL: 'An unexpected failure inside wardgate; it is logged, and the request may be retried.',
  WG_ERR_CONFIG: 'The configuration file is invalid; the message names the field.',
  WG_ERR_USAGE: 'The command line is invalid.',
  WG_ERR_SIGNATURE: 'A cloud request is unsigned, or its signature does not match the body and timestamp.',
  WG_ERR_STALE: 'A signed cloud request carries a timestamp outside the 5-minute window.',
  WG_ERR_REPLAY: 'A signed cloud request was sent again with the same signature; sign every attempt anew.',
  WG_ERR_NOT_FOUND: 'The API (edge or cloud) has no such route or resource: an unknown path, bed or alarm.',
  WG_ERR_METHOD: 'The HTTP method is not allowed on this cloud endpoint.',
  WG_ERR_UNAVAILABLE: 'A cloud dependency (Firestore, Pub/Sub) failed; the request changed nothing that a retry would repeat, so retry.',
  WG_ERR_ENCODING: 'A cloud request carries a Content-Encoding; the cloud takes bodies only as they are (a batch is application/gzip inside its signature).',
  WG_ERR_LENGTH: 'A cloud request body came without Content-Length (chunked); the function needs the length before it reads the body.',
} as const;

export type ErrorCode = keyof typeof errorCodes;

/** A rejection with a stable code, the offending field (a path such as `obs[1].unit`) and a sentence for people. */
export interface Rejection {
  readonly code: ErrorCode;
  readonly field?: string;
  readonly message: string;
}

export class WardgateError extends Error {
  readonly code: ErrorCode;
  readonly field?: string;
  constructor(code: ErrorCode, message: string, field?: string) {
    super(field ? `${field}: ${message}` : message);
    this.name = 'WardgateError';
    this.code = code;
    this.field = field;
  }
}

export function reject(code: ErrorCode, message: string, field?: string): Rejection {
  return field === undefined ? { code, message } : { code, field, message };
}
