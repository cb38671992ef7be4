// One bed, second by second: the patient's true state under the scenarios,
// measured by each device with its own noise, cadence and troubles. The
// output is a list of emissions (what each device says, or that it went
// away), independent of how it travels (transports/).
import type { DeviceStatusMessage, ObservationEntry } from '../shared/reading.js';
import type { DeviceSpec } from './devices.js';
import { targetDevice } from './devices.js';
import type { BedPlan } from './labels.js';
import { Patient, drawBaseline, type TrueVitals } from './patient.js';
import { rng, subSeed, type Rng } from './random.js';
import { batteryAt, offsetsAt, within, type ScenarioStep } from './scenarios.js';

interface Base {
  /** Scenario second. */
  readonly t: number;
  readonly bed: string;
  readonly deviceId: string;
}

export type Emission = Base &
  (
    | { readonly type: 'obs'; readonly obs: ObservationEntry[] }
    | { readonly type: 'status'; readonly status: DeviceStatusMessage }
    /** A message the gateway must refuse; `variant` picks which mistake (malformed.ts). */
    | { readonly type: 'malformed'; readonly variant: number }
    /** The device drops off: `unplug` (it stops measuring) or `blip` (the network fails, it keeps measuring and queues). */
    | { readonly type: 'offline'; readonly cause: 'unplug' | 'blip' }
    | { readonly type: 'online'; readonly cause: 'unplug' | 'blip' }
  );

export interface Cadence {
  /** Seconds between NIBP cycles (ward practice: 15-60 min; compress for a demo). */
  readonly nibpEveryS: number;
  readonly tempEveryS: number;
}

export const defaultCadence: Cadence = { nibpEveryS: 900, tempEveryS: 1800 };

/** Device measurement noise (1 SD), in the vital's unit. */
const NOISE = { hr: 1.2, pr: 1.5, spo2: 0.6, rr: 0.8, sbp: 3, dbp: 2, temp: 0.08 } as const;
const STATUS_EVERY_S = 60;
/** Motion artifacts: a spike of 2-6 s roughly every 1-3 minutes while the scenario lasts. */
const SPIKE_GAP_S: readonly [number, number] = [45, 180];
const SPIKE_LEN_S: readonly [number, number] = [2, 7];
/** A malformed message every 5-15 s while the scenario lasts. */
const MALFORMED_GAP_S: readonly [number, number] = [5, 16];

const round1 = (v: number) => Math.round(v * 10) / 10;

export class BedSimulator {
  readonly plan: BedPlan;
  readonly #patient: Patient;
  readonly #noise: Map<string, Rng>;
  readonly #events: Rng;
  readonly #cadence: Cadence;
  /** Per-bed phase of the spot checks, so the ward's cuffs do not all inflate together. */
  readonly #phase: { nibp: number; temp: number };
  readonly #spikes = new Set<number>();
  readonly #malformedAt = new Set<number>();
  readonly #sensorOff = new Map<string, boolean>();

