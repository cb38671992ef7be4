// What `wardgate status` shows of the HL7 senders, whether or not the daemon
// runs: each sender's clock against the gateway's (MSH-7 minus arrival) and
// when it last spoke, the demo or test rows it sent (never stored as patient
// data), and the OBX codes the gateway does not map, by code. Kept in memory
// by the listener and written to a small JSON file in the data directory
// (statusFile.ts: at most every few seconds, replaced atomically, readable by
// its owner only); no patient data is in it.
import { readStatusFile, StatusFile } from '../statusFile.js';

export const HL7_STATUS_FILE = 'hl7-status.json';

export interface Hl7SenderState {
  readonly sender: string;
  readonly lastMessageTs: string;
  /** MSH-7 minus arrival at the last message that gave a placeable MSH-7, seconds. */
  readonly clockOffsetSeconds: number | null;
  readonly demoRows: number;
}

export interface Hl7Status {
  readonly senders: Hl7SenderState[];
  /** Rows whose OBX-3 code is not mapped, by code (bounded like the metric). */
  readonly unmappedCodes: Record<string, number>;
}

/** Distinct codes kept by name; the rest are summed under `other`. */
const MAX_CODES = 256;

export class Hl7StatusRecorder {
  readonly #file: StatusFile<Hl7Status>;
  readonly #senders = new Map<string, { lastMessageTs: number; clockOffsetMs: number | null; demoRows: number }>();
  readonly #unmapped = new Map<string, number>();

  constructor(file?: string, minIntervalMs = 2000) {
    this.#file = new StatusFile(file, () => this.snapshot(), { minIntervalMs, mode: 0o600 });
  }

  message(sender: string, at: number, clockOffsetMs?: number): void {
    const s = this.#sender(sender);
    s.lastMessageTs = at;
    if (clockOffsetMs !== undefined) s.clockOffsetMs = clockOffsetMs;
    this.#file.changed();
  }

  demo(sender: string, rows: number): void {
    this.#sender(sender).demoRows += rows;
    this.#file.changed();
  }

  unmapped(code: string): void {
    const key = this.#unmapped.has(code) || this.#unmapped.size < MAX_CODES ? code : 'other';
    this.#unmapped.set(key, (this.#unmapped.get(key) ?? 0) + 1);
    this.#file.changed();
  }

  snapshot(): Hl7Status {
    return {
      senders: [...this.#senders].map(([sender, s]) => ({
        sender,
        lastMessageTs: new Date(s.lastMessageTs).toISOString(),
        clockOffsetSeconds: s.clockOffsetMs === null ? null : Math.round(s.clockOffsetMs / 1000),
        demoRows: s.demoRows,
      })),
      unmappedCodes: Object.fromEntries(this.#unmapped),
    };
  }

  /** Writes what is pending now (at stop). */
  flush(): void {
    this.#file.flush();
  }

  #sender(sender: string) {
    let s = this.#senders.get(sender);
    if (!s) {
      s = { lastMessageTs: 0, clockOffsetMs: null, demoRows: 0 };
      this.#senders.set(sender, s);
    }
    return s;
  }
}

/** The last status the listener wrote, or undefined when there is none (HL7 off, or no message yet). */
export function readHl7Status(file: string): Hl7Status | undefined {
  return readStatusFile<Hl7Status>(file);
}
