// Ground truth for scoring alarms: for every scenario step, when the clinically
// meaningful event starts and ends (seconds from the start of the run) and
// which alarm a good system raises for it, or that it should raise none.
import { silenceLimitS, targetDevice, type DeviceSpec } from './devices.js';
import { BATTERY_FROM, BATTERY_TO, formatStep, type ScenarioKind, type ScenarioStep } from './scenarios.js';

/** The alarm a labelled event should raise (matched on kind, and rule when given), or none at all. */
export type Expectation =
  | {
      readonly alarm: true;
      readonly kind: 'physiological' | 'technical';
      readonly rule: string | null;
      readonly metric: string | null;
    }
  | { readonly alarm: false };

export interface ScenarioLabel {
  readonly bed: string;
  readonly deviceId: string | null;
  readonly scenario: ScenarioKind;
  readonly event: string;
  /** Seconds from the start of the run (scenario time). */
  readonly start: number;
  readonly end: number;
  readonly expect: Expectation;
}

export interface BedPlan {
  readonly bed: string;
  readonly devices: readonly DeviceSpec[];
  readonly script: readonly ScenarioStep[];
}

export interface LabelsFile {
  readonly version: 1;
  readonly seed: number;
  /** Scenario seconds per wall-clock second. */
  readonly speed: number;
  /** Run length, scenario seconds. */
  readonly duration: number;
  /** Wall-clock time of scenario second 0 (epoch ms); event i starts at startTs + start * 1000 / speed. */
  readonly startTs: number | null;
  readonly beds: ReadonlyArray<{ bed: string; devices: readonly DeviceSpec[]; script: string }>;
  readonly events: readonly ScenarioLabel[];
}

/** The low-battery threshold of the gateway's default config (alarms.technical.batteryLowPercent). */
export const BATTERY_LOW_PERCENT = 20;
const physiological = (rule: string, metric: string): Expectation => ({
  alarm: true,
  kind: 'physiological',
  rule,
  metric,
});
const technical = (rule: string | null): Expectation => ({ alarm: true, kind: 'technical', rule, metric: null });
const none: Expectation = { alarm: false };

function label(plan: BedPlan, step: ScenarioStep, runEnd: number): ScenarioLabel | undefined {
  const device = targetDevice(plan.devices, step.kind);
  const base = {
    bed: plan.bed,
    deviceId: device?.id ?? null,
    scenario: step.kind,
    start: step.at,
    end: step.at + step.duration,
  };
  switch (step.kind) {
    case 'stable':
      return undefined;
    case 'sepsis':
      // The onset is the event; untreated, the patient stays deteriorated until the run ends.
      return { ...base, deviceId: null, event: 'deterioration', end: runEnd, expect: physiological('news2', 'news2') };
    case 'desat':
      return { ...base, event: 'desaturation', expect: physiological('limit', 'spo2') };
    case 'artifact':
      return { ...base, event: 'motion artifacts', expect: none };
    case 'sensor-off':
      // A Nonin line cannot say "sensor off" (only `---`): the gateway sees a device with nothing to say.
      return {
        ...base,
        event: 'sensor off',
        expect:
          device?.transport === 'nonin' ? technical(null) : technical(device?.transport === 'hl7' ? null : 'sensor'),
      };
    case 'unplug':
      return {
        ...base,
        event: 'device unplugged',
        expect: device && step.duration > silenceLimitS(device.transport) ? technical('device-silent') : none,
      };
    case 'battery': {
      if (!device) return undefined;
      // The event is the reported (whole-percent) charge reaching the low-battery threshold, not the start of the drain.
      const start = Math.ceil(
        step.at + (step.duration * (BATTERY_FROM - BATTERY_LOW_PERCENT - 0.5)) / (BATTERY_FROM - BATTERY_TO),
      );
      return { ...base, start, end: runEnd, event: 'battery low', expect: technical('battery') };
    }
    case 'malformed':
      return { ...base, event: 'malformed messages', expect: none };
    case 'blip':
      if (!device) return undefined;
      return {
        ...base,
        event: 'network blip',
        expect: step.duration > silenceLimitS('mqtt') ? technical('device-silent') : none,
      };
  }
}

export function labelsFor(
  plans: readonly BedPlan[],
  o: { seed: number; speed: number; duration: number; startTs: number | null },
): LabelsFile {
  return {
    version: 1,
    ...o,
    beds: plans.map((p) => ({ bed: p.bed, devices: p.devices, script: p.script.map(formatStep).join('+') })),
    events: plans.flatMap((p) => p.script.flatMap((s) => label(p, s, o.duration) ?? [])),
  };
}