  constructor(plan: BedPlan, seed: number, cadence: Cadence = defaultCadence) {
    this.plan = plan;
    this.#cadence = cadence;
    const physiology = rng(subSeed(seed, 'bed', plan.bed, 'patient'));
    this.#patient = new Patient(drawBaseline(physiology), physiology);
    this.#noise = new Map(plan.devices.map((d) => [d.id, rng(subSeed(seed, 'bed', plan.bed, 'device', d.id))]));
    this.#events = rng(subSeed(seed, 'bed', plan.bed, 'events'));
    this.#phase = {
      nibp: Math.floor(this.#events.uniform(0, cadence.nibpEveryS)),
      temp: Math.floor(this.#events.uniform(0, cadence.tempEveryS)),
    };
    for (const s of plan.script) {
      if (s.kind === 'artifact') this.#schedule(s, SPIKE_GAP_S, SPIKE_LEN_S, this.#spikes);
      if (s.kind === 'malformed') this.#schedule(s, MALFORMED_GAP_S, [1, 2], this.#malformedAt);
    }
  }

  get baseline(): TrueVitals {
    return this.#patient.baseline;
  }

  /** Everything the bed's devices emit during scenario second t (call with t = 0, 1, 2, ...). */
  emit(t: number): Emission[] {
    const truth = this.#patient.step(1, offsetsAt(this.plan.script, t));
    const out: Emission[] = [];
    for (const device of this.plan.devices) this.#device(device, t, truth, out);
    return out;
  }

  #device(device: DeviceSpec, t: number, truth: TrueVitals, out: Emission[]): void {
    const at = { t, bed: this.plan.bed, deviceId: device.id };
    const mine = this.plan.script.filter((s) => targetDevice(this.plan.devices, s.kind)?.id === device.id);
    for (const s of mine) {
      if (s.kind !== 'unplug' && s.kind !== 'blip') continue;
      if (t === s.at) out.push({ ...at, type: 'offline', cause: s.kind });
      if (t === s.at + s.duration) out.push({ ...at, type: 'online', cause: s.kind });
    }
    // Unplugged: nothing measured, nothing said (a blip keeps measuring; the transport queues).
    if (mine.some((s) => s.kind === 'unplug' && within(s, t))) return;
    const came = mine.some((s) => (s.kind === 'unplug' || s.kind === 'blip') && t === s.at + s.duration);
    const status: DeviceStatusMessage = {};
    const sensorOff = mine.some((s) => s.kind === 'sensor-off' && within(s, t));
    if (t === 0 || came) status.online = true;
    if (sensorOff !== (this.#sensorOff.get(device.id) ?? false) || t === 0) status.sensor = sensorOff ? 'off' : 'ok';
    this.#sensorOff.set(device.id, sensorOff);
    const drain = mine.find((s) => s.kind === 'battery');
    if (drain && (t % STATUS_EVERY_S === 0 || came)) status.battery = Math.round(batteryAt(drain, t));
    if (Object.keys(status).length > 0) out.push({ ...at, type: 'status', status });
    const obs = this.#measure(device, t, truth, sensorOff);
    if (obs.length > 0) out.push({ ...at, type: 'obs', obs });
    if (this.#malformedAt.has(t) && mine.some((s) => s.kind === 'malformed' && within(s, t))) {
      out.push({ ...at, type: 'malformed', variant: Math.floor(this.#events.next() * 1e6) });
    }
  }

  #measure(device: DeviceSpec, t: number, truth: TrueVitals, sensorOff: boolean): ObservationEntry[] {
    const r = this.#noise.get(device.id)!;
    const m = device.measures;
    const obs: ObservationEntry[] = [];
    const spike = this.#spikes.has(t) && targetDevice(this.plan.devices, 'artifact')?.id === device.id;
    if (m.includes('hr')) obs.push({ code: 'hr', value: Math.round(truth.hr + NOISE.hr * r.gauss()), unit: '/min' });
    if (m.includes('spo2')) {
      // Motion: the oximeter reads nonsense, some of it plausible-looking; sensor off: no value at all.
      const spo2 = sensorOff
        ? null
        : spike
          ? Math.round(r.uniform(40, 100))
          : Math.min(100, Math.round(truth.spo2 + NOISE.spo2 * r.gauss()));
      obs.push({ code: 'spo2', value: spo2, unit: '%' });
    }
    if (m.includes('pr')) {
      const pr = sensorOff
        ? null
        : spike
          ? Math.round(r.uniform(30, 230))
          : Math.round(truth.hr + NOISE.pr * r.gauss());
      obs.push({ code: 'pr', value: pr, unit: '/min' });
    }
    if (m.includes('rr'))
      obs.push({ code: 'rr', value: Math.max(0, Math.round(truth.rr + NOISE.rr * r.gauss())), unit: '/min' });
    if (m.includes('nibp') && (t + this.#phase.nibp) % this.#cadence.nibpEveryS === 0) {
      const sys = Math.round(truth.sbp + NOISE.sbp * r.gauss());
      const dia = Math.round(truth.dbp + NOISE.dbp * r.gauss());
      obs.push({ code: 'nibp_sys', value: sys, unit: 'mm[Hg]' }, { code: 'nibp_dia', value: dia, unit: 'mm[Hg]' });
      obs.push({ code: 'nibp_map', value: Math.round((sys + 2 * dia) / 3), unit: 'mm[Hg]' });
    }
    if (m.includes('temp') && (t + this.#phase.temp) % this.#cadence.tempEveryS === 0) {
      obs.push({ code: 'temp', value: round1(truth.temp + NOISE.temp * r.gauss()), unit: 'Cel' });
    }
    return obs;
  }

  /** Marks seconds inside the step at random gaps, each for a random length. */
  #schedule(s: ScenarioStep, gap: readonly [number, number], len: readonly [number, number], into: Set<number>): void {
    for (let t = s.at + Math.floor(this.#events.uniform(0, gap[1])); t < s.at + s.duration;) {
      const n = Math.floor(this.#events.uniform(len[0], len[1]));
      for (let i = 0; i < n; i++) into.add(t + i);
      t += n + Math.floor(this.#events.uniform(gap[0], gap[1]));
    }
  }
}
