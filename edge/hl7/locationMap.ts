// PV1-3 (PL: point of care ^ room ^ bed ^ facility) to the ward's bed. Two
// units of a hospital both have a "bed 1": a ward with more than one unit (or
// fed by a central station that sees other units) lists the locations it owns
// in hl7.locations, each mapped to its own bed id, so they cannot collide. A
// location that no entry matches is refused (WG_ERR_HL7_LOCATION), or kept
// without a bed, as hl7.otherLocations says. Without hl7.locations the bed
// component alone is the bed, as a single-unit ward expects.
import type { Hl7Config } from '../config/schema.js';
import type { Pcd01Location } from './pcd01.js';

type LocationConfig = Hl7Config['locations'][number];

export type BedResolution = { readonly bed: string } | { readonly refusal: string };

export class LocationMap {
  readonly #entries: readonly LocationConfig[];
  readonly #other: Hl7Config['otherLocations'];

  constructor(entries: readonly LocationConfig[], other: Hl7Config['otherLocations']) {
    this.#entries = entries;
    this.#other = other;
  }

  /** The ward's bed id for a PV1-3 location ('' for none), or why the location is refused. */
  resolve(location: Pcd01Location | undefined): BedResolution {
    if (!location || (location.pointOfCare === '' && location.room === '' && location.bed === '')) return { bed: '' };
    if (this.#entries.length === 0) return { bed: location.bed };
    const match = this.#entries.find(
      (e) =>
        e.pointOfCare === location.pointOfCare &&
        (e.room === undefined || e.room === location.room) &&
        (e.bed === undefined || e.bed === location.bed),
    );
    if (match) return { bed: match.wardBed ?? location.bed };
    if (this.#other === 'no-bed') return { bed: '' };
    return { refusal: `PV1-3 location '${describe(location)}' is not one of this ward's (hl7.locations)` };
  }
}

function describe(l: Pcd01Location): string {
  const text = [l.pointOfCare, l.room, l.bed].join('^').replace(/[\u0000-\u001f\u007f]/g, '?');
  return text.length > 60 ? `${text.slice(0, 60)}...` : text;
}
