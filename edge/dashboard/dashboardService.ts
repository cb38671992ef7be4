// The ward dashboard as one service of the daemon: the page and its assets,
// login with sessions, and the live feed. It reads what the alarm service
// owns (engine, admissions), so it starts after it and stops before it.
import type { Authenticator } from '../auth/authenticator.js';
import type { AlarmService } from '../alarms/alarmService.js';
import type { EventBus } from '../bus.js';
import type { GatewayConfig } from '../config/load.js';
import type { Caller, SessionLookup } from '../http/auth.js';
import type { HttpServer } from '../http/server.js';
import type { Logger } from '../log.js';
import type { Service } from '../service.js';
import type { Store } from '../store/store.js';
import { LiveFeed } from './live.js';
import { registerDashboard } from './routes.js';
import { csrfOk, SessionStore } from './sessions.js';
import { publicDir, StaticAssets } from './static.js';
import { LoginThrottle } from '../auth/loginThrottle.js';
import { WardState } from './wardState.js';

export interface DashboardDeps {
  readonly config: GatewayConfig;
  readonly http: HttpServer;
  readonly auth: Authenticator;
  readonly bus: EventBus;
  readonly log: Logger;
  readonly store: Store;
  readonly alarms: AlarmService;
  readonly sessions: SessionStore;
}

/** Dashboard sessions as API callers: a change (POST, PUT) also needs the session's CSRF token (the API checks it). */
export function sessionLookup(sessions: SessionStore): SessionLookup {
  return {
    session(req) {
      const session = sessions.fromRequest(req);
      if (!session) return undefined;
      const caller: Caller = { name: session.name, role: session.role, via: 'dashboard' };
      return { caller, csrfOk: csrfOk(req, session) };
    },
  };
}

export function createSessions(config: GatewayConfig): SessionStore {
  return new SessionStore({
    idleTimeoutMs: config.dashboard.idleTimeoutMs,
    absoluteTimeoutMs: config.dashboard.absoluteTimeoutMs,
  });
}

export class DashboardService implements Service {
  readonly name = 'dashboard';
  readonly #deps: DashboardDeps;
  #live: LiveFeed | undefined;

  constructor(deps: DashboardDeps) {
    this.#deps = deps;
  }

  /** Open live streams (for the benchmark and tests). */
  get liveClients(): number {
    return this.#live?.clients ?? 0;
  }

  async start(): Promise<void> {
    const { config, http, auth, bus, log, sessions, alarms, store } = this.#deps;
    const { engine, admissions } = alarms;
    const beds = [...new Set(config.devices.flatMap((d) => (d.bed === undefined ? [] : [d.bed])))];
    const state = new WardState({ engine, admissions, db: store.db, beds, syncConfigured: config.cloud !== undefined });
    this.#live = new LiveFeed({
      bus,
      state,
      sessions,
      log: log.child({ module: 'dashboard' }),
      ward: config.ward,
      statusIntervalMs: config.dashboard.statusIntervalMs,
    });
    this.#live.start();
    registerDashboard({
      http,
      auth,
      sessions,
      throttle: new LoginThrottle(),
      audit: store.audit,
      live: this.#live,
      assets: new StaticAssets(publicDir()),
      ward: config.ward,
      ehr: config.ehr !== undefined,
    });
  }

  async stop(): Promise<void> {
    this.#live?.stop();
    this.#live = undefined;
  }
}
