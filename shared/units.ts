// UCUM units accepted on the wire and their conversion to the one canonical
// unit of each metric. A unit that is not listed for a metric's canonical unit
// does not fit that metric and is rejected: guessing a unit is how wrong
// numbers reach a chart.
import type { CanonicalUnit } from './codes.js';

type Convert = (value: number) => number;
const same: Convert = (v) => v;

// Maps, not object literals: the unit comes from the wire, and a plain object
// would answer '__proto__', 'constructor' or 'toString' from its prototype.
const accepted: ReadonlyMap<CanonicalUnit, ReadonlyMap<string, Convert>> = new Map<
  CanonicalUnit,
  ReadonlyMap<string, Convert>
>([
  [
    '/min',
    units({
      '/min': same,
      '1/min': same,
      '{beats}/min': same,
      '{beat}/min': same,
      '{breaths}/min': same,
      '{breath}/min': same,
    }),
  ],
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

/**
 * MDC unit codes (IEEE 11073-10101 partition 4: 4 x 65536 + term code) that
 * monitors send in OBX-6, with the UCUM unit each means. A unit is found by
 * its number or its reference id; whether it fits a metric (and how it
 * converts) is then the UCUM table's business above, so MDC_DIM_FAHR on a
 * temperature converts exactly and MDC_DIM_PERCENT on an EtCO2 is refused.
 * Codes checked against RTMMS-derived public nomenclature tables.
 */
const mdcUnitList: ReadonlyArray<readonly [number, string, string]> = [
  [264864, 'MDC_DIM_BEAT_PER_MIN', '/min'],
  [264896, 'MDC_DIM_PULS_PER_MIN', '/min'],
  [264928, 'MDC_DIM_RESP_PER_MIN', '/min'],
  [264672, 'MDC_DIM_PER_MIN', '/min'],
  [262688, 'MDC_DIM_PERCENT', '%'],
  [266016, 'MDC_DIM_MMHG', 'mm[Hg]'],
  [265987, 'MDC_DIM_KILO_PASCAL', 'kPa'],
  [268192, 'MDC_DIM_DEGC', 'Cel'],
  [266560, 'MDC_DIM_FAHR', '[degF]'],
  [266528, 'MDC_DIM_KELVIN', 'K'],
  // L/min: the number only (its reference id was not confirmed).
  [265216, '', 'L/min'],
  [265266, 'MDC_DIM_MILLI_L_PER_HR', 'mL/h'],
];

export interface MdcUnit {
  readonly code: number;
  readonly refid: string;
  readonly ucum: string;
}

export const mdcUnits: ReadonlyMap<number, MdcUnit> = new Map(
  mdcUnitList.map(([code, refid, ucum]) => [code, { code, refid, ucum }]),
);
const mdcUnitsByRefid: ReadonlyMap<string, MdcUnit> = new Map(
  [...mdcUnits.values()].filter((u) => u.refid).map((u) => [u.refid, u]),
);

/** An MDC unit by numeric code (as text or number) or reference id. */
export function lookupMdcUnit(key: string | number): MdcUnit | undefined {
  if (typeof key === 'number') return mdcUnits.get(key);
  return /^\d{1,9}$/.test(key) ? mdcUnits.get(Number(key)) : mdcUnitsByRefid.get(key);
}

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
