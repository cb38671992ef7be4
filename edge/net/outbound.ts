// Every request the gateway makes out: the sync's batches, its verification
// and config pull, Google ID tokens and the alarm webhook. Node's fetch goes
// straight to the host whatever HTTPS_PROXY says; a ward box behind the
// hospital's web proxy reaches nothing that way. Here a request goes through
// the proxy (undici's ProxyAgent as the fetch dispatcher, an HTTP CONNECT
// tunnel for https:// and http:// targets alike) unless its host is in
// noProxy or is the box's own loopback, which no proxy elsewhere could reach.
//
// Where the proxy comes from: the config's `proxy` section whole (url,
// noProxy, password), else the environment, as curl reads it: https_proxy or
// HTTPS_PROXY for https:// targets, http_proxy or HTTP_PROXY for http://, and
// no_proxy or NO_PROXY (README "Outbound through a web proxy").
//
// undici is loaded at the first proxied request only: some 3.5 MiB of heap
// and 18 MiB of RSS that a gateway without a proxy never pays.
import { readFileSync } from 'node:fs';
import { STATUS_CODES } from 'node:http';
import { isIP } from 'node:net';
import { WardgateError } from '../../shared/errors.js';
import type { ProxyConfig } from './config.js';

/** One proxy: its URL without the password, and the password apart. */
export interface ProxyRoute {
  readonly url: URL;
  readonly password?: string;
  /** Where it was configured, for messages: `proxy.url`, `HTTPS_PROXY`... */
  readonly source: string;
}

export interface OutboundSettings {
  readonly https?: ProxyRoute;
  readonly http?: ProxyRoute;
  /** Entries as given (noProxyMatches reads them). */
  readonly noProxy: readonly string[];
  /** Where noProxy came from, for messages. */
  readonly noProxySource?: string;
}

/** A proxy refused or could not be reached: the request never got to its host. Retried like a network error. */
export class ProxyError extends Error {
  readonly code = 'WG_ERR_PROXY';
  constructor(
    message: string,
    /** The proxy's answer to CONNECT; null when it could not be reached. */
    readonly status: number | null,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'ProxyError';
  }
}

/**
 * The proxy settings: the config's `proxy` when there is one (the environment is
 * then not read), else the environment's. Throws WG_ERR_CONFIG for a proxy
 * variable that is not a URL. `proxy.passwordFile` is read here.
 */
export function outboundSettings(
  config: ProxyConfig | undefined,
  env: NodeJS.ProcessEnv,
  readFile: (path: string) => string = (path) => readFileSync(path, 'utf8'),
): OutboundSettings {
  if (config) {
    const url = new URL(config.url);
    decoded(url.username, 'proxy.url');
    const password =
      config.passwordEnv !== undefined
        ? env[config.passwordEnv]
        : config.passwordFile !== undefined
          ? readFile(config.passwordFile).trim()
          : undefined;
    const route: ProxyRoute = { url, ...(password !== undefined && { password }), source: 'proxy.url' };
    return { https: route, http: route, noProxy: config.noProxy, noProxySource: 'proxy.noProxy' };
  }
  const https = envRoute(env, 'https_proxy', 'HTTPS_PROXY');
  const http = envRoute(env, 'http_proxy', 'HTTP_PROXY');
  const noProxy = envValue(env, 'no_proxy', 'NO_PROXY');
  return {
    ...(https && { https }),
    ...(http && { http }),
    noProxy: noProxy ? noProxy.value.split(/[\s,]+/).filter(Boolean) : [],
    ...(noProxy && { noProxySource: noProxy.name }),
  };
}

function envValue(env: NodeJS.ProcessEnv, ...names: string[]): { name: string; value: string } | undefined {
  for (const name of names) {
    const value = env[name]?.trim();
    if (value) return { name, value };
  }
  return undefined;
}

function envRoute(env: NodeJS.ProcessEnv, ...names: string[]): ProxyRoute | undefined {
  const found = envValue(env, ...names);
  if (!found) return undefined;
  // `proxy:3128` is as common as `http://proxy:3128`.
  const text = /^[a-z][a-z0-9+.-]*:\/\//i.test(found.value) ? found.value : `http://${found.value}`;
  const url = URL.canParse(text) ? new URL(text) : undefined;
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || !url.hostname)
    throw new WardgateError('WG_ERR_CONFIG', `${found.name}: expected a proxy URL such as http://proxy:3128`);
  decoded(url.username, found.name);
  const password = url.password ? decoded(url.password, found.name) : undefined;
  url.password = '';
  return { url, ...(password !== undefined && { password }), source: found.name };
}

