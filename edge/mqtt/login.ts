// Logging in to the embedded broker: credentials through the Authenticator
// (rationed there), then the client identifier, which must be the principal's
// own (clientIds.ts). Remembers each admitted client's principal for the ACLs.
import type { AuthenticateError, Client, ConnectPacket } from 'aedes';
import type { Authenticator, LoginOutcome } from '../auth/authenticator.js';
import type { GatewayConfig, Principal } from '../config/load.js';
import type { Logger } from '../log.js';
import type { GatewayMetrics } from '../metrics.js';
import { ANONYMOUS } from './acl.js';
import { mayUseClientId } from './clientIds.js';
import { LogLimiter } from '../logLimiter.js';

// CONNACK return codes, [MQTT-3.2.2-3] table 3.1.
const IDENTIFIER_REJECTED = 2;
const SERVER_UNAVAILABLE = 3;
const BAD_USER_NAME_OR_PASSWORD = 4;

export interface MqttLoginDeps {
  readonly config: GatewayConfig;
  readonly auth: Authenticator;
  readonly metrics: GatewayMetrics;
  readonly log: Logger;
  /** The broker's live clients by identifier, to tell a takeover of a session that is online. */
  liveClients(): object | undefined;
  /** Counts and logs an exception, then answers with `fallback`. */
  contain(stage: string, err: unknown, fallback: () => void): void;
}

export class MqttLogin {
  readonly #deps: MqttLoginDeps;
  readonly #principals = new WeakMap<Client, Principal>();
  /** Clients that sent an empty client identifier (the broker named the session). */
  readonly #assigned = new WeakSet<Client>();
  readonly #limited: LogLimiter;
  readonly #log: Logger;

  constructor(deps: MqttLoginDeps) {
    this.#deps = deps;
    this.#log = deps.log;
    this.#limited = new LogLimiter(deps.log);
  }

  /** The principal a client logged in as; undefined before (or without) a successful login. */
  principalOf(client: Client): Principal | undefined {
    return this.#principals.get(client);
  }

  preConnect(client: Client, packet: ConnectPacket, done: (error: Error | null, success: boolean) => void): void {
    if (!packet.clientId) this.#assigned.add(client);
    done(null, true);
  }

  authenticate(
    client: Client,
    username: string | undefined,
    password: Buffer | undefined,
    done: (error: AuthenticateError | null, success: boolean | null) => void,
  ): void {
    const answer = (returnCode: number, why: string) =>
      done(Object.assign<Error, Pick<AuthenticateError, 'returnCode'>>(new Error(why), { returnCode }), false);
    const refuse = (why: string) => {
      this.#deps.metrics.authFailures.inc({ kind: 'connect' });
      this.#log.warn(
        { code: 'WG_ERR_AUTH', clientId: client.id.slice(0, 80), username: username?.slice(0, 80), reason: why },
        'mqtt connection refused',
      );
      answer(BAD_USER_NAME_OR_PASSWORD, why);
    };
    try {
      if (username === undefined || username === '') {
        if (!this.#deps.config.mqtt.allowAnonymous) return refuse('credentials required');
        return this.#admit(client, ANONYMOUS, answer, done);
      }
      const source = (client.conn as { remoteAddress?: string }).remoteAddress ?? '';
      // A connection that closed while its check waited costs no scrypt (aedes ignores its answer anyway).
      const isWanted = () => !client.closed && !(client.conn as { destroyed?: boolean }).destroyed;
      this.#deps.auth.attempt(username, password?.toString('utf8') ?? '', source, isWanted).then(
        (outcome) => this.#loggedIn(client, outcome, refuse, answer, done),
        (err: Error) => this.#deps.contain('connect', err, () => answer(SERVER_UNAVAILABLE, 'authentication failed')),
      );
    } catch (err) {
      this.#deps.contain('connect', err, () => answer(SERVER_UNAVAILABLE, 'authentication failed'));
    }
  }

  #loggedIn(
    client: Client,
    outcome: LoginOutcome,
    refuse: (why: string) => void,
    answer: (returnCode: number, why: string) => void,
    done: (error: AuthenticateError | null, success: boolean | null) => void,
  ): void {
    if (outcome.kind === 'busy') {
      this.#deps.metrics.authFailures.inc({ kind: 'busy' });
      this.#limited.warn(
        'login-queue-full',
        { code: 'WG_ERR_AUTH' },
        'password checks queued to the limit; MQTT connections answered "server unavailable"',
      );
      return answer(SERVER_UNAVAILABLE, 'too many logins waiting; try again shortly');
    }
    if (outcome.kind === 'refused') return refuse('wrong user name or password');
    this.#admit(client, outcome.principal, answer, done);
  }

  /** An authenticated principal gets the session only if the client identifier is its own (clientIds.ts). */
  #admit(
    client: Client,
    principal: Principal,
    answer: (returnCode: number, why: string) => void,
    done: (error: AuthenticateError | null, success: boolean | null) => void,
  ): void {
    const isDeclared = (name: string) => this.#deps.auth.principal(name) !== undefined;
    const live = this.#deps.liveClients();
    const held = live !== undefined && Object.hasOwn(live, client.id);
    if (!mayUseClientId(principal, client.id, this.#assigned.has(client), isDeclared)) {
      this.#deps.metrics.authFailures.inc({ kind: 'client_id' });
      // The identifier is the client's own choice: logged shortened, as it was sent.
      this.#log.warn(
        {
          code: 'WG_ERR_CLIENT_ID',
          principal: principal.name || 'anonymous',
          kind: principal.kind,
          clientId: client.id.slice(0, 80),
          sessionOnline: held,
        },
        'mqtt client identifier belongs to another principal; connection refused',
      );
      return answer(IDENTIFIER_REJECTED, 'client identifier not allowed for this user');
    }
    if (held)
      this.#log.info(
        { principal: principal.name || 'anonymous', clientId: client.id.slice(0, 80) },
        'a new connection takes over its own session [MQTT-3.1.4-2]',
      );
    this.#principals.set(client, principal);
    done(null, true);
  }
}
