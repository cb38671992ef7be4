// What the sync and the storage guard need of the alarm engine: raise or
// clear a technical condition by key (AlarmEngine.setTechnical). Passed in by
// the wiring, so neither feature depends on the engine itself.
import type { AlarmPriority } from '../alarms/types.js';

export interface TechnicalReport {
  readonly rule: string;
  readonly priority: AlarmPriority;
  readonly message: string;
  readonly value?: number | null;
}

export interface TechnicalAlarms {
  /** A report raises (or updates) the condition; null clears it. */
  set(key: string, report: TechnicalReport | null): void;
}
