// IHE PCD-01 ORU^R01 messages as a monitor or central station sends them
// (HL7 v2.6, DOMAIN.md section 5), for the simulators, tests and benchmark.

export interface Pcd01Metric {
  /** MDC numeric code and reference id (OBX-3). */
  readonly mdc: number;
  readonly refid: string;
  /** OBX-5; '' for no value. */
  readonly value: number | string;
  /** OBX-6: an MDC unit [code, refid] or a UCUM string. */
  readonly unit: readonly [number, string] | string;
  readonly valueType?: string;
  readonly status?: string;
  /** OBX-14, epoch ms. */
  readonly ts?: number;
}

export interface Pcd01Options {
  readonly controlId: string;
  readonly sendingApplication?: string;
  /** PID-3 as id and assigning authority (type MR). */
  readonly patient?: { readonly id: string; readonly authority: string };
  /** PV1-3 point of care, room, bed. */
  readonly location?: { readonly unit: string; readonly room: string; readonly bed: string };
  /** OBR-7, epoch ms. */
  readonly ts: number;
  /** OBX-18 of the MDS row (EUI-64). */
  readonly equipment?: string;
  readonly metrics: readonly Pcd01Metric[];
}

/** HL7 DTM in UTC with an explicit offset, so the reading time never depends on the zone of either side. */
export function dtm(ms: number): string {
  return `${new Date(ms)
    .toISOString()
    .replace(/[-:T]/g, '')
    .replace(/\.(\d{3})Z$/, '.$1')}+0000`;
}

/** The message text, segments ended by CR (not yet framed for MLLP). */
export function pcd01Message(o: Pcd01Options): string {
  const segments = [
    `MSH|^~\\&|${o.sendingApplication ?? 'MONITOR'}^0012345678ABCDEF^EUI-64|WARD3B|WARDGATE|HOSP|${dtm(o.ts)}||ORU^R01^ORU_R01|${o.controlId}|P|2.6|||AL|NE||UNICODE UTF-8|||IHE_PCD_001^IHE PCD^1.3.6.1.4.1.19376.1.6.1.1.1^ISO`,
  ];
  if (o.patient) segments.push(`PID|||${o.patient.id}^^^${o.patient.authority}^MR||Doe^Jane^^^^^L`);
  if (o.location) segments.push(`PV1||I|${o.location.unit}^${o.location.room}^${o.location.bed}`);
  segments.push(
    `OBR|1|${o.controlId}^MONITOR|${o.controlId}^MONITOR|182777000^monitoring of patient^SCT|||${dtm(o.ts)}`,
  );
  // The device hierarchy: MDS, VMD and channel rows carry no value (OBX-11 X).
  segments.push(
    `OBX|1||69965^MDC_DEV_MON_PHYSIO_MULTI_PARAM_MDS^MDC|1.0.0.0|||||||X|||||||${o.equipment ?? '0012345678ABCDEF'}^EUI-64`,
  );
  segments.push('OBX|2||69854^MDC_DEV_METER_PHYSIO_MULTI_PARAM_VMD^MDC|1.1.0.0|||||||X');
  o.metrics.forEach((m, i) => {
    const unit = typeof m.unit === 'string' ? `${m.unit}^${m.unit}^UCUM` : `${m.unit[0]}^${m.unit[1]}^MDC`;
    segments.push(
      `OBX|${i + 3}|${m.valueType ?? 'NM'}|${m.mdc}^${m.refid}^MDC|1.1.1.${i + 1}|${m.value}|${unit}|||||${m.status ?? 'R'}|||${m.ts === undefined ? '' : dtm(m.ts)}||||`,
    );
  });
  return `${segments.join('\r')}\r`;
}

/** Ten numerics a multiparameter monitor reports each cycle (values vary with `i`). */
export function tenVitals(i: number): Pcd01Metric[] {
  return [
    { mdc: 147842, refid: 'MDC_ECG_HEART_RATE', value: 70 + (i % 20), unit: [264864, 'MDC_DIM_BEAT_PER_MIN'] },
    { mdc: 149530, refid: 'MDC_PULS_OXIM_PULS_RATE', value: 71 + (i % 20), unit: [264864, 'MDC_DIM_BEAT_PER_MIN'] },
    { mdc: 150456, refid: 'MDC_PULS_OXIM_SAT_O2', value: 92 + (i % 8), unit: [262688, 'MDC_DIM_PERCENT'] },
    { mdc: 151562, refid: 'MDC_RESP_RATE', value: 12 + (i % 10), unit: [264928, 'MDC_DIM_RESP_PER_MIN'] },
    { mdc: 150021, refid: 'MDC_PRESS_BLD_NONINV_SYS', value: 110 + (i % 30), unit: [266016, 'MDC_DIM_MMHG'] },
    { mdc: 150022, refid: 'MDC_PRESS_BLD_NONINV_DIA', value: 70 + (i % 15), unit: [266016, 'MDC_DIM_MMHG'] },
    { mdc: 150023, refid: 'MDC_PRESS_BLD_NONINV_MEAN', value: 85 + (i % 15), unit: [266016, 'MDC_DIM_MMHG'] },
    { mdc: 150364, refid: 'MDC_TEMP_BODY', value: (36.5 + (i % 10) / 10).toFixed(1), unit: [268192, 'MDC_DIM_DEGC'] },
    { mdc: 151708, refid: 'MDC_CONC_AWAY_CO2_ET', value: 35 + (i % 8), unit: [266016, 'MDC_DIM_MMHG'] },
    { mdc: 153144, refid: 'MDC_CONC_GASDLV_O2_INSP', value: 21 + (i % 5), unit: [262688, 'MDC_DIM_PERCENT'] },
  ];
}
