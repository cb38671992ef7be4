// Turns `wardgate simulate` options into the beds' plans: which devices each
// bed has (MQTT monitor, HL7 monitor, serial oximeter) and its script.
import { WardgateError } from '../../shared/errors.js';
import { bedDevices } from '../devices.js';
import type { BedPlan } from '../labels.js';
import { parseScript, type ScenarioStep } from '../scenarios.js';
import { demoPlans } from '../ward.js';

export interface PlanOptions {
  readonly beds: number;
  /** `BED=SCRIPT` entries. */
  readonly scenarios: readonly string[];
  /** `BED=masimo|nonin|xpod` entries. */
  readonly serial: readonly string[];
  /** Beds whose monitor speaks HL7. */
  readonly hl7: readonly string[];
  readonly demoMix: boolean;
}

function pairs(entries: readonly string[], what: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const entry of entries) {
    const at = entry.indexOf('=');
    if (at < 1) throw new WardgateError('WG_ERR_USAGE', `expected BED=VALUE, got '${entry}'`, what);
    out.set(entry.slice(0, at), entry.slice(at + 1));
  }
  return out;
}

export function buildPlans(o: PlanOptions): BedPlan[] {
  if (o.demoMix) return demoPlans(o.serial.length === 0 || o.serial.some((s) => s !== 'none'));
  if (!Number.isInteger(o.beds) || o.beds < 1 || o.beds > 10_000)
    throw new WardgateError('WG_ERR_USAGE', 'expected a whole number from 1 to 10000', '--beds');
  const scripts = pairs(o.scenarios, '--scenario');
  const serial = pairs(o.serial, '--serial');
  const hl7 = new Set(o.hl7);
  const beds = Array.from({ length: o.beds }, (_, i) => String(i + 1));
  for (const bed of [...scripts.keys(), ...serial.keys(), ...hl7]) {
    if (!beds.includes(bed))
      throw new WardgateError('WG_ERR_USAGE', `bed '${bed}' is not one of 1-${o.beds}`, '--scenario/--serial/--hl7');
  }
  return beds.map((bed) => {
    const format = serial.get(bed);
    if (format !== undefined && format !== 'masimo' && format !== 'nonin' && format !== 'xpod')
      throw new WardgateError('WG_ERR_USAGE', `expected masimo, nonin or xpod, got '${format}'`, '--serial');
    const script: ScenarioStep[] = parseScript(scripts.get(bed) ?? 'stable', `--scenario ${bed}`);
    return { bed, devices: bedDevices(bed, hl7.has(bed) ? 'hl7' : 'mqtt', format), script };
  });
}
