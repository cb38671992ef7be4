// The edge API under /api: the ward's beds, alarms and admissions, for the
// dashboard, ward displays and the command line. Every call is authenticated;
// nurses acknowledge and record NEWS2 entries, admins admit and discharge;
// every change is audited. Who may change what, and from where: auth.ts and
// origin.ts (docs/SECURITY.md).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AlarmService } from '../alarms/alarmService.js';
import { alarmView, eventView } from '../alarms/outputs.js';
import type { Authenticator } from '../auth/authenticator.js';
import type { Role } from '../config/schema.js';
import { consciousnessLevels, type Admissions, type Consciousness, type Settings } from '../patients/admissions.js';
import { bedSeen } from '../store/bedQuery.js';
import { readStatus } from '../store/statusQuery.js';
import type { Store } from '../store/store.js';
import { isHttpErrorCode, WardgateError } from '../../shared/errors.js';
import { isPlainObject } from '../../shared/observation.js';
import { hasRole, identify, type Caller, type SessionLookup } from './auth.js';
import { changesState, crossSite } from './origin.js';
import { bedList, bedView } from './bedView.js';
import { readTrends } from '../store/trendQuery.js';
import type { EventBus } from '../bus.js';
import { sendJson, sendJsonError, type HttpServer } from './server.js';

export interface ApiDeps {
  readonly http: HttpServer;
  readonly auth: Authenticator;
  readonly localToken: string;
  /** The engine, the alarm history and acknowledgements; started before the API's routes are registered. */
  readonly alarms: AlarmService;
  readonly admissions: Admissions;
  /** Told of every change to a bed's patient, for the screens that show it. */
  readonly bus: EventBus;
  readonly store: Store;
  /** Beds that have a device bound in config. */
  readonly beds: readonly string[];
  readonly now?: () => number;
  /** The dashboard's session cookies, when the dashboard is served. */
  readonly sessions?: SessionLookup;
}

const MAX_BODY = 16 * 1024;

export type Action = (ctx: {
  req: IncomingMessage;
  res: ServerResponse;
  params: Record<string, string>;
  caller: Caller;
  query: URLSearchParams;
}) => unknown;

/** Registers an API route: cross-site changes refused, the caller identified and their role checked, coded errors answered as JSON. */
export type ApiRoute = (method: string, path: string, role: Role, action: Action) => void;

/** The route registrar of the edge API, for features that add routes under /api (charting vitals). */
export function apiRouter(deps: Pick<ApiDeps, 'http' | 'auth' | 'localToken' | 'sessions'>): ApiRoute {
  const { http } = deps;
  return (method, path, role, action) =>
    http.route(method, path, async (req, res, params) => {
      // Refused before any credential is looked at, whatever the authentication.
      const foreign = changesState(req) ? crossSite(req) : undefined;
      if (foreign) return sendJsonError(res, 'WG_ERR_FORBIDDEN', foreign);
      // No WWW-Authenticate challenge, ever: a browser would ask for a password and then replay it by itself.
      const identity = await identify(req, deps.auth, deps.localToken, deps.sessions);
      if (!identity.ok) return sendJsonError(res, identity.code, identity.message);
      const { caller } = identity;
      if (!hasRole(caller, role))
        return sendJsonError(
          res,
          'WG_ERR_FORBIDDEN',
          `this needs the ${role} role; ${caller.name} is a ${caller.role}`,
        );
      try {
        const body = await action({
          req,
          res,
          params,
          caller,
          query: new URL(req.url ?? '/', 'http://edge').searchParams,
        });
        if (!res.headersSent) sendJson(res, method === 'POST' ? 201 : 200, body);
      } catch (err) {
        // A code with no HTTP status is a fault of ours: the server logs it and answers 500.
        if (!(err instanceof WardgateError) || !isHttpErrorCode(err.code)) throw err;
        sendJsonError(res, err.code, err.message, err.field);
      }
    });
}

