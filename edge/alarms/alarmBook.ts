// The lifecycle of alarms (IEC 60601-1-8 as DOMAIN.md section 4 quotes it):
// raised when a condition exists, never twice for the same condition;
// high-priority alarms latch until acknowledged; acknowledgement silences until
// the condition clears; unacknowledged alarms escalate.
import { randomUUID } from 'node:crypto';
import { snapshotOf, type Alarm, type AlarmEvent, type AlarmPhase, type ConditionReport } from './types.js';
import { priorityRank } from './types.js';

export interface EscalationPolicy {
  readonly high: number;
  readonly medium: number;
  readonly low: number;
  readonly repeatMs: number;
  readonly maxEscalations: number;
}

export type AlarmListener = (event: AlarmEvent, alarm: Alarm) => void;

/** The admission a new alarm is about (Alarm.admission), asked once when it is raised. */
export type AdmissionOf = (report: ConditionReport) => number | null;

export class AlarmBook {
  /** Open alarms by condition key: what a condition's next report raises, updates or releases. */
  readonly #open = new Map<string, Alarm>();
  /**
   * Left alarms (Alarm.left), by id: latched until a person acknowledges
   * them, but no longer any condition's: the bed's same condition raises an
   * alarm of its own.
   */
  readonly #left = new Map<string, Alarm>();
  readonly #byId = new Map<string, Alarm>();
  readonly #escalation: EscalationPolicy;
  readonly #listener: AlarmListener;
  readonly #admissionOf: AdmissionOf;

  constructor(
    escalation: EscalationPolicy,
    listener: AlarmListener,
    restored: readonly Alarm[] = [],
    admissionOf: AdmissionOf = () => null,
  ) {
    this.#escalation = escalation;
    this.#listener = listener;
    this.#admissionOf = admissionOf;
    // A left alarm is stored as such: its key may be another open alarm's.
    for (const alarm of restored) {
      if (!alarm.left) this.#track(alarm);
      else {
        this.#left.set(alarm.id, alarm);
        this.#byId.set(alarm.id, alarm);
      }
    }
  }

  /** Open alarms (not cleared), left ones included, highest priority first, then oldest first. */
  open(): Alarm[] {
    return [...this.#open.values(), ...this.#left.values()].sort(
      (a, b) => priorityRank[b.priority] - priorityRank[a.priority] || a.raisedAt - b.raisedAt,
    );
  }

  get(id: string): Alarm | undefined {
    return this.#byId.get(id);
  }

  openFor(key: string): Alarm | undefined {
    return this.#open.get(key);
  }

  /** The condition behind `report` exists now. Raises, re-activates a latched alarm, or updates priority. */
  hold(report: ConditionReport, now: number): void {
    const alarm = this.#open.get(report.key);
    if (!alarm) {
      const raised: Alarm = {
        id: randomUUID(),
        key: report.key,
        bed: report.bed,
        deviceId: report.deviceId,
        kind: report.kind,
        rule: report.rule,
        metric: report.metric,
        priority: report.priority,
        // Latching for high priority: the signal stays after the cause clears, until someone acts.
        latching: report.priority === 'high',
        state: 'active',
        message: report.message,
        value: report.value,
        ...(report.limit && { limit: report.limit }),
        admission: this.#admissionOf(report),
        raisedAt: now,
        escalations: 0,
        lastEscalatedAt: null,
        acknowledgedBy: null,
        acknowledgedAt: null,
        clearedAt: null,
      };
      this.#track(raised);
      this.#emit('raised', raised, now);
      return;
    }
    // The open alarm always says what holds now (NEWS2 8, not the 6 it was raised at);
    // only a change that matters to people (re-activation, a higher priority) is an event.
    alarm.value = report.value;
    alarm.message = report.message;
    if (report.limit) alarm.limit = report.limit;
    if (alarm.state === 'latched') {
      alarm.state = 'active';
      this.#emit('updated', alarm, now);
    } else if (priorityRank[report.priority] > priorityRank[alarm.priority]) {
      // A worse condition than the one acknowledged (NEWS2 from 5 to 7) needs a person again:
      // it is active, escalates from now, and latches if it is now high.
      alarm.priority = report.priority;
      alarm.latching ||= report.priority === 'high';
      if (alarm.state === 'acknowledged') alarm.state = 'active';
      alarm.escalations = 0;
      alarm.lastEscalatedAt = null;
      alarm.activeSince = now;
      this.#emit('updated', alarm, now);
    }
  }

