// UCUM units accepted on the wire and their conversion to the one canonical
// unit of each metric. A unit that is not listed for a metric's canonical unit
// does not fit that metric and is rejected: guessing a unit is how wrong
// numbers reach a chart.
import type { CanonicalUnit } from './codes.js';

type Convert = (value: number) => number;
const same: Convert = (v) => v;

// Maps, not object literals: the unit comes from the wire, and a plain object
// would answer '__proto__', 'constructor' or 'toString' from its prototype.
const accepted: ReadonlyMap<CanonicalUnit, ReadonlyMap<string, Convert>> = new Map<CanonicalUnit, ReadonlyMap<string, Convert>>([
  ['/min', units({ '/min': same, '1/min': same, '{beats}/min': same, '{beat}/min': same, '{breaths}/min': same, '{breath}/min': same })],
  // '1' is UCUM unity: a fraction 0..1 sent by a device that says so.
  ['%', units({ '%': same, '1': (v) => v * 100 })],
  ['mm[Hg]', units({ 'mm[Hg]': same, kPa: (v) => v * 7.500617 })],
  ['Cel', units({ Cel: same, '[degF]': (v) => ((v - 32) * 5) / 9, K: (v) => v - 273.15 })],
  ['L/min', units({ 'L/min': same, 'mL/min': (v) => v / 1000 })],
  ['mL/h', units({ 'mL/h': same, 'mL/min': (v) => v * 60, 'L/h': (v) => v * 1000 })],
]);

/** A table written as a literal for reading, kept as a Map for lookups. */
function units(table: { readonly [unit: string]: Convert }): ReadonlyMap<string, Convert> {
  return new Map(Object.entries(table));
}

/** MDC unit codes (partition 4) for the canonical units, as monitors send them over HL7. */
export const mdcUnits: ReadonlyMap<number, { refid: string; ucum: CanonicalUnit }> = new Map([
  [264864, { refid: 'MDC_DIM_BEAT_PER_MIN', ucum: '/min' as const }],
  [264928, { refid: 'MDC_DIM_RESP_PER_MIN', ucum: '/min' as const }],
  [262688, { refid: 'MDC_DIM_PERCENT', ucum: '%' as const }],
  [266016, { refid: 'MDC_DIM_MMHG', ucum: 'mm[Hg]' as const }],
  [268192, { refid: 'MDC_DIM_DEGC', ucum: 'Cel' as const }],
  [265216, { refid: '', ucum: 'L/min' as const }],
  [265266, { refid: 'MDC_DIM_MILLI_L_PER_HR', ucum: 'mL/h' as const }],
]);

/** The units accepted for a canonical unit, for error messages. */
export function acceptedUnits(canonical: CanonicalUnit): string[] {
  return [...(accepted.get(canonical)?.keys() ?? [])];
}

/**
 * Converts a value in `unit` to `canonical`; undefined when the unit does not
 * fit. Results are rounded to 4 decimals so that a conversion never invents
 * precision the device did not have.
 */
export function toCanonical(value: number, unit: string, canonical: CanonicalUnit): number | undefined {
  const convert = accepted.get(canonical)?.get(unit);
  if (!convert) return undefined;
  return Math.round(convert(value) * 1e4) / 1e4;
}
