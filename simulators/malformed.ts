// The mistakes a badly integrated device makes, one per variant, as each
// transport would carry them. Every one must be refused by the gateway with
// a reason (dead letter), never crash it, never raise a patient alarm.

/** MQTT payloads (the observation contract, broken in one way each). */
const MQTT_VARIANTS: ReadonlyArray<(seq: number, ts: number) => string> = [
  (seq) => `{"seq": ${seq}, "obs": [{"code": "spo2", "value": 97`, // truncated JSON
  (seq, ts) => JSON.stringify({ seq, ts, obs: [{ code: 'spo_2', value: 97, unit: '%' }] }), // unknown code
  (seq, ts) => JSON.stringify({ seq, ts, obs: [{ code: 'spo2', value: 97, unit: 'mm[Hg]' }] }), // unit does not fit the code
  (_seq, ts) => JSON.stringify({ ts, obs: [{ code: 'pr', value: 72, unit: '/min' }] }), // no seq
  (seq, ts) => JSON.stringify({ seq, ts, obs: [{ code: 'pr', value: 'seventy-two', unit: '/min' }] }), // value as text
];

/** Serial lines: garbage, a truncated record, a record with a non-numeric field. */
const SERIAL_VARIANTS: readonly string[] = ['\u0000\u00ff#@!%\r\n', 'SPO2=09\r\n', 'SPO2=abc HR=xyz\r\n'];

/** HL7: an ORU without its MSH, and a message that is not HL7 at all. */
const HL7_VARIANTS: readonly string[] = [
  'PID|||12345^^^HOSP^MR\rOBX|1|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC|1.1.1.1|97|262688^MDC_DIM_PERCENT^MDC\r',
  'hello monitor\r',
];

export const malformedMqtt = (variant: number, seq: number, ts: number) =>
  MQTT_VARIANTS[variant % MQTT_VARIANTS.length](seq, ts);
export const malformedSerialLine = (variant: number) => SERIAL_VARIANTS[variant % SERIAL_VARIANTS.length];
export const malformedHl7 = (variant: number) => HL7_VARIANTS[variant % HL7_VARIANTS.length];
