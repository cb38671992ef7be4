// One registry of the stable error codes wardgate reports to devices, users and
// operators: per code, the HTTP status it is answered with where it travels
// over HTTP (so no call site picks one), and the line docs/ERRORS.md gives it.
// test/shared/errors.test.ts keeps the docs in step with this table.

export interface ErrorEntry {
  /** The status of every HTTP answer with this code; absent for a code that never travels over HTTP. */
  readonly status?: number;
  /** The code's line in docs/ERRORS.md. */
  readonly doc: string;
}

export const errorCodes = {
  WG_ERR_JSON: { status: 400, doc: 'The payload is not valid UTF-8 JSON.' },
  WG_ERR_SCHEMA: { status: 400, doc: 'A field is missing, of the wrong type, or out of its range.' },
  WG_ERR_UNKNOWN_CODE: { doc: 'An observation code is neither a known short name nor a known MDC code.' },
  WG_ERR_UNIT: { doc: 'A unit does not fit the metric (for example kPa for SpO2).' },
  WG_ERR_TIMESTAMP: { doc: 'A timestamp is unreadable, looks like epoch seconds, or lies too far in the future.' },
  WG_ERR_TOO_LARGE: { status: 413, doc: 'A message or request body is larger than the configured limit.' },
  WG_ERR_SEQ_CONFLICT: {
    doc: 'A sequence number already stored for this device arrived again with different content.',
  },
  WG_ERR_UNKNOWN_DEVICE: { doc: 'The device is not declared in the configuration.' },
  WG_ERR_AUTH: { status: 401, doc: 'Wrong or missing credentials.' },
  WG_ERR_FORBIDDEN: {
    status: 403,
    doc: "A client acted outside what its role allows: an MQTT topic, an API route, or a change from another site or without the session's CSRF token.",
  },
  WG_ERR_CLIENT_ID: {
    doc: 'An MQTT client identifier that belongs to another principal: a device must use its id, a user its name or name:suffix.',
  },
  WG_ERR_THROTTLED: {
    status: 429,
    doc: 'Too many failed logins for one user name; wait for the time given before trying again.',
  },
  WG_ERR_SERIAL_LINE: {
    doc: "A complete serial line does not match the format of the port's driver (a garbled, cut or foreign line).",
  },
  WG_ERR_SERIAL_PORT: { doc: 'A serial port could not be opened or vanished; it is reopened with backoff.' },
  WG_ERR_HL7_FORMAT: {
    doc: 'An HL7 v2 message cannot be parsed: no MSH segment, bad encoding characters or a malformed field.',
  },
  WG_ERR_HL7_UNSUPPORTED: {
    doc: 'An HL7 v2 message is not one the port takes: the device listener takes observation reports (IHE PCD-01 ORU^R01), the ADT listener ADT messages; an ADT event the gateway does not use is accepted without effect.',
  },
  WG_ERR_HL7_SENDER: {
    doc: 'The HL7 sender (address, MSH-3 sending application, MSH-4 facility) is not allowed, or reports a device or bed it may not (hl7.senders).',
  },
  WG_ERR_HL7_STATUS: {
    doc: 'An HL7 OBX row is refused by its result status (OBX-11): D deleted, W wrong, or a value outside HL7 table 0085.',
  },
  WG_ERR_HL7_TIMEZONE: {
    doc: 'An HL7 time has no UTC offset, MSH-7 gives none, and no time zone is configured for the sender (hl7.senders[].timeZone): the gateway does not assume its own zone.',
  },
  WG_ERR_HL7_LOCATION: {
    doc: 'An HL7 message names a PV1-3 location (point of care, room, bed) that hl7.locations does not map to a bed of this ward.',
  },
  WG_ERR_HL7_DEMO: {
    doc: 'An HL7 message or row of demo or test data (MSH-11 D or T, OBX-8 demo-data or test-data): counted and logged, never stored as patient data.',
  },
  WG_ERR_HL7_PATIENT: {
    doc: 'An HL7 ADT message names no usable patient: PID-3 (or MRG-1 for a merge) holds no identifier of the type and authority in hl7.adt.identifier.',
  },
  WG_ERR_HL7_REFUSED: {
    doc: 'A hospital system refused a message the gateway sent it (MSA-1 AR or CR): the message is quarantined, not resent, and a technical alarm is raised until an operator sends it again.',
  },
  WG_ERR_HL7_BUSY: {
    doc: 'An HL7 connection was refused or closed: too many open (hl7.maxConnections, hl7.maxConnectionsPerAddress) or no message in time (hl7.firstMessageTimeoutMs).',
  },
  WG_ERR_STORE: { doc: 'The reading could not be committed; it was not acknowledged and the sender should retry.' },
  WG_ERR_CONFLICT: {
    status: 409,
    doc: 'The request conflicts with the current state (a bed already occupied, a patient already admitted).',
  },
  WG_ERR_INTERNAL: {
    status: 500,
    doc: 'An unexpected failure inside wardgate; it is logged, and the request may be retried.',
  },
  WG_ERR_CONFIG: {
    status: 500,
    doc: 'The configuration is invalid (the message names the field); a cloud function that cannot read its settings answers with it.',
  },
  WG_ERR_USAGE: { doc: 'The command line is invalid.' },
  WG_ERR_SIGNATURE: {
    status: 401,
    doc: 'A cloud request is unsigned, or its signature does not match the body and timestamp.',
  },
  WG_ERR_STALE: { status: 401, doc: 'A signed cloud request carries a timestamp outside the 5-minute window.' },
  WG_ERR_REPLAY: {
    status: 401,
    doc: 'A signed cloud request was sent again with the same signature; sign every attempt anew.',
  },
  WG_ERR_NOT_FOUND: {
    status: 404,
    doc: 'The API (edge or cloud) has no such route or resource: an unknown path, bed or alarm.',
  },
  WG_ERR_METHOD: { status: 405, doc: 'The HTTP method is not allowed on this route (edge API or cloud endpoint).' },
  WG_ERR_UNAVAILABLE: {
    status: 503,
    doc: 'A cloud dependency (Firestore, Pub/Sub) failed; the request changed nothing that a retry would repeat, so retry.',
  },
  WG_ERR_ENCODING: {
    status: 415,
    doc: 'A cloud request carries a Content-Encoding or a charset other than UTF-8; the cloud takes bodies only as they are (a batch is application/gzip inside its signature).',
  },
  WG_ERR_LENGTH: {
    status: 411,
    doc: 'A cloud request body came without Content-Length (chunked); the function needs the length before it reads the body.',
  },
  WG_ERR_ANSWER: {
    doc: "The gateway's verdict on a cloud answer: a 2xx that is not the answer the sync contract requires (another batch id, no heads asked for), such as a proxy's page; the request is retried.",
  },
  WG_ERR_PROXY: {
    doc: "The hospital's web proxy refused a request of the gateway (407 wrong proxy credentials, 403 a host it does not allow) or could not be reached; the request is retried like a network error.",
  },
  WG_ERR_HEADERS_TOO_LARGE: {
    status: 431,
    doc: "A cloud request's headers are larger than the server reads (16 KiB); the connection is closed after the answer.",
  },
} as const satisfies Record<`WG_ERR_${string}`, ErrorEntry>;

/** A registered code: any other string is a type error wherever a code is taken. */
export type ErrorCode = keyof typeof errorCodes;

/** The codes an HTTP answer may carry: those the registry gives a status. */
export type HttpErrorCode = {
  [C in ErrorCode]: (typeof errorCodes)[C] extends { readonly status: number } ? C : never;
}[ErrorCode];

/** The status every HTTP answer with this code gets, on the edge and in the cloud alike. */
export function httpStatusOf(code: HttpErrorCode): number {
  return errorCodes[code].status;
}

/** Narrows a code that came from a validator or a thrown error to one an HTTP answer may carry. */
export function isHttpErrorCode(code: string): code is HttpErrorCode {
  return Object.hasOwn(errorCodes, code) && 'status' in errorCodes[code as ErrorCode];
}

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
