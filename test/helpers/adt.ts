// ADT test messages: the published samples of test/corpus/hl7/adt/ (one
// segment per line there, CR-joined here), and messages written for a test.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const CORPUS = fileURLToPath(new URL('../corpus/hl7/adt/', import.meta.url));

/** A corpus sample as it travels: segments joined with CR. */
export function adtCorpus(name: string): string {
  return `${readFileSync(`${CORPUS}${name}`, 'utf8').trimEnd().split('\n').join('\r')}\r`;
}

export interface AdtSpec {
  event: string;
  controlId: string;
  /** PID-3 identifier, typed MR under authority HOSP. */
  patient: string;
  name?: string;
  /** PV1-3 as point of care ^ room ^ bed. */
  location?: string;
  /** EVN-2, HL7 DTM with offset. */
  at?: string;
  /** A40: MRG-1 identifier (MR, HOSP). */
  prior?: string;
  sender?: string;
}

/** An ADT message of our own making, in the shape hospital feeds send. */
export function adtMessage(s: AdtSpec): string {
  const at = s.at ?? '20261202090000+0000';
  return [
    `MSH|^~\\&|${s.sender ?? 'HIS'}|HOSP|WARDGATE|3B|${at}||ADT^${s.event}^ADT_A01|${s.controlId}|P|2.5`,
    `EVN|${s.event}|${at}`,
    `PID|1||${s.patient}^^^HOSP^MR~99${s.patient}^^^HOSP^AN||${s.name ?? 'DOE^JANE'}||19700101|F`,
    ...(s.prior ? [`MRG|${s.prior}^^^HOSP^MR`] : []),
    `PV1|1|I|${s.location ?? ''}|||`,
    '',
  ].join('\r');
}
