// The code registry: every metric wardgate understands, with its IEEE 11073-10101
// (MDC) codes, LOINC code and the one canonical UCUM unit it is stored in.
// MDC numeric code = partition x 65536 + term code (partition 2: measurements).

export type CanonicalUnit = '/min' | '%' | 'mm[Hg]' | 'Cel' | 'L/min' | 'mL/h';

export interface MetricCode {
  /** Short name used on the wire and in storage (`spo2`). */
  readonly code: string;
  readonly label: string;
  /** Preferred MDC numeric code and reference id. */
  readonly mdc: number;
  readonly refid: string;
  /** Other MDC codes devices send for the same quantity (reference id '' where only the number is known). */
  readonly alternates: ReadonlyArray<readonly [number, string]>;
  readonly loinc: string;
  readonly unit: CanonicalUnit;
  /** Whether the LOINC or MDC mapping comes from a single secondary source. */
  readonly unverified?: boolean;
}

const entries: MetricCode[] = [
  {
    code: 'hr',
    label: 'Heart rate',
    mdc: 147842,
    refid: 'MDC_ECG_HEART_RATE',
    alternates: [],
    loinc: '8867-4',
    unit: '/min',
  },
  {
    code: 'pr',
    label: 'Pulse rate',
    mdc: 149530,
    refid: 'MDC_PULS_OXIM_PULS_RATE',
    alternates: [
      [149546, 'MDC_PULS_RATE_NON_INV'],
      [149514, 'MDC_PULS_RATE'],
    ],
    loinc: '8867-4',
    unit: '/min',
  },
  {
    code: 'spo2',
    label: 'SpO2',
    mdc: 150456,
    refid: 'MDC_PULS_OXIM_SAT_O2',
    alternates: [],
    loinc: '59408-5',
    unit: '%',
  },
  {
    code: 'rr',
    label: 'Respiration rate',
    mdc: 151562,
    refid: 'MDC_RESP_RATE',
    // By method (IEEE 11073-10101, as RTMMS lists them): transthoracic impedance, from CO2, airway flow, from pleth.
    alternates: [
      [151578, 'MDC_TTHOR_RESP_RATE'],
      [151594, 'MDC_CO2_RESP_RATE'],
      [151570, 'MDC_AWAY_RESP_RATE'],
      [151658, 'MDC_PULS_OXIM_PLETH_RESP_RATE'],
    ],
    loinc: '9279-1',
    unit: '/min',
  },
  {
    code: 'nibp_sys',
    label: 'NIBP systolic',
    mdc: 150021,
    refid: 'MDC_PRESS_BLD_NONINV_SYS',
    alternates: [[150301, 'MDC_PRESS_CUFF_SYS']],
    loinc: '8480-6',
    unit: 'mm[Hg]',
  },
  {
    code: 'nibp_dia',
    label: 'NIBP diastolic',
    mdc: 150022,
    refid: 'MDC_PRESS_BLD_NONINV_DIA',
    alternates: [[150302, 'MDC_PRESS_CUFF_DIA']],
    loinc: '8462-4',
    unit: 'mm[Hg]',
  },
  {
    code: 'nibp_map',
    label: 'NIBP mean',
    mdc: 150023,
    refid: 'MDC_PRESS_BLD_NONINV_MEAN',
    alternates: [[150303, 'MDC_PRESS_CUFF_MEAN']],
    loinc: '8478-0',
    unit: 'mm[Hg]',
  },
  {
    code: 'temp',
    label: 'Temperature',
    mdc: 150364,
    refid: 'MDC_TEMP_BODY',
    // Generic, then by site (IEEE 11073-10101 / RTMMS): oral, axilla (both codes senders use), tympanic, ear, rectal, core.
    alternates: [
      [150344, 'MDC_TEMP'],
      [188424, 'MDC_TEMP_ORAL'],
      [188452, 'MDC_TEMP_AXILLA'],
      [188496, 'MDC_TEMP_AXIL'],
      [150392, 'MDC_TEMP_TYMP'],
      [188428, 'MDC_TEMP_EAR'],
      [188420, 'MDC_TEMP_RECT'],
      [150368, 'MDC_TEMP_CORE'],
    ],
    loinc: '8310-5',
    unit: 'Cel',
  },
  {
    code: 'etco2',
    label: 'End-tidal CO2',
    mdc: 151708,
    refid: 'MDC_CONC_AWAY_CO2_ET',
    alternates: [],
    loinc: '19889-5',
    unit: 'mm[Hg]',
  },
  {
    code: 'fio2',
    label: 'Inspired O2',
    mdc: 152196,
    refid: 'MDC_CONC_AWAY_O2_INSP',
    alternates: [[153144, 'MDC_CONC_GASDLV_O2_INSP']],
    loinc: '3150-0',
    unit: '%',
    unverified: true,
  },
  // No MDC code for oxygen flow was confirmed; 0 marks "none" and it is only known by its short name.
  {
    code: 'o2_flow',
    label: 'O2 flow',
    mdc: 0,
    refid: '',
    alternates: [],
    loinc: '3151-8',
    unit: 'L/min',
    unverified: true,
  },
  {
    code: 'infusion_rate',
    label: 'Infusion rate',
    mdc: 157784,
    refid: 'MDC_FLOW_FLUID_PUMP',
    alternates: [[158014, 'MDC_FLOW_FLUID_PUMP_CURRENT']],
    loinc: '',
    unit: 'mL/h',
    unverified: true,
  },
];

const byKey = new Map<string, MetricCode>();
for (const entry of entries) {
  byKey.set(entry.code, entry);
  if (entry.mdc) {
    byKey.set(entry.refid, entry);
    byKey.set(String(entry.mdc), entry);
  }
  for (const [mdc, refid] of entry.alternates) {
    if (refid) byKey.set(refid, entry);
    byKey.set(String(mdc), entry);
  }
}

export const metricCodes: readonly MetricCode[] = entries;

/** Finds a metric by short name, MDC reference id or MDC numeric code (as number or string). */
export function lookupCode(key: string | number): MetricCode | undefined {
  return byKey.get(typeof key === 'number' ? String(key) : key);
}

/** The metric for a short name; throws for a name that is not in the registry (a programming error). */
export function metric(code: string): MetricCode {
  const found = byKey.get(code);
  if (!found || found.code !== code) throw new Error(`unknown metric short name: ${code}`);
  return found;
}
