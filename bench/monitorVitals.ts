// The message the floor benches' monitors send: eight vital signs at normal
// values but for the systolic pressure, which a bench sets critical now and
// then to raise an alarm. `ts` only where the bench gives the device a clock.
export function monitorVitals(seq: number, sys: number, ts?: number): Buffer {
  return Buffer.from(
    JSON.stringify({
      seq,
      ...(ts !== undefined && { ts }),
      obs: [
        { code: 'spo2', value: 97, unit: '%' },
        { code: 'pr', value: 72, unit: '/min' },
        { code: 'rr', value: 16, unit: '/min' },
        { code: 'temp', value: 36.8, unit: 'Cel' },
        { code: 'nibp_sys', value: sys, unit: 'mm[Hg]' },
        { code: 'nibp_dia', value: 70, unit: 'mm[Hg]' },
        { code: 'nibp_map', value: 85, unit: 'mm[Hg]' },
        { code: 'etco2', value: 38, unit: 'mm[Hg]' },
      ],
    }),
  );
}
