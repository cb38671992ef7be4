// What `wardgate status` shows of the ADT link, whether or not the daemon
// runs: when the listener opened, how many are connected, when the last
// message came, and the answers given since it opened (applied, without
// effect, resends, late events, refusals) with counts by event. Kept in
// memory by the listener and written to a small JSON file in the data
// directory (statusFile.ts: at most every few seconds, replaced atomically).
// No patient data.
import { readStatusFile, StatusFile } from '../statusFile.js';
import type { AdtAnswerKind } from './adtHandler.js';

export const ADT_STATUS_FILE = 'adt-status.json';

export interface AdtStatus {
  readonly listeningSince: string | null;
  readonly port: number | null;
  readonly tls: boolean;
  readonly connections: number;
  readonly lastMessageTs: string | null;
  /** Answers since the listener opened, by kind (applied, no-effect, duplicate, stale, ignored, demo, AE, AR). */
  readonly answers: Partial<Record<AdtAnswerKind, number>>;
  /** Messages by trigger event (A01...), as read from MSH-9; at most 32 distinct, the rest under `other`. */
  readonly events: Record<string, number>;
}

const MAX_EVENTS = 32;

export class AdtStatusRecorder {
  readonly #file: StatusFile<AdtStatus>;
  #since: number | null = null;
  #port: number | null = null;
  #tls = false;
  #connections = 0;
  #last: number | null = null;
  readonly #answers = new Map<AdtAnswerKind, number>();
  readonly #events = new Map<string, number>();

  constructor(file?: string, minIntervalMs = 2000) {
    this.#file = new StatusFile(file, () => this.snapshot(), { minIntervalMs });
  }

  listening(at: number, port: number, tls: boolean): void {
    this.#since = at;
    this.#port = port;
    this.#tls = tls;
    this.#file.write();
  }

  connections(n: number): void {
    this.#connections = n;
    this.#file.changed();
  }

  answered(kind: AdtAnswerKind, event: string, at: number): void {
    this.#last = at;
    this.#answers.set(kind, (this.#answers.get(kind) ?? 0) + 1);
    const key = this.#events.has(event) || this.#events.size < MAX_EVENTS ? event || '-' : 'other';
    this.#events.set(key, (this.#events.get(key) ?? 0) + 1);
    this.#file.changed();
  }

  /** The listener closed: nobody is connected and it listens no more. */
  closed(): void {
    this.#since = null;
    this.#connections = 0;
    this.#file.write();
  }

  snapshot(): AdtStatus {
    return {
      listeningSince: this.#since === null ? null : new Date(this.#since).toISOString(),
      port: this.#port,
      tls: this.#tls,
      connections: this.#connections,
      lastMessageTs: this.#last === null ? null : new Date(this.#last).toISOString(),
      answers: Object.fromEntries(this.#answers),
      events: Object.fromEntries(this.#events),
    };
  }
}

/** The status the listener last wrote; undefined when there is none or it cannot be read. */
export function readAdtStatus(file: string): AdtStatus | undefined {
  return readStatusFile<AdtStatus>(file);
}

/** The ADT link as `wardgate status` reports it. */
export interface AdtLinkReport extends Omit<AdtStatus, 'listeningSince'> {
  /** listening: the daemon has the port open; down: configured, not listening now. */
  readonly state: 'listening' | 'down';
  readonly listeningSince: string | null;
}

/** The configured link's state from whether the daemon runs and the status file it last wrote. */
export function adtLinkReport(daemonRunning: boolean, status: AdtStatus | undefined): AdtLinkReport {
  const empty: AdtStatus = {
    listeningSince: null,
    port: null,
    tls: false,
    connections: 0,
    lastMessageTs: null,
    answers: {},
    events: {},
  };
  const s = status ?? empty;
  const state = daemonRunning && s.listeningSince !== null ? 'listening' : 'down';
  // A status file left by a daemon that was killed still says "listening": the daemon's absence says otherwise.
  return {
    ...s,
    state,
    connections: state === 'listening' ? s.connections : 0,
    listeningSince: state === 'listening' ? s.listeningSince : null,
  };
}

/** Lines of `wardgate status` for the ADT link. */
export function formatAdtLink(r: AdtLinkReport): string[] {
  const where = r.port === null ? '' : ` port ${r.port}${r.tls ? ' (TLS)' : ''},`;
  const answers = Object.entries(r.answers)
    .map(([k, n]) => `${k} ${n}`)
    .join(', ');
  const events = Object.entries(r.events)
    .map(([k, n]) => `${k} ${n}`)
    .join(', ');
  return [
    `adt in        ${r.state},${where} ${r.connections} connected, last message ${r.lastMessageTs ?? 'never'}; nothing queued here (each message is answered once committed)`,
    ...(answers ? [`  answers     ${answers}`] : []),
    ...(events ? [`  events      ${events}`] : []),
  ];
}
