// Plausibility (artifact) gates: physiologically impossible values are stored
// flagged and drive no alarm. These are not alarm limits. Ranges from
// research-cleaning practice and monitor measurement ranges, in canonical units.
// Metrics without a published gate (fio2, o2_flow, infusion_rate) have none.

// A Map: codes reach here from the wire, and an object literal would find
// 'constructor' or 'toString' among its inherited properties.
const gates: ReadonlyMap<string, readonly [number, number]> = new Map<string, readonly [number, number]>([
  ['hr', [20, 300]],
  ['pr', [20, 300]],
  ['spo2', [50, 100]],
  ['rr', [0, 120]],
  ['nibp_sys', [40, 300]],
  ['nibp_dia', [0, 200]],
  ['nibp_map', [0, 250]],
  ['temp', [30, 44]],
  ['etco2', [0, 100]],
]);

/** The gate for a metric, or undefined where none applies. */
export function plausibleRange(code: string): readonly [number, number] | undefined {
  return gates.get(code);
}

export function isPlausible(code: string, canonicalValue: number): boolean {
  const range = gates.get(code);
  return !range || (canonicalValue >= range[0] && canonicalValue <= range[1]);
}

/**
 * "No value" markers that vendors send in place of a number: -999, -100 and
 * 8388607 (0x7FFFFF, the IEEE 11073 NaN). They mean "absent", never a value.
 */
export function isNoValueMarker(value: number): boolean {
  return value === -999 || value === -100 || value === 8388607;
}