/** A URL's user or password, percent-decoded; WG_ERR_CONFIG naming `source` (never the text) when it cannot be. */
function decoded(text: string, source: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new WardgateError(
      'WG_ERR_CONFIG',
      `${source}: the proxy user or password is not valid percent-encoding (a % must be followed by two hex digits; write a % itself as %25)`,
    );
  }
}

/** The URL as it may be logged: the password, if any, replaced. */
export function redactUrl(url: string | URL): string {
  const u = new URL(url);
  if (u.password) u.password = '***';
  return u.href;
}

/** `url` is on this box: 127.0.0.0/8, ::1, localhost. A proxy elsewhere would reach its own loopback instead. */
export function isLoopback(url: URL): boolean {
  const host = bare(url.hostname);
  if (host === 'localhost' || host.endsWith('.localhost') || host === '::1') return true;
  return isIP(host) === 4 && host.startsWith('127.');
}

/**
 * Whether a noProxy entry list sends `url` directly: `*` (everything), a host
 * name (itself and its subdomains; a leading `.` or `*.` changes nothing), an
 * IP address, or either with `:port` (that port only).
 */
export function noProxyMatches(url: URL, entries: readonly string[]): boolean {
  const host = bare(url.hostname);
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  for (const raw of entries) {
    const entry = raw.trim().toLowerCase();
    if (entry === '*') return true;
    let name = entry;
    let entryPort: string | undefined;
    // A bare IPv6 address (::1, fe80::1) has colons but no port; `[::1]:8080` has one.
    if (isIP(entry) !== 6) {
      const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(entry);
      if (!m) continue;
      name = bare(m[1]);
      entryPort = m[2];
    }
    if (entryPort !== undefined && entryPort !== port) continue;
    name = name.replace(/^\*?\./, '');
    if (!name) continue;
    if (host === name || (isIP(name) === 0 && host.endsWith(`.${name}`))) return true;
  }
  return false;
}

const bare = (host: string) => host.toLowerCase().replace(/^\[(.*)\]$/, '$1');

type Undici = typeof import('undici');
type Dispatcher = InstanceType<Undici['ProxyAgent']>;
/** undici's own fetch and its ProxyAgent: the dispatcher is always given to the fetch of its own package. */
interface Proxied {
  readonly fetch: Undici['fetch'];
  readonly agent: Dispatcher;
}

/** Outbound HTTP for one process, from its settings: `fetch` with the right dispatcher for each URL. */
export class Outbound {
  readonly #settings: OutboundSettings;
  readonly #proxyTimeoutMs: number;
  readonly #agents = new Map<ProxyRoute, Promise<Proxied>>();

  /**
   * `proxyTimeoutMs` bounds the connection to the proxy and its answer to
   * CONNECT: no longer than the shortest timeout of the requests that go out
   * (a fetch's abort does not cancel a CONNECT under way).
   */
  constructor(settings: OutboundSettings = { noProxy: [] }, options: { proxyTimeoutMs?: number } = {}) {
    this.#settings = settings;
    this.#proxyTimeoutMs = options.proxyTimeoutMs ?? 30_000;
  }

  /** Whether any proxy is configured (for any target). */
  get proxied(): boolean {
    return this.#settings.https !== undefined || this.#settings.http !== undefined;
  }

