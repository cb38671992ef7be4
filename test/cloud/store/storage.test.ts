// Storage building blocks: the stored-item interval set, segment layout and
// Firestore document sizes, and the settings that hold secrets.
import t from 'tap';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  addAll,
  contains,
  decodeRuns,
  emptyIntervals,
  encodeRuns,
  RECORD_SPAN,
  size,
} from '../../../cloud/ingest/intervals.js';
import {
  buildSegments,
  MAX_READINGS_PER_SEGMENT,
  readingsOf,
  SEGMENT_WINDOW_MS,
} from '../../../cloud/ingest/segments.js';
import { parseApiTokens, parseGateways, readSecretFile, settingsFromEnv, sha256Hex } from '../../../cloud/settings.js';
import { documentBytes, MAX_DOCUMENT_BYTES, valueBytes } from '../../../cloud/store/docSize.js';
import { hourKey, shardOf } from '../../../cloud/store/paths.js';
import { addReading, newHourDoc, toStored } from '../../../cloud/analysis/hourStats.js';
import { patientPseudonym, type SyncReading } from '../../../shared/sync/index.js';
import { tempDir } from '../../helpers/env.js';

const T0 = Date.UTC(2026, 10, 27, 9, 0, 0);

t.test('interval set: membership, merging, gaps filled later, exact however many gaps', async (t) => {
  let set = addAll(emptyIntervals, [1, 2, 3, 5, 6, 10]);
  t.same(set, { lo: [1, 5, 10], hi: [3, 6, 10] });
  t.same(
    [1, 3, 4, 5, 7, 10, 11].map((n) => contains(set, n)),
    [true, true, false, true, false, true, false],
  );
  set = addAll(set, [4, 7, 8, 9]);
  t.same(set, { lo: [1], hi: [10] }, 'a filled gap merges');
  // The edge numbers readings message x 1024 + index: every message is a gap of its own.
  let many = emptyIntervals;
  for (let m = 1; m <= 2000; m++) many = addAll(many, [m * 1024, m * 1024 + 1]);
  t.equal(many.lo.length, 2000, 'no gap is ever closed');
  t.equal(size(many), 4000, 'the set holds exactly what was added');
  t.notOk(contains(many, 5 * 1024 + 2), 'a number between two messages is not claimed');
});

t.test('interval record shard: round-trips, and the worst case fits a Firestore document', async (t) => {
  const base = 7 * RECORD_SPAN;
  const set = addAll(emptyIntervals, [base, base + 1, base + 1024, base + 5000, base + RECORD_SPAN - 1]);
  t.same(decodeRuns(encodeRuns(set, base), base), set);
  // Every other number: the most intervals a shard can hold.
  const alternate = addAll(
    emptyIntervals,
    Array.from({ length: RECORD_SPAN / 2 }, (_, i) => base + 2 * i),
  );
  const worst = encodeRuns(alternate, base);
  t.ok(worst.length <= RECORD_SPAN + 1, `worst case ${worst.length} bytes`);
  const bytes = documentBytes('gateways/gw-3b/stored/readings_7', {
    stream: 'readings',
    shard: 7,
    base,
    runs: 'x'.repeat(worst.length),
    items: 1,
    updated: 0,
    expireAt: new Date(),
  });
  t.ok(bytes < MAX_DOCUMENT_BYTES * 0.6, `worst record shard ${bytes} bytes`);
  const typical = addAll(
    emptyIntervals,
    Array.from({ length: 512 * 5 }, (_, i) => base + Math.floor(i / 5) * 1024 + (i % 5)),
  );
  t.ok(encodeRuns(typical, base).length <= 512 * 3, 'a full shard of 5-reading messages is at most 3 bytes a message');
  t.throws(
    () => encodeRuns(addAll(emptyIntervals, [base + RECORD_SPAN]), base),
    RangeError,
    'a number outside the shard is refused',
  );
});

function reading(i: number, over: Partial<SyncReading> = {}): SyncReading {
  return {
    n: i + 1,
    device: 'mon-12',
    seq: i,
    code: 'hr',
    value: 70 + (i % 9),
    unit: '/min',
    ts: T0 + i * 1000,
    flags: 0,
    bed: '12',
    ...over,
  };
}

t.test('segments: grouped by subject, split by 15-minute window and size, deterministic', async (t) => {
  const p = patientPseudonym('k'.repeat(32), 'MRN-1');
  const readings = Array.from({ length: 2000 }, (_, i) => reading(i, i % 2 ? { patient: p, bed: '14' } : {}));
  const docs = buildSegments('3B', 'gw-3b', 'b1', readings);
  t.equal(docs.length, 3, '2000 s of data crosses two 15-minute boundaries');
  t.ok(docs.every((d) => d.maxTs - d.minTs < SEGMENT_WINDOW_MS));
  t.same(docs[0].subjects, ['bed-12', p].sort());
  t.equal(
    docs.reduce((n, d) => n + readingsOf(d).length, 0),
    2000,
    'every reading round-trips',
  );
  t.same(buildSegments('3B', 'gw-3b', 'b1', readings), docs, 'the same input builds the same documents');
  const dense = Array.from({ length: 12_000 }, (_, i) =>
    reading(i, { ts: T0 + (i % 600) * 1000, code: i % 2 ? 'hr' : 'spo2', unit: i % 2 ? '/min' : '%' }),
  );
  t.equal(buildSegments('3B', 'gw-3b', 'b2', dense).length, Math.ceil(12_000 / MAX_READINGS_PER_SEGMENT));
});

