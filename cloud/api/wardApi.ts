// wardApi (HTTP, read-only, token-authenticated): the ward's analysis results
// for front-ends. JSON, paginated with opaque cursors, with clear 4xx errors.
//
//   GET /wards/{ward}/overview                       patients, latest vitals, NEWS2, risk
//   GET /wards/{ward}/patients/{subject}/vitals      downsampled vitals (from, to, bucket s, codes)
//   GET /wards/{ward}/patients/{subject}/summaries   hourly statistics (from, to)
//   GET /wards/{ward}/alerts                         cloud alerts since a time (since, subject)
import type { Request, Response } from '@google-cloud/functions-framework';
import { isHttpErrorCode, WardgateError } from '../../shared/errors.js';
import type { CloudContext } from '../context.js';
import { header, sendError, sendJson } from '../http.js';
import { SLOT_MS } from '../store/paths.js';
import { authenticate } from './auth.js';
import { cursorParam, encodeCursor, intParam, listParam, queryOf, single, timeParam, type Query } from './params.js';
import { alertsSince, summaries, vitals, wardState } from './queries.js';

const ROUTE =
  /^\/wards\/([A-Za-z0-9][A-Za-z0-9._-]{0,63})\/(overview|alerts|patients\/([A-Za-z0-9][A-Za-z0-9 ._-]{0,63})\/(vitals|summaries))\/?$/;

/** The largest offset an overview cursor may hold: far beyond any ward's patients. */
const MAX_OFFSET = 100_000;
/** A Firestore document id this API hands out (no '/', not reserved as __name__). */
const DOC_ID = /^(?!__.*__$)(?!\.\.?$)[A-Za-z0-9._:|-]{1,256}$/;
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isMs = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

const isOffset = (v: unknown): v is { o: number } =>
  isRecord(v) && Number.isSafeInteger(v.o) && (v.o as number) >= 0 && (v.o as number) <= MAX_OFFSET;
const isAfter = (v: unknown): v is { ts: number; id: string } =>
  isRecord(v) && isMs(v.ts) && typeof v.id === 'string' && DOC_ID.test(v.id);

export function wardApi(ctx: CloudContext) {
  return async (req: Request, res: Response): Promise<void> => {
    if (req.method !== 'GET') return sendError(res, 'WG_ERR_METHOD', 'the ward API is read-only: use GET');
    let path: string;
    try {
      path = decodeURIComponent(req.path);
    } catch {
      // The framework's router answers a malformed %-escape first (400, requestGuard.ts); called directly, it matches no route.
      path = req.path;
    }
    const match = ROUTE.exec(path);
    const auth = authenticate(header(req.headers.authorization), ctx.settings.apiTokens, match?.[1]);
    // Authentication before routing: an unauthenticated caller learns nothing, not even which routes exist.
    if (!auth.ok) return sendError(res, auth.code, auth.message, 'Authorization');
    if (!match) return sendError(res, 'WG_ERR_NOT_FOUND', 'no such route; see docs/DEPLOY.md for the read API');
    const [, ward, what, subject, sub] = match;
    try {
      const body = await route(ctx, queryOf(req.url), ward, subject ? sub : what, subject);
      sendJson(res, 200, body);
    } catch (err) {
      if (err instanceof WardgateError && isHttpErrorCode(err.code))
        return sendError(res, err.code, err.message.replace(`${err.field}: `, ''), err.field);
      ctx.log.error({ ward, route: what, err: (err as Error).message }, 'ward API failed');
      sendError(res, 'WG_ERR_UNAVAILABLE', 'the read failed; retry');
    }
  };
}

async function route(
  ctx: CloudContext,
  query: Query,
  ward: string,
  what: string,
  subject: string | undefined,
): Promise<unknown> {
  const { db, settings } = ctx;
  const now = ctx.now();
  const limit = intParam(query, 'limit', 100, 1, 1000);
  if (what === 'overview') {
    const offset = cursorParam(query, isOffset)?.o ?? 0;
    const state = await wardState(db, ward);
    const all = Object.entries(state)
      .map(([id, s]) => ({
        subject: id,
        bed: s.bed,
        patient: s.patient,
        asOf: s.asOf,
        vitals: s.last,
        news2: s.news2,
        risk: s.risk,
        trends: s.trends,
      }))
      .sort((a, b) => a.bed.localeCompare(b.bed, 'en', { numeric: true }) || a.subject.localeCompare(b.subject));
    const page = all.slice(offset, offset + limit);
    return {
      ward,
      total: all.length,
      patients: page,
      next: offset + limit < all.length ? encodeCursor({ o: offset + limit }) : null,
    };
  }
  if (what === 'alerts') {
    const since = timeParam(query, 'since', now - 24 * 3_600_000);
    const subjectFilter = single(query, 'subject');
    const list = await alertsSince(db, ward, since, limit, cursorParam(query, isAfter), subjectFilter);
    const last = list[list.length - 1];
    return {
      ward,
      alerts: list,
      next: list.length === limit && last ? encodeCursor({ ts: last.ts, id: last.id }) : null,
    };
  }
  const to = timeParam(query, 'to', now);
  const from = timeParam(query, 'from', to - 6 * 3_600_000);
  if (from > to) throw new WardgateError('WG_ERR_SCHEMA', 'must not be after to', 'from');
  if (what === 'summaries')
    return { ward, subject, from, to, hours: await summaries(db, ward, subject!, from, to, settings.analysisShards) };

  const bucket = intParam(query, 'bucket', SLOT_MS / 1000, 1, 86_400) * 1000;
  if (bucket >= SLOT_MS && bucket % SLOT_MS !== 0)
    throw new WardgateError('WG_ERR_SCHEMA', 'from 300 s up, buckets are multiples of 300 s', 'bucket');
  // A vitals cursor is the start of the next bucket: inside the range, on a bucket boundary.
  const cursor = cursorParam(
    query,
    (v): v is { t: number } => isRecord(v) && isMs(v.t) && v.t >= from && v.t <= to && v.t % bucket === 0,
  );
  const points = await vitals(
    db,
    ward,
    subject!,
    listParam(query, 'codes'),
    cursor ? cursor.t : from,
    to,
    bucket,
    settings.analysisShards,
  );
  const page = points.slice(0, limit);
  // Pages end on a bucket boundary, so a bucket's metrics are never split across pages.
  let cut = page.length;
  if (points.length > limit) {
    const lastT = page[page.length - 1].t;
    cut = page.findIndex((p) => p.t === lastT);
    if (cut === 0) cut = page.length;
  }
  const sent = page.slice(0, cut);
  const next = points.length > sent.length ? encodeCursor({ t: points[sent.length].t }) : null;
  return { ward, subject, from, to, bucketSeconds: bucket / 1000, points: sent, next };
}