  /** The condition behind `key` no longer exists. */
  release(key: string, now: number): void {
    const alarm = this.#open.get(key);
    if (!alarm || alarm.state === 'latched') return;
    if (alarm.state === 'active' && alarm.latching) {
      alarm.state = 'latched';
      this.#emit('latched', alarm, now);
      return;
    }
    this.#close(alarm, now);
  }

  /**
   * The bed's admission is no longer the one the open alarm is about: its
   * condition ends as if it had cleared, its message saying why. An alarm
   * nobody has seen that latches (active high priority) or has latched stays
   * latched until a person acknowledges it (IEC 60601-1-8: no alarm signal
   * that latched ends without someone acting), but is left (Alarm.left): no
   * longer under its condition's key, so the bed's same condition raises an
   * alarm of its own and never re-activates or updates this one. Any other
   * clears. Every outcome is an event (an alarm already latched: updated), so
   * that the store keeps it left.
   */
  leave(alarm: Alarm, now: number, why: string): void {
    if (alarm.left || this.#byId.get(alarm.id) !== alarm) return;
    alarm.message = `${alarm.message}; ${why}`;
    if (this.#open.get(alarm.key) === alarm) this.#open.delete(alarm.key);
    if (alarm.state === 'cleared' || alarm.state === 'acknowledged' || !alarm.latching) return this.#close(alarm, now);
    alarm.left = true;
    this.#left.set(alarm.id, alarm);
    const phase = alarm.state === 'latched' ? 'updated' : 'latched';
    alarm.state = 'latched';
    this.#emit(phase, alarm, now);
  }

  /** A person acknowledges. Returns the alarm, or undefined when there is no open alarm with that id. */
  acknowledge(id: string, by: string, now: number): Alarm | undefined {
    const alarm = this.#byId.get(id);
    if (!alarm) return undefined;
    if (alarm.state === 'acknowledged') return alarm; // a second acknowledgement changes nothing
    const wasLatched = alarm.state === 'latched';
    alarm.acknowledgedBy = by;
    alarm.acknowledgedAt = now;
    alarm.state = 'acknowledged';
    this.#emit('acknowledged', alarm, now, by);
    // A latched alarm's cause is already gone: once someone has seen it, it is over.
    if (wasLatched) this.#close(alarm, now);
    return alarm;
  }

  /** Escalates unacknowledged alarms that have waited too long. */
  tick(now: number): void {
    for (const alarms of [this.#open, this.#left]) for (const alarm of alarms.values()) this.#escalate(alarm, now);
  }

  #escalate(alarm: Alarm, now: number): void {
    if (alarm.state !== 'active' && alarm.state !== 'latched') return;
    const after = this.#escalation[alarm.priority];
    if (after <= 0 || alarm.escalations >= this.#escalation.maxEscalations) return;
    const due =
      alarm.lastEscalatedAt === null
        ? (alarm.activeSince ?? alarm.raisedAt) + after
        : alarm.lastEscalatedAt + this.#escalation.repeatMs;
    if (now < due) return;
    alarm.escalations++;
    alarm.lastEscalatedAt = now;
    this.#emit('escalated', alarm, now);
  }

  #track(alarm: Alarm): void {
    this.#open.set(alarm.key, alarm);
    this.#byId.set(alarm.id, alarm);
  }

  #close(alarm: Alarm, now: number): void {
    alarm.state = 'cleared';
    alarm.clearedAt = now;
    // A left alarm's key may be another open alarm's.
    if (this.#open.get(alarm.key) === alarm) this.#open.delete(alarm.key);
    this.#left.delete(alarm.id);
    this.#byId.delete(alarm.id); // history lives in the store
    this.#emit('cleared', alarm, now);
  }

  #emit(phase: AlarmPhase, alarm: Alarm, now: number, by: string | null = null): void {
    this.#listener({ alarmId: alarm.id, phase, ts: now, ...snapshotOf(alarm), by }, alarm);
  }
}