t.test('documents stay under the 1 MiB limit in the worst case', async (t) => {
  t.equal(valueBytes({ ab: 'xyz', n: [1, 2], m: null, b: true }), 3 + 4 + 2 + 16 + 2 + 1 + 2 + 1);
  // Worst segment: MAX readings, each of a different device with long ids and bed labels.
  const worst = Array.from({ length: MAX_READINGS_PER_SEGMENT }, (_, i) =>
    reading(i, {
      device: `device-with-a-long-identifier-${String(i).padStart(30, '0')}`.slice(0, 64),
      ts: T0 + i,
      code: 'infusion_rate',
      unit: 'mL/h',
      value: 1234.5678,
    }),
  );
  const [seg] = buildSegments('3B', 'gw-3b', 'b' + '0'.repeat(32), worst);
  const bytes = documentBytes(`wards/3B/segments/b${'0'.repeat(32)}_0`, { ...seg, ingested: 0, expireAt: new Date() });
  t.comment(`worst-case segment: ${bytes} bytes (${((bytes / MAX_DOCUMENT_BYTES) * 100).toFixed(0)} % of the limit)`);
  t.ok(bytes < MAX_DOCUMENT_BYTES * 0.8, 'segment below 80 % of the limit');
  // An hour document for 60 patients with 10 metrics each, every value distinct (widest histograms).
  const doc = newHourDoc('3B', T0, 0);
  for (let p = 0; p < 60; p++) {
    for (const code of ['hr', 'pr', 'spo2', 'rr', 'nibp_sys', 'nibp_dia', 'nibp_map', 'temp', 'etco2', 'fio2']) {
      for (let s = 0; s < 3600; s += 10)
        addReading(doc, {
          subject: patientPseudonym('k'.repeat(32), `MRN-${p}`),
          bed: `bed ${p}`,
          patient: null,
          code,
          ts: T0 + s * 1000,
          value: 20 + (s % 80) + (code === 'temp' ? 0.1 * (s % 10) : 0),
          flags: 0,
        });
    }
  }
  const hourBytes = documentBytes(
    `wards/3B/hours/${hourKey(T0)}_0`,
    toStored(doc) as unknown as Record<string, unknown>,
  );
  t.comment(`hour document for 60 patients x 10 metrics: ${hourBytes} bytes`);
  t.ok(hourBytes < MAX_DOCUMENT_BYTES, 'one shard holds 60 patients');
});

t.test('settings: gateways, tokens, secret files must be 0600', async (t) => {
  const gateways = parseGateways(JSON.stringify({ 'gw-3b': { ward: '3B', secret: 's'.repeat(32) } }));
  t.same(gateways.get('gw-3b'), { ward: '3B', secret: 's'.repeat(32) });
  t.equal(
    fieldOf(() => parseGateways(JSON.stringify({ 'gw-3b': { ward: '3B', secret: 'short' } }))),
    'WARDGATE_GATEWAYS.gw-3b.secret',
  );
  t.throws(() => parseGateways('{'), { code: 'WG_ERR_CONFIG' });
  t.equal(
    fieldOf(() => parseGateways(JSON.stringify({ 'bad id': { ward: '3B', secret: 's'.repeat(32) } }))),
    'WARDGATE_GATEWAYS.bad id',
  );
  t.same(parseApiTokens(JSON.stringify([{ name: 'a', sha256: sha256Hex('x'), wards: ['*'] }]))[0].wards, ['*']);
  t.equal(
    fieldOf(() => parseApiTokens(JSON.stringify([{ name: 'a', sha256: 'plain-token', wards: ['3B'] }]))),
    'WARDGATE_API_TOKENS[0].sha256',
  );
  t.equal(
    fieldOf(() => parseApiTokens(JSON.stringify([{ name: 'a', sha256: sha256Hex('x'), wards: [] }]))),
    'WARDGATE_API_TOKENS[0].wards',
  );

  const dir = tempDir(t);
  const file = join(dir, 'gateways.json');
  writeFileSync(file, JSON.stringify({ 'gw-1': { ward: '1A', secret: 'q'.repeat(40) } }));
  chmodSync(file, 0o644);
  t.throws(() => readSecretFile(file, 'WARDGATE_GATEWAYS_FILE'), /must be 0600/);
  chmodSync(file, 0o600);
  const s = settingsFromEnv({ WARDGATE_GATEWAYS_FILE: file, WARDGATE_PROJECT: 'p-1', WARDGATE_ANALYSIS_SHARDS: '2' });
  t.same([s.projectId, s.gateways.get('gw-1')?.ward, s.analysisShards, s.retentionDays], ['p-1', '1A', 2, 30]);
  t.equal(
    fieldOf(() => settingsFromEnv({ WARDGATE_RETENTION_DAYS: '0' })),
    'WARDGATE_RETENTION_DAYS',
  );
  t.ok(Object.isFrozen(s));
});

t.test('paths: hour keys and stable shards', async (t) => {
  t.equal(hourKey(Date.UTC(2026, 10, 27, 9, 59, 59)), '2026112709');
  t.equal(shardOf('bed-12', 1), 0);
  const shards = new Set(Array.from({ length: 100 }, (_, i) => shardOf(`bed-${i}`, 4)));
  t.same([...shards].sort(), [0, 1, 2, 3], 'subjects spread over shards');
  t.equal(shardOf('bed-12', 4), shardOf('bed-12', 4));
});

/** The field named by the error a call throws (undefined when it does not throw). */
function fieldOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return (err as { field?: string }).field;
  }
  return undefined;
}
