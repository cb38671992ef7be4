// OBX-6 of the messages the gateway sends (PCD-01 to the EHR, PCD-04 to the
// alarm manager): the MDC unit with the UCUM unit as the alternate, as IHE PCD
// messages carry them (`264864^MDC_DIM_BEAT_PER_MIN^MDC^/min^/min^UCUM`).
// One place for both, so the EHR and the alarm manager never read a value in
// two different units.
import { mdcUnits } from '../../shared/units.js';
import { DEFAULT_ENCODING, escape } from '../hl7/message.js';

/**
 * The MDC unit a metric's canonical UCUM unit is sent as. UCUM has one
 * `/min`; MDC tells beats from breaths (DOMAIN.md section 1): a respiration
 * rate is MDC_DIM_RESP_PER_MIN, every other per-minute rate (heart and pulse
 * rate) MDC_DIM_BEAT_PER_MIN. A unit without a confirmed reference id has none.
 */
export function mdcUnitFor(metric: string, ucum: string): { code: number; refid: string } | undefined {
  if (ucum === '/min')
    return metric === 'rr'
      ? { code: 264928, refid: 'MDC_DIM_RESP_PER_MIN' }
      : { code: 264864, refid: 'MDC_DIM_BEAT_PER_MIN' };
  const unit = [...mdcUnits.values()].find((u) => u.ucum === ucum && u.refid);
  return unit && { code: unit.code, refid: unit.refid };
}

/** OBX-6 (CWE): MDC code ^ reference id ^ MDC ^ UCUM ^ UCUM ^ UCUM, or the UCUM unit alone when MDC has none. */
export function obxUnits(metric: string, ucum: string): string {
  const u = escape(ucum, DEFAULT_ENCODING);
  const unit = mdcUnitFor(metric, ucum);
  return unit ? `${unit.code}^${unit.refid}^MDC^${u}^${u}^UCUM` : `${u}^${u}^UCUM`;
}
