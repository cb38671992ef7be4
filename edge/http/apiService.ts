// The edge API as one service of the daemon. Its routes read the alarm
// engine, so it starts after the alarm service; it registers them before the
// HTTP port opens (the server starts last).
import type { Service } from '../service.js';
import { registerApi, type ApiDeps } from './api.js';

export class ApiService implements Service {
  readonly name = 'api';
  readonly #deps: ApiDeps;

  constructor(deps: ApiDeps) {
    this.#deps = deps;
  }

  async start(): Promise<void> {
    registerApi(this.#deps);
  }

  /** The routes go with the HTTP server, which stops first. */
  async stop(): Promise<void> {}
}