export function registerApi(deps: ApiDeps): void {
  const { admissions, alarms, store } = deps;
  const { engine } = alarms;
  const now = deps.now ?? Date.now;
  // The alarm engine hears it first (NEWS2 scored anew, a departed patient's values forgotten), as it hears
  // the ADT feed's; then every open dashboard and the retained bed vitals show the change.
  const patientChanged = (bed: string) => deps.bus.emit('patient.changed', { bed });
  const route = apiRouter(deps);

  const beds = () => bedList(deps.beds, admissions);
  const view = (bed: string) => bedView(engine, admissions, bed);
  // A bed is one the config binds a device to, one with a patient admitted, or one readings have come from.
  const knownBed = (bed: string) => {
    if (deps.beds.includes(bed) || admissions.get(bed) !== undefined || bedSeen(store.db, bed)) return bed;
    throw new WardgateError('WG_ERR_NOT_FOUND', `no bed ${bed} on this ward`, 'bed');
  };

  route('GET', '/api/status', 'viewer', () => readStatus(store.db));
  route('GET', '/api/beds', 'viewer', () => ({ beds: beds().map(view) }));
  route('GET', '/api/beds/:bed', 'viewer', ({ params }) => view(knownBed(params.bed)));
  route('GET', '/api/beds/:bed/trends', 'viewer', ({ params, query }) => {
    const hours = Number(query.get('hours') ?? 4);
    const points = Number(query.get('points') ?? 240);
    if (!(hours > 0 && hours <= 72))
      throw new WardgateError('WG_ERR_SCHEMA', 'expected a number of hours in (0, 72]', 'hours');
    if (!(Number.isInteger(points) && points >= 10 && points <= 2000))
      throw new WardgateError('WG_ERR_SCHEMA', 'expected an integer from 10 to 2000', 'points');
    const to = now();
    return readTrends(store.db, { bed: knownBed(params.bed), from: to - hours * 3_600_000, to, points });
  });
  route('GET', '/api/alarms', 'viewer', () => ({ alarms: engine.openAlarms().map(alarmView) }));
  route('GET', '/api/alarms/history', 'viewer', ({ query }) => {
    const since = query.get('since');
    const limit = Number(query.get('limit') ?? 200);
    return {
      events: alarms
        .history({
          ...(query.get('bed') && { bed: query.get('bed')! }),
          ...(since && { since: Date.parse(since) }),
          limit: Number.isFinite(limit) ? limit : 200,
        })
        .map(eventView),
    };
  });
  route('POST', '/api/alarms/:id/ack', 'nurse', ({ params, caller, res }) => {
    const alarm = alarms.acknowledge(params.id, caller.name, caller.via ?? 'api');
    if (!alarm) throw new WardgateError('WG_ERR_NOT_FOUND', `no open alarm ${params.id}`);
    sendJson(res, 200, alarmView(alarm));
  });
  route('POST', '/api/admissions', 'admin', async ({ req, caller }) => {
    const body = await readJson(req);
    const bed = requireString(body, 'bed');
    const admission = admissions.admit(
      {
        bed,
        identifier: requireString(body, 'identifier'),
        ...optionalString(body, 'authority'),
        ...optionalString(body, 'displayName'),
      },
      caller.name,
    );
    patientChanged(bed);
    return { bed: admission.bed, admittedAt: new Date(admission.admittedAt).toISOString() };
  });
  route('POST', '/api/beds/:bed/discharge', 'admin', ({ params, caller, res }) => {
    admissions.discharge(params.bed, caller.name);
    patientChanged(params.bed);
    sendJson(res, 200, { bed: params.bed, discharged: true });
  });
  route('PUT', '/api/beds/:bed/settings', 'nurse', async ({ req, params, caller }) => {
    const updated = admissions.updateSettings(params.bed, parseSettings(await readJson(req)), caller.name);
    patientChanged(params.bed);
    return view(updated.bed).patient;
  });
  route('GET', '/api/audit', 'admin', ({ query }) => ({
    entries: store.audit
      .recent(Number(query.get('limit') ?? 100) || 100)
      .map((e) => ({ ...e, ts: new Date(e.ts).toISOString() })),
  }));
}

export async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new WardgateError('WG_ERR_TOO_LARGE', `request body over ${MAX_BODY} bytes`);
    chunks.push(chunk as Buffer);
  }
  let body: unknown;
  try {
    body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new WardgateError('WG_ERR_JSON', 'the request body is not valid JSON');
  }
  if (!isPlainObject(body)) throw new WardgateError('WG_ERR_SCHEMA', 'expected a JSON object');
  return body;
}

/** The text fields of an admission: fixed names, so a lookup never reaches the prototype. */
type TextField = 'bed' | 'identifier' | 'authority' | 'displayName';

function requireString(body: Record<string, unknown>, field: TextField): string {
  const value = body[field];
  if (typeof value !== 'string' || value.trim() === '' || value.length > 128)
    throw new WardgateError('WG_ERR_SCHEMA', 'expected text of 1-128 characters', field);
  return value.trim();
}

function optionalString(body: Record<string, unknown>, field: TextField): Record<string, string> {
  return body[field] === undefined ? {} : { [field]: requireString(body, field) };
}

function parseSettings(body: Record<string, unknown>): Settings {
  const settings: Settings = {};
  for (const key of Object.keys(body)) {
    if (!['spo2Scale', 'onOxygen', 'consciousness'].includes(key))
      throw new WardgateError('WG_ERR_SCHEMA', 'unknown field (allowed: spo2Scale, onOxygen, consciousness)', key);
  }
  if (body.spo2Scale !== undefined) {
    if (body.spo2Scale !== 1 && body.spo2Scale !== 2)
      throw new WardgateError('WG_ERR_SCHEMA', 'expected 1 or 2', 'spo2Scale');
    settings.spo2Scale = body.spo2Scale;
  }
  if (body.onOxygen !== undefined) {
    if (typeof body.onOxygen !== 'boolean')
      throw new WardgateError('WG_ERR_SCHEMA', 'expected true or false', 'onOxygen');
    settings.onOxygen = body.onOxygen;
  }
  if (body.consciousness !== undefined) {
    if (!consciousnessLevels.includes(body.consciousness as Consciousness))
      throw new WardgateError(
        'WG_ERR_SCHEMA',
        `expected one of ${consciousnessLevels.join(', ')} (ACVPU)`,
        'consciousness',
      );
    settings.consciousness = body.consciousness as Consciousness;
  }
  return settings;
}
