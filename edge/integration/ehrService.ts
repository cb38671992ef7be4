// The EHR feature as one service of the daemon (config `ehr`): the outbound
// link to the interface engine, the review-and-send routes under /api, and
// the optional periodic send of unvalidated vitals. Starts after the alarm
// service (its technical alarms go to the engine) and registers its routes
// before the HTTP port opens; stops before the store closes.
import { readFileSync } from 'node:fs';
import type { Registry } from 'prom-client';
import { WardgateError } from '../../shared/errors.js';
import { isPlainObject } from '../../shared/observation.js';
import type { Admissions } from '../patients/admissions.js';
import { readJson, type ApiRoute } from '../http/api.js';
import type { Logger } from '../log.js';
import type { Service } from '../service.js';
import type { AuditLog } from '../store/auditLog.js';
import type { Db } from '../store/database.js';
import type { TechnicalAlarms } from '../sync/technicalAlarms.js';
import type { EhrConfig } from './ehrConfig.js';
import type { MllpClientTls } from './mllpClient.js';
import { OutboundLink } from './outboundLink.js';
import { VitalsCharting, type SubmittedValue } from './vitalsCharting.js';

export const EHR_LINK = 'ehr';

export interface EhrServiceDeps {
  readonly config: EhrConfig;
  readonly ward: string;
  readonly db: Db;
  readonly audit: AuditLog;
  readonly admissions: Admissions;
  readonly alarms: TechnicalAlarms;
  readonly log: Logger;
  readonly registry?: Registry;
  /** Registers routes under /api with the API's authentication (http/api.ts). */
  readonly route: ApiRoute;
  readonly now?: () => number;
}

export class EhrService implements Service {
  readonly name = 'ehr';
  readonly #deps: EhrServiceDeps;
  #link: OutboundLink | undefined;
  #charting: VitalsCharting | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(deps: EhrServiceDeps) {
    this.#deps = deps;
  }

  /** The link to the interface engine, once started. */
  get link(): OutboundLink {
    if (!this.#link) throw new Error('the EHR service is not started');
    return this.#link;
  }

  get charting(): VitalsCharting {
    if (!this.#charting) throw new Error('the EHR service is not started');
    return this.#charting;
  }

  /** Reads the TLS files, starts the link, registers the routes and the unvalidated send. */
  async start(): Promise<void> {
    const { config, ...deps } = this.#deps;
    const link = new OutboundLink({
      name: EHR_LINK,
      receiver: 'the EHR',
      db: deps.db,
      alarms: deps.alarms,
      log: deps.log,
      connection: {
        host: config.host,
        port: config.port,
        connectTimeoutMs: config.connectTimeoutMs,
        ackTimeoutMs: config.ackTimeoutMs,
        ...(config.tls && { tls: readTls(config.tls) }),
      },
      retry: { minMs: config.retryMinMs, maxMs: config.retryMaxMs },
      unreachableAlarmMs: config.unreachableAlarmMs,
      ...(deps.registry && { registry: deps.registry }),
      ...(deps.now && { now: deps.now }),
    });
    this.#link = link;
    this.#charting = new VitalsCharting({
      config,
      ward: deps.ward,
      db: deps.db,
      admissions: deps.admissions,
      audit: deps.audit,
      link,
      ...(deps.now && { now: deps.now }),
    });
    await link.start();
    this.#routes();
    const unvalidated = config.unvalidated;
    if (unvalidated) {
      this.#timer = setInterval(() => this.#sendUnvalidated(), unvalidated.intervalMs);
      this.#timer.unref();
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#link?.stop();
  }

  #sendUnvalidated(): void {
    try {
      const queued = this.charting.sendUnvalidated();
      if (queued) this.#deps.log.debug({ link: EHR_LINK, queued }, 'unvalidated vitals queued for the EHR');
    } catch (err) {
      this.#deps.log.error({ err, link: EHR_LINK }, 'unvalidated vitals could not be queued; the next run tries again');
    }
  }

  #routes(): void {
    const { route } = this.#deps;
    route('GET', '/api/beds/:bed/chart', 'nurse', ({ params }) => this.charting.review(params.bed));
    route('POST', '/api/beds/:bed/chart', 'nurse', async ({ req, params, caller }) =>
      this.charting.send(params.bed, parseValues(await readJson(req)), caller.name),
    );
    route('GET', '/api/ehr', 'viewer', () => this.link.status());
    route('POST', '/api/ehr/retry', 'admin', ({ caller }) => {
      const requeued = this.link.retryQuarantined();
      this.#deps.audit.record({
        ts: (this.#deps.now ?? Date.now)(),
        actor: caller.name,
        action: 'ehr-retry-quarantined',
        target: `link:${EHR_LINK}`,
        detail: { requeued },
      });
      return { requeued };
    });
  }
}

function readTls(tls: NonNullable<EhrConfig['tls']>): MllpClientTls {
  return {
    ...(tls.ca && { ca: readFileSync(tls.ca) }),
    ...(tls.cert && { cert: readFileSync(tls.cert) }),
    ...(tls.key && { key: readFileSync(tls.key) }),
    ...(tls.servername && { servername: tls.servername }),
  };
}

/** `{ values: [{ metric, value, observation? }] }`, each field checked. */
export function parseValues(body: Record<string, unknown>): SubmittedValue[] {
  for (const key of Object.keys(body))
    if (key !== 'values') throw new WardgateError('WG_ERR_SCHEMA', 'unknown field (allowed: values)', key);
  const values = body.values;
  if (!Array.isArray(values) || values.length === 0 || values.length > 32)
    throw new WardgateError('WG_ERR_SCHEMA', 'expected an array of 1-32 values', 'values');
  return values.map((v: unknown, i) => {
    const field = `values[${i}]`;
    if (!isPlainObject(v))
      throw new WardgateError('WG_ERR_SCHEMA', 'expected an object { metric, value, observation?, amends? }', field);
    for (const key of Object.keys(v))
      if (!['metric', 'value', 'observation', 'amends'].includes(key))
        throw new WardgateError(
          'WG_ERR_SCHEMA',
          'unknown field (allowed: metric, value, observation, amends)',
          `${field}.${key}`,
        );
    if (typeof v.metric !== 'string')
      throw new WardgateError('WG_ERR_SCHEMA', 'expected a metric name', `${field}.metric`);
    if (typeof v.value !== 'number' || !Number.isFinite(v.value))
      throw new WardgateError('WG_ERR_SCHEMA', 'expected a number', `${field}.value`);
    if (v.observation !== undefined && !(Number.isSafeInteger(v.observation) && (v.observation as number) > 0)) {
      throw new WardgateError('WG_ERR_SCHEMA', 'expected the id of a stored observation', `${field}.observation`);
    }
    if (v.amends !== undefined && (typeof v.amends !== 'string' || !/^[A-Za-z0-9]{1,20}$/.test(v.amends)))
      throw new WardgateError('WG_ERR_SCHEMA', 'expected the control id of a charted message', `${field}.amends`);
    if (v.amends !== undefined && v.observation !== undefined)
      throw new WardgateError(
        'WG_ERR_SCHEMA',
        'a device reading is named by its observation; amends names an entered value',
        `${field}.amends`,
      );
    return {
      metric: v.metric,
      value: v.value,
      ...(v.observation !== undefined && { observation: v.observation as number }),
      ...(v.amends !== undefined && { amends: v.amends }),
    };
  });
}