  /** The proxy a request to `url` goes through; undefined: directly. */
  proxyFor(url: string | URL): ProxyRoute | undefined {
    const u = new URL(url);
    const route =
      u.protocol === 'https:' ? this.#settings.https : u.protocol === 'http:' ? this.#settings.http : undefined;
    if (!route || isLoopback(u) || noProxyMatches(u, this.#settings.noProxy)) return undefined;
    return route;
  }

  /** How a request to `url` goes, as it may be logged (never the password). */
  describe(url: string | URL): string {
    const route = this.proxyFor(url);
    if (route) return `through the web proxy ${redactUrl(route.url)} (${route.source})`;
    const any = this.#settings.https ?? this.#settings.http;
    if (!any) return 'directly';
    return isLoopback(new URL(url))
      ? 'directly (loopback)'
      : `directly (${this.#settings.noProxySource ?? 'no proxy for this scheme'})`;
  }

  /** fetch, through the proxy where one applies; a proxy's refusal rejects with a ProxyError. */
  async fetch(input: string | URL, init: RequestInit = {}): Promise<Response> {
    const route = this.proxyFor(input);
    if (!route) return fetch(input, init);
    // undici's fetch, not Node's: Node's bundles an undici of its own, of another major version on a later Node,
    // which need not take this package's dispatcher.
    const { fetch: undiciFetch, agent } = await this.#agent(route);
    try {
      return await undiciFetch(input, { ...init, dispatcher: agent });
    } catch (err) {
      throw proxyFailure(err, route, new URL(input)) ?? err;
    }
  }

  /**
   * Ends the proxy connections at once, a CONNECT still waiting for its answer
   * included (close() would wait for it): at stop, nothing of them holds the
   * process open.
   */
  async destroy(): Promise<void> {
    const agents = [...this.#agents.values()];
    this.#agents.clear();
    await Promise.all(agents.map(async (a) => (await a).agent.destroy().catch(() => undefined)));
  }

  #agent(route: ProxyRoute): Promise<Proxied> {
    let agent = this.#agents.get(route);
    if (!agent) {
      agent = import('undici').then(({ ProxyAgent, Pool, fetch }) => {
        const user = decoded(route.url.username, route.source);
        const uri = new URL(route.url);
        uri.username = '';
        const token =
          user || route.password
            ? `Basic ${Buffer.from(`${user}:${route.password ?? ''}`).toString('base64')}`
            : undefined;
        // The password goes in the Proxy-Authorization header only, never in a URL an error could carry.
        const timeout = this.#proxyTimeoutMs;
        const dispatcher = new ProxyAgent({
          uri: uri.href,
          ...(token && { token }),
          // The TCP (or TLS) connection to the proxy: undici's default is 10 s.
          proxyTls: { timeout },
          // Its answer to CONNECT: undici's default is 300 s, a stalled proxy would hold a socket that long.
          clientFactory: (origin, options) => new Pool(origin, { ...options, headersTimeout: timeout }),
        });
        return { fetch, agent: dispatcher };
      });
      this.#agents.set(route, agent);
    }
    return agent;
  }
}

/** Proxied connection errors that mean the proxy itself was not reached. */
const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/** The ProxyError a failed proxied fetch means, or undefined when the failure is not the proxy's (a timeout, a reset). */
function proxyFailure(err: unknown, route: ProxyRoute, target: URL): ProxyError | undefined {
  const proxy = redactUrl(route.url);
  const where = `${target.hostname}:${target.port || (target.protocol === 'https:' ? 443 : 80)}`;
  for (let e = err as (Error & { code?: string }) | undefined, depth = 0; e && depth < 5; depth++) {
    const status = /Proxy response \((\d{3})\)|Proxy Authentication Required \((\d{3})\)/.exec(e.message ?? '');
    if (status) {
      const code = Number(status[1] ?? status[2]);
      const hint =
        code === 407
          ? `: check the proxy user and password (${route.source === 'proxy.url' ? 'proxy.url with proxy.passwordEnv or proxy.passwordFile' : route.source})`
          : code === 403
            ? ': the proxy does not allow this host or port'
            : '';
      return new ProxyError(
        `the web proxy ${proxy} refused to connect to ${where}: ${code} ${STATUS_CODES[code] ?? ''}${hint}`,
        code,
        { cause: err },
      );
    }
    if (e.code === 'UND_ERR_HEADERS_TIMEOUT')
      return new ProxyError(`the web proxy ${proxy} (${route.source}) did not answer CONNECT to ${where}`, null, {
        cause: err,
      });
    if (e.code && UNREACHABLE.has(e.code))
      return new ProxyError(`cannot reach the web proxy ${proxy} (${route.source}): ${e.code}`, null, { cause: err });
    e = (e as { cause?: unknown }).cause as (Error & { code?: string }) | undefined;
  }
  return undefined;
}

/** The ProxyError in an error's cause chain (a token request's failure wraps it), if any. */
export function proxyErrorIn(err: unknown): ProxyError | undefined {
  for (let e = err, depth = 0; e instanceof Error && depth < 5; depth++) {
    if (e instanceof ProxyError) return e;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/** No proxy: Node's fetch as it is (callers given no Outbound, tests). */
export const directOutbound = new Outbound();
