// The only free text that leaves the ward: bed labels and the audit trail's
// words, each held to a vocabulary that a name, an MRN, a date of birth or a
// phone number does not fit (docs/SYNC.md, "Free text"). The edge maps what
// does not fit before a batch is built (a bed label to a keyed stand-in, an
// audit word to `withheld`); the cloud refuses a batch that still carries it.
// The clear text stays in the ward's own database and audit trail.

/** Beds without a label (an undeclared device) travel under this one. */
export const NO_BED = 'unassigned';
/** What an audit string that is not a plain word travels as. */
export const WITHHELD = 'withheld';

const BED_CHARS = /^[A-Za-z0-9][A-Za-z0-9 ._-]{0,15}$/;
/** A ward-keyed stand-in for a label kept on the ward: x- and 12 hex digits of an HMAC. */
const BED_STAND_IN = /^x-[0-9a-f]{12}$/;

/**
 * A bed label as wards write them: `12`, `12A`, `Bed 4`, `ICU-2`, `W3 B12`.
 * At most 16 characters, at least one digit, no run of 5 or more digits (an
 * MRN, an NHS number, a date written without separators), no more than 6
 * digits in all (a date with them), and no run of 5 or more letters (a name;
 * `Bed`, `Bay`, `Room`, `ICU`, `Side` fit).
 */
export function isWireBed(label: string): boolean {
  if (label === NO_BED || BED_STAND_IN.test(label)) return true;
  if (!BED_CHARS.test(label) || !/\d/.test(label)) return false;
  if (/\d{5}|[A-Za-z]{5}/.test(label)) return false;
  return (label.match(/\d/g)?.length ?? 0) <= 6;
}

/** The stand-in form, from 12 hex digits of a keyed hash of the label. */
export function bedStandIn(hex: string): string {
  return `x-${hex.slice(0, 12)}`;
}

/**
 * A string value of an audit detail: one word a program wrote (`api`,
 * `dashboard`, `at-next-start`) or a single capital (an ACVPU level). No
 * digits, spaces, capitals inside or punctuation, so no name as people write
 * one, no identifier, no date, no sentence.
 */
export function isWireWord(value: string): boolean {
  return /^(?:[a-z][a-z-]{0,31}|[A-Z])$/.test(value);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * An audit target: a kind, and the bed, alarm or thing it names: `bed:12`,
 * `alarm:<uuid>`, `alarms`, `observations`. A bed is held to the bed
 * vocabulary; any other name is a UUID (the edge's alarm ids) or a short id
 * with no run of 5 or more digits.
 */
export function isWireTarget(target: string): boolean {
  const match = /^([a-z][a-z_.-]{0,31})(?::(.+))?$/.exec(target);
  if (!match) return false;
  const [, kind, name] = match;
  if (name === undefined) return true;
  if (kind === 'bed') return isWireBed(name);
  return UUID.test(name) || (/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(name) && !/\d{5}/.test(name));
}
