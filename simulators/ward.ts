// A simulated ward: the beds' plans (devices and scripts), the stream of what
// all devices emit second by second, and the demo's mix of scenarios.
import { BedSimulator, defaultCadence, type Cadence, type Emission } from './bed.js';
import { bedDevices } from './devices.js';
import { labelsFor, type BedPlan, type LabelsFile } from './labels.js';
import { parseScript } from './scenarios.js';

export interface WardOptions {
  readonly seed: number;
  /** Run length, scenario seconds. */
  readonly duration: number;
  readonly plans: readonly BedPlan[];
  readonly cadence?: Cadence;
}

export class Ward {
  readonly options: WardOptions;
  readonly beds: readonly BedSimulator[];

  constructor(options: WardOptions) {
    this.options = options;
    this.beds = options.plans.map((p) => new BedSimulator(p, options.seed, options.cadence ?? defaultCadence));
  }

  /** All beds' emissions for scenario second t; call for t = 0, 1, 2, ... in order. */
  emit(t: number): Emission[] {
    return this.beds.flatMap((b) => b.emit(t));
  }

  /** The whole run, second by second. */
  *stream(): Generator<Emission[]> {
    for (let t = 0; t < this.options.duration; t++) yield this.emit(t);
  }

  labels(speed: number, startTs: number | null): LabelsFile {
    return labelsFor(this.options.plans, { seed: this.options.seed, speed, duration: this.options.duration, startTs });
  }
}

/** Stable patients on MQTT monitors: the default ward, and each bed's plan unless a script says otherwise. */
export function stablePlans(beds: number): BedPlan[] {
  return Array.from({ length: beds }, (_, i) => ({
    bed: String(i + 1),
    devices: bedDevices(String(i + 1)),
    script: parseScript('stable'),
  }));
}

/**
 * The demo ward, eight beds, each scenario paced to show within the first
 * quarter hour: a stable patient on an HL7 monitor, a sepsis compressed from
 * hours into 20 minutes, desaturations, motion artifacts, a sensor off on a
 * Masimo oximeter, a Nonin oximeter unplugged and plugged back, a draining
 * battery, a device sending malformed messages and a network blip.
 * `serial: false` keeps every device on MQTT (no socat on the machine).
 */
export function demoPlans(serial = true): BedPlan[] {
  const plan = (
    bed: string,
    script: string,
    monitor: 'mqtt' | 'hl7' = 'mqtt',
    oximeter?: 'masimo' | 'nonin',
  ): BedPlan => ({
    bed,
    devices: bedDevices(bed, monitor, oximeter),
    script: parseScript(script, `bed ${bed}`),
  });
  return [
    plan('1', 'stable', 'hl7'),
    plan('2', 'sepsis@2m/20m'),
    plan('3', 'desat@3m/2m+desat@12m/90s'),
    plan('4', 'artifact@1m/30m'),
    plan('5', 'sensor-off@4m/90s', 'mqtt', serial ? 'masimo' : undefined),
    plan('6', 'unplug@6m/2m', 'mqtt', serial ? 'nonin' : undefined),
    plan('7', 'battery@0/20m+malformed@2m/5m'),
    plan('8', 'blip@5m/40s'),
  ];
}
