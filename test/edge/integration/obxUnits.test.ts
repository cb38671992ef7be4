// OBX-6 of the gateway's own messages: the MDC unit with UCUM as the
// alternate, the same for a vital charted to the EHR (PCD-01) and for the
// same vital in an alarm report (PCD-04), read back by an HL7 implementation
// wardgate does not use (@medplum/core).
import t from 'tap';
import { Hl7Message } from '@medplum/core';
import { metricCodes } from '../../../shared/codes.js';
import { buildAlarmReport } from '../../../edge/integration/alarmReport.js';
import { buildVitalsReport } from '../../../edge/integration/oruBuilder.js';
import { mdcUnitFor, obxUnits } from '../../../edge/integration/obxUnits.js';

const ts = Date.parse('2026-12-02T09:30:00Z');

t.test('per-minute rates by what they count, the rest by the unit table', async (t) => {
  t.equal(obxUnits('rr', '/min'), '264928^MDC_DIM_RESP_PER_MIN^MDC^/min^/min^UCUM');
  t.equal(obxUnits('hr', '/min'), '264864^MDC_DIM_BEAT_PER_MIN^MDC^/min^/min^UCUM');
  t.equal(obxUnits('pr', '/min'), '264864^MDC_DIM_BEAT_PER_MIN^MDC^/min^/min^UCUM');
  t.equal(obxUnits('spo2', '%'), '262688^MDC_DIM_PERCENT^MDC^%^%^UCUM');
  t.equal(obxUnits('nibp_sys', 'mm[Hg]'), '266016^MDC_DIM_MMHG^MDC^mm[Hg]^mm[Hg]^UCUM');
  t.equal(obxUnits('temp', 'Cel'), '268192^MDC_DIM_DEGC^MDC^Cel^Cel^UCUM');
  t.equal(mdcUnitFor('flow', 'L/min'), undefined, 'no confirmed reference id: no MDC unit');
  t.equal(obxUnits('flow', 'L/min'), 'L/min^L/min^UCUM', 'UCUM alone then');
});

t.test('the EHR and the alarm manager read every vital in the same unit', async (t) => {
  const vitals = metricCodes.filter((m) => m.mdc);
  t.ok(vitals.length >= 6);
  for (const m of vitals) {
    const oru = Hl7Message.parse(
      buildVitalsReport({
        controlId: 'V1',
        now: ts,
        header: {
          sendingApplication: 'WARDGATE',
          sendingFacility: '3B',
          receivingApplication: 'EHR',
          receivingFacility: 'H',
          processingId: 'P',
        },
        patient: { identifier: 'MRN-1', authority: 'H', idType: 'MR', displayName: null },
        location: { pointOfCare: '3B', bed: '1', facility: 'H' },
        status: 'P',
        values: [{ code: m.code, value: 1, ts, deviceId: 'd1', method: 'device' }],
      }),
    );
    const r40 = Hl7Message.parse(
      buildAlarmReport({
        event: {
          seq: 1,
          alarmId: 'a1',
          phase: 'raised',
          ts,
          by: null,
          bed: '1',
          deviceId: 'd1',
          kind: 'physiological',
          rule: 'limit',
          metric: m.code,
          priority: 'high',
          state: 'active',
          message: `${m.label} high: 1`,
          value: 1,
          escalations: 0,
        },
        key: `1:limit:${m.code}`,
        raisedAt: ts,
        controlId: 'A1',
        now: ts,
        header: {
          sendingApplication: 'WARDGATE',
          sendingFacility: '3B',
          receivingApplication: 'AM',
          receivingFacility: 'H',
          processingId: 'P',
        },
        location: { pointOfCare: '3B', room: '', bed: '1', facility: 'H' },
        patient: { identifier: 'MRN-1', authority: 'H' },
        assigner: 'gw',
      }),
    );
    const charted = oru.getSegment('OBX')!;
    const alarmed = r40.getAllSegments('OBX')[1];
    t.equal(alarmed.getComponent(3, 1), String(m.mdc), `${m.code}: the alarm's source row is the vital`);
    t.equal(alarmed.getField(6).toString(), charted.getField(6).toString(), `${m.code}: one OBX-6 for both`);
    t.equal(charted.getField(6).toString(), obxUnits(m.code, m.unit));
  }
});
