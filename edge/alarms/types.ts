// The alarm model, in the terms of IEC 60601-1-8 as monitor manuals quote it
// (DOMAIN.md section 4): priority, physiological vs technical, condition delay,
// latching, acknowledgement, escalation.

export const priorities = ['low', 'medium', 'high'] as const;
export type AlarmPriority = (typeof priorities)[number];
export const priorityRank: Readonly<Record<AlarmPriority, number>> = { low: 0, medium: 1, high: 2 };

/** Physiological (patient values) or technical (sensor off, device silent, equipment, buffer, cloud). */
export type AlarmKind = 'physiological' | 'technical';

/**
 * active: the condition holds and nobody has acknowledged it.
 * latched: a latching (high-priority) alarm whose condition cleared; it stays until acknowledged.
 * acknowledged: silenced by a person until its condition clears.
 * cleared: over.
 */
export type AlarmState = 'active' | 'latched' | 'acknowledged' | 'cleared';

/** Lifecycle events published and persisted for every alarm. */
export type AlarmPhase = 'raised' | 'updated' | 'escalated' | 'latched' | 'acknowledged' | 'cleared';

/**
 * The limit a limit alarm crossed: low (the value at or below it) or high (at
 * or above it), and the bound in force when the alarm last held (NEWS2 scale 2
 * and a config pull can move it).
 */
export interface AlarmLimit {
  readonly side: 'low' | 'high';
  readonly value: number;
}

export interface Alarm {
  readonly id: string;
  /** What the condition is about: one open alarm per key at most. */
  readonly key: string;
  readonly bed: string | null;
  readonly deviceId: string | null;
  readonly kind: AlarmKind;
  readonly rule: string;
  readonly metric: string | null;
  priority: AlarmPriority;
  latching: boolean;
  state: AlarmState;
  message: string;
  value: number | null;
  /** Limit alarms only (rule 'limit'): the limit crossed. Recorded with the alarm and its events; an alarm recorded before the store kept limits has it again at its next reading. */
  limit?: AlarmLimit;
  /**
   * Physiological alarms: the bed's admission when it was raised, null when
   * the bed had no admitted patient; it never changes. Every event of the
   * alarm is reported under it (none: the bed only), wherever its patient is
   * by then. Technical alarms: null (they are the device's). Unset on alarms
   * built elsewhere (tests): null.
   */
  readonly admission?: number | null;
  /**
   * The bed's admission changed while it was open and unacknowledged, and it
   * latched (AlarmBook.leave): it stays latched until a person acknowledges
   * it, and no condition re-activates, updates or releases it any more.
   * Stored: a restart keeps it so. Unset: not left.
   */
  left?: true;
  readonly raisedAt: number;
  /** When it last became active again after a priority rise (escalation counts from here); unset: from raisedAt. */
  activeSince?: number;
  escalations: number;
  lastEscalatedAt: number | null;
  acknowledgedBy: string | null;
  acknowledgedAt: number | null;
  clearedAt: number | null;
}

/** The fields of an alarm that every lifecycle event repeats, as they were at that moment. */
export type AlarmSnapshot = Readonly<
  Pick<
    Alarm,
    | 'bed'
    | 'deviceId'
    | 'kind'
    | 'rule'
    | 'metric'
    | 'priority'
    | 'state'
    | 'message'
    | 'value'
    | 'limit'
    | 'escalations'
  >
>;

/** What an alarm is now, as events and the public view carry it. */
export function snapshotOf(alarm: Alarm): AlarmSnapshot {
  const { bed, deviceId, kind, rule, metric, priority, state, message, value, limit, escalations } = alarm;
  // Only limit alarms carry a limit: the others' events have no such key at all.
  return limit
    ? { bed, deviceId, kind, rule, metric, priority, state, message, value, limit, escalations }
    : { bed, deviceId, kind, rule, metric, priority, state, message, value, escalations };
}

export interface AlarmEvent extends AlarmSnapshot {
  /** Event id, increasing. Set when persisted. */
  seq?: number;
  readonly alarmId: string;
  readonly phase: AlarmPhase;
  readonly ts: number;
  /** Who acknowledged, for 'acknowledged'. */
  readonly by: string | null;
}

/** A condition as a rule sees it at one moment: what the alarm for it would say. */
export type ConditionReport = Readonly<
  Pick<Alarm, 'key' | 'bed' | 'deviceId' | 'kind' | 'rule' | 'metric' | 'priority' | 'message' | 'value' | 'limit'>
>;
