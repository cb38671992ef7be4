// The public form of a bed, shared by the API and the dashboard's live feed:
// the patient's display name (names stay on the edge; never the identifier),
// latest vitals, NEWS2 with what was missing or stale, and the open alarms.
import type { AlarmEngine } from '../alarms/engine.js';
import { alarmView } from '../alarms/outputs.js';
import type { Admissions } from '../patients/admissions.js';

export type BedView = ReturnType<typeof bedView>;

/** Beds with a device bound in config, and beds with an admission, in ward order (2 before 10). */
export function bedList(configured: readonly string[], admissions: Admissions): string[] {
  return [...new Set([...configured, ...admissions.current().map((a) => a.bed)])].sort((a, b) =>
    a.localeCompare(b, undefined, { numeric: true }),
  );
}

export function bedView(engine: AlarmEngine, admissions: Admissions, bed: string) {
  const snapshot = engine.bed(bed);
  const a = admissions.get(bed);
  return {
    bed,
    patient: a
      ? {
          displayName: a.displayName,
          // Without a display name, the admission number labels the patient: it means nothing outside this gateway.
          label: a.displayName ?? `Adm-${String(a.admission).padStart(4, '0')}`,
          admittedAt: new Date(a.admittedAt).toISOString(),
          // 'adt': the hospital's feed made this admission (and may end it); 'manual': someone on the ward did.
          source: a.source,
          spo2Scale: a.spo2Scale,
          onOxygen: a.onOxygen,
          consciousness: a.consciousness && {
            value: a.consciousness.value,
            at: new Date(a.consciousness.at).toISOString(),
          },
        }
      : null,
    vitals: Object.fromEntries(
      Object.entries(snapshot.vitals).map(([k, p]) => [
        k,
        { value: p.value, ts: new Date(p.ts).toISOString(), deviceId: p.deviceId, flags: p.flags },
      ]),
    ),
    news2: snapshot.news2 && {
      score: snapshot.news2.score,
      level: snapshot.news2.level,
      anyThree: snapshot.news2.anyThree,
      parts: snapshot.news2.parts,
      missing: snapshot.news2.missing,
      stale: snapshot.news2.stale,
    },
    alarms: snapshot.alarms.map(alarmView),
  };
}
