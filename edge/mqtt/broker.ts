// The embedded MQTT broker (aedes) with wardgate's policy in its hooks:
// per-principal authentication, topic ACLs, and durable ingest inside
// authorizePublish. aedes v1 writes the PUBACK of a QoS 1 PUBLISH right after
// the authorizePublish callback (lib/handlers/publish.js), so calling back only
// once the reading is committed is what makes a PUBACK a promise of durability.
// Every hook is contained: an exception while handling one packet refuses that
// packet (dead letter, counter, log) and never reaches the process.
import { createServer as createTcpServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { readFileSync } from 'node:fs';
import { createServer as createTlsServer } from 'node:tls';
import { Aedes, type AedesPublishPacket, type Client, type PublishPacket, type Subscription } from 'aedes';
import mqttPacket from 'mqtt-packet';
import type { GatewayConfig, Principal } from '../config/load.js';
import type { Authenticator } from '../auth/authenticator.js';
import type { EventBus } from '../bus.js';
import type { Ingestor } from '../ingest/ingestor.js';
import type { IngestOutcome } from '../ingest/types.js';
import type { Logger } from '../log.js';
import type { GatewayMetrics } from '../metrics.js';
import type { Service } from '../service.js';
import { reject, type Rejection } from '../../shared/errors.js';
import type { DeviceErrorMessage } from '../../shared/reading.js';
import { parseDeviceTopic, topics } from '../../shared/topics.js';
import { mayPublish, mayReceive, maySubscribe } from './acl.js';
import { MqttLogin } from './login.js';
import { guardSocket, type PacketTooLargeError } from './packetSizeGuard.js';
import { LogLimiter } from '../logLimiter.js';

// aedes writes packets with mqtt-packet, which by default fills a cache of every 16-bit number as a Buffer of its own
// the first time it writes one: 65,536 objects, about 7 MiB of the heap for as long as the process lives, marked again
// by every full garbage collection. Without it, a PUBLISH or PUBACK allocates its two-byte numbers as it is written.
mqttPacket.writeToStream.cacheNumbers = false;

export interface MqttBrokerDeps {
  readonly config: GatewayConfig;
  readonly auth: Authenticator;
  readonly ingestor: Ingestor;
  readonly bus: EventBus;
  readonly metrics: GatewayMetrics;
  readonly log: Logger;
}

export class MqttBroker implements Service {
  readonly name = 'mqtt';
  readonly #deps: MqttBrokerDeps;
  #aedes: Aedes | undefined;
  #servers: Server[] = [];
  readonly #outgoing: PublishPacket[] = [];
  readonly #urgent: PublishPacket[] = [];
  #publishing = false;
  #log: Logger;
  /** Warnings anyone on the network can trigger, at most once a minute each. */
  readonly #limited: LogLimiter;
  readonly #login: MqttLogin;

  constructor(deps: MqttBrokerDeps) {
    this.#deps = deps;
    this.#log = deps.log.child({ module: 'mqtt' });
    this.#limited = new LogLimiter(this.#log);
    this.#login = new MqttLogin({
      ...deps,
      log: this.#log,
      // aedes keeps live clients by identifier (a null-prototype object its types do not declare).
      liveClients: () => (this.#aedes as unknown as { clients?: object } | undefined)?.clients,
      contain: (stage, err, fallback) => this.#hookFailed(stage, err, fallback),
    });
  }

  get connectedClients(): number {
    return this.#aedes?.connectedClients ?? 0;
  }

  /** Bound ports, once started (0 asks the OS for a free one). */
  get ports(): { mqtt?: number; mqtts?: number } {
    const [tcp, tls] = this.#servers.map((s) => (s.address() as AddressInfo | null)?.port);
    return { mqtt: tcp, ...(tls !== undefined && { mqtts: tls }) };
  }

  async start(): Promise<void> {
    const { mqtt } = this.#deps.config;
    const aedes = await Aedes.createBroker({
      preConnect: (client, packet, done) => this.#login.preConnect(client, packet, done),
      authenticate: (client, username, password, done) =>
        this.#login.authenticate(client, username, password, once(done)),
      authorizePublish: (client, packet, done) => this.#authorizePublish(client, packet, once(done)),
      authorizeSubscribe: (client, sub, done) => this.#authorizeSubscribe(client, sub, once(done)),
      authorizeForward: (client, packet) => this.#authorizeForward(client, packet),
    });
    this.#aedes = aedes;
    aedes.on('clientReady', (client) => this.#quietly(() => this.#presence(client, true)));
    aedes.on('clientDisconnect', (client) => this.#quietly(() => this.#presence(client, false)));
    aedes.on('clientError', (client, err) =>
      this.#log.debug({ clientId: client.id, err: err.message }, 'client error'),
    );

    // The guard closes connections whose packets are far beyond any device message;
    // messages a little over maxMessageBytes are read and dead-lettered instead.
    const hardLimit = Math.max(65_536, mqtt.maxMessageBytes * 4);
    const onConnection = (socket: Socket) => {
      // PUBACKs are small writes made after a commit: without this, Nagle's
      // algorithm meets the peer's delayed ACK and each one waits ~40 ms.
      socket.setNoDelay(true);
      const client = aedes.handle(
        guardSocket(socket, hardLimit, (err) => {
          // Called from inside aedes' read loop: nothing may escape from here.
          try {
            this.#tooLarge(client, err);
          } catch (failure) {
            this.#hookFailed('oversize', failure, () => {});
          }
        }),
      );
    };
    this.#servers.push(await listen(createTcpServer(onConnection), mqtt.host, mqtt.port));
    if (mqtt.tls) {
      const tls = createTlsServer(
        {
          cert: readFileSync(mqtt.tls.cert),
          key: readFileSync(mqtt.tls.key),
          ...(mqtt.tls.ca && { ca: readFileSync(mqtt.tls.ca) }),
        },
        onConnection,
      );
      this.#servers.push(await listen(tls, mqtt.tls.host ?? mqtt.host, mqtt.tls.port));
    }
    this.#log.info({ ...this.ports, host: mqtt.host }, 'mqtt listening');
    this.#warnSlowDevices();
  }

  /** Old configs keep working, but a device with an scrypt hash costs a restart ~150 ms of CPU per device. */
  #warnSlowDevices(): void {
    const slow = this.#deps.auth.slowDevices();
    if (slow.length === 0) return;
    this.#log.warn(
      { code: 'WG_ERR_AUTH', devices: slow.slice(0, 50), count: slow.length },
      `${slow.length} device(s) have an scrypt password hash (${slow.slice(0, 5).join(', ')}${slow.length > 5 ? ', ...' : ''}): each login costs about 150 ms of CPU, ` +
        'so after a restart they stream again slowly; give each a minted secret: run `wardgate passwd --device`, put the secret in the device and the sha256$ verifier in its secretHash',
    );
  }

  /** Stops accepting, then closes every client and the broker. Commits already queued still finish. */
  async stop(): Promise<void> {
    const servers = this.#servers;
    this.#servers = [];
    const closing = servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve())));
    const aedes = this.#aedes;
    this.#aedes = undefined;
    if (aedes) await new Promise<void>((resolve) => aedes.close(() => resolve()));
    await Promise.all(closing);
  }

  /**
   * Publishes from the gateway itself (never treated as a reading), QoS 1, one
   * at a time and in order. aedes drops a packet for a client that has already
   * received a packet with a higher broker counter (its de-duplication for
   * overlapping subscriptions); a QoS 0 or non-retained publish takes fewer
   * asynchronous steps than a retained QoS 1 one and could overtake it, so the
   * gateway never lets its own publishes overlap.
   */
  publish(topic: string, payload: unknown, options: { retain?: boolean; urgent?: boolean } = {}): void {
    if (!this.#aedes) return;
    // Alarm events overtake routine state (vitals) waiting to go out.
    (options.urgent ? this.#urgent : this.#outgoing).push({
      cmd: 'publish',
      topic,
      payload: Buffer.from(typeof payload === 'string' ? payload : JSON.stringify(payload)),
      qos: 1,
      retain: options.retain ?? false,
      dup: false,
    });
    if (!this.#publishing) this.#publishNext();
  }

  #publishNext(): void {
    const aedes = this.#aedes;
    const packet = this.#urgent.shift() ?? this.#outgoing.shift();
    if (!aedes || !packet) {
      this.#publishing = false;
      return;
    }
    this.#publishing = true;
    aedes.publish(packet, (err) => {
      if (err) this.#log.warn({ topic: packet.topic, err: err.message }, 'gateway publish failed');
      this.#publishNext();
    });
  }

  #authorizePublish(client: Client | null, packet: PublishPacket, done: (error?: Error | null) => void): void {
    try {
      this.#authorizePublishUnguarded(client, packet, done);
    } catch (err) {
      this.#hookFailed('publish', err, () => this.#refuseAfterFailure(client, packet, done));
    }
  }

  #authorizePublishUnguarded(client: Client | null, packet: PublishPacket, done: (error?: Error | null) => void): void {
    const principal = client && this.#login.principalOf(client);
    if (!client || !principal) return done(new Error('not authenticated'));
    const { ward } = this.#deps.config;
    if (!mayPublish(principal, packet.topic, ward)) {
      this.#deps.metrics.authFailures.inc({ kind: 'publish' });
      this.#log.warn(
        { code: 'WG_ERR_FORBIDDEN', clientId: client.id.slice(0, 80), principal: principal.name, topic: packet.topic },
        'publish refused by ACL',
      );
      return done(new Error(`${principal.name || 'client'} may not publish to ${packet.topic}`));
    }
    const device = parseDeviceTopic(packet.topic);
    if (!device) {
      // The only other topic anyone may publish to: an alarm acknowledgement from a nurse or admin.
      this.#acknowledgement(principal, packet.payload as Buffer);
      return done(null);
    }
    const isWill = packet === (client as Client & { will?: unknown }).will;
    if (device.kind === 'obs' && isWill) return done(new Error('a last will is not a reading'));
    if (device.kind !== 'obs' && device.kind !== 'status') {
      // Only the anonymous lab principal can get here (devices are held to obs and status by the ACL).
      return done(null);
    }
    packet.retain = false; // readings are history, not retained state
    const message = {
      source: 'mqtt' as const,
      deviceId: device.deviceId,
      payload: packet.payload as Buffer,
      topic: packet.topic,
    };
    const settle = (err: Error | null, result?: IngestOutcome) => {
      if (err) {
        this.#log.error(
          { code: 'WG_ERR_STORE', deviceId: device.deviceId, err: err.message },
          'commit failed; message not acknowledged',
        );
        return done(err);
      }
      // The message is committed (stored or dead-lettered): telling the device must not undo that.
      try {
        if (result?.outcome === 'rejected')
          this.#reportRejection(device.deviceId, result.rejection, packet.payload as Buffer);
      } catch (reportErr) {
        this.#hookFailed('report', reportErr, () => {});
      }
      done(null);
    };
    if (device.kind === 'obs') this.#deps.ingestor.observation(message, settle);
    else this.#deps.ingestor.status(message, settle);
  }

  /**
   * Exceptions are contained, and what ingest had to stop is refused: a
   * device's message is dead-lettered (WG_ERR_INTERNAL) and acknowledged, like
   * any other refused message, so that it is not resent forever; anything
   * else closes the connection.
   */
  #refuseAfterFailure(client: Client | null, packet: PublishPacket, done: (error?: Error | null) => void): void {
    const principal = client ? this.#login.principalOf(client) : undefined;
    const device = parseDeviceTopic(packet.topic);
    if (!principal || !device || !mayPublish(principal, packet.topic, this.#deps.config.ward))
      return done(new Error('message refused'));
    const rejection = reject(
      'WG_ERR_INTERNAL',
      'the gateway failed while handling this message; it is kept for review and will not be processed',
    );
    const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(String(packet.payload));
    this.#deps.ingestor.deadLetter(
      { source: 'mqtt', deviceId: device.deviceId, payload, topic: packet.topic },
      rejection,
      (err) => {
        if (err) return done(err);
        this.#quietly(() => this.#reportRejection(device.deviceId, rejection, payload));
        done(null);
      },
    );
  }

  #authorizeSubscribe(
    client: Client,
    sub: Subscription,
    done: (error: Error | null, subscription?: Subscription | null) => void,
  ): void {
    try {
      this.#authorizeSubscribeUnguarded(client, sub, done);
    } catch (err) {
      this.#hookFailed('subscribe', err, () => done(null, null));
    }
  }

  /** Every delivery, live or from a stored session's queue, is checked against the receiver's rights. */
  #authorizeForward(client: Client, packet: AedesPublishPacket): AedesPublishPacket | null {
    try {
      const principal = this.#login.principalOf(client);
      if (principal && mayReceive(principal, packet.topic, this.#deps.config.ward)) return packet;
      this.#deps.metrics.authFailures.inc({ kind: 'forward' });
      return null;
    } catch (err) {
      this.#hookFailed('forward', err, () => {});
      return null;
    }
  }

  #authorizeSubscribeUnguarded(
    client: Client,
    sub: Subscription,
    done: (error: Error | null, subscription?: Subscription | null) => void,
  ): void {
    const principal = this.#login.principalOf(client);
    if (principal && maySubscribe(principal, sub.topic, this.#deps.config.ward)) return done(null, sub);
    this.#deps.metrics.authFailures.inc({ kind: 'subscribe' });
    this.#log.warn(
      { code: 'WG_ERR_FORBIDDEN', clientId: client.id.slice(0, 80), principal: principal?.name, topic: sub.topic },
      'subscription refused by ACL',
    );
    done(null, null); // SUBACK with failure (0x80) for this filter; the connection stays
  }

  #acknowledgement(principal: Principal, payload: Buffer): void {
    let alarmId: unknown;
    try {
      alarmId = (JSON.parse(payload.toString('utf8')) as { alarmId?: unknown }).alarmId;
    } catch {
      alarmId = undefined;
    }
    if (typeof alarmId !== 'string' || alarmId.length === 0 || alarmId.length > 64) {
      this.#log.warn({ principal: principal.name }, 'alarm acknowledgement without a valid alarmId ignored');
      return;
    }
    this.#deps.bus.emit('alarm.ack', { alarmId, by: principal.name || 'anonymous', via: 'mqtt' });
  }

  #reportRejection(deviceId: string, rejection: Rejection, payload: Buffer): void {
    this.#log.warn({ deviceId, code: rejection.code, field: rejection.field }, 'message rejected');
    const error: DeviceErrorMessage = {
      code: rejection.code,
      ...(rejection.field !== undefined && { field: rejection.field }),
      message: rejection.message,
      ...seqOf(payload),
      receivedTs: new Date().toISOString(),
    };
    this.publish(topics.deviceErrors(deviceId), error);
  }

  #tooLarge(client: Client, err: PacketTooLargeError): void {
    const principal = this.#login.principalOf(client);
    if (!principal) {
      // Before login nobody has earned a write to the store (or to the sync): count, log now and then, close.
      this.#deps.metrics.authFailures.inc({ kind: 'oversize_unauthenticated' });
      const source = (client.conn as { remoteAddress?: string }).remoteAddress;
      this.#limited.warn(
        'oversize-before-login',
        { code: 'WG_ERR_TOO_LARGE', source, packetType: err.packetType, bytes: err.remainingLength },
        'oversized MQTT packet before login; connection closed, nothing stored',
      );
      return;
    }
    const deviceId = principal.kind === 'device' ? principal.name : undefined;
    this.#deps.metrics.authFailures.inc({ kind: 'oversize' });
    const rejection = reject(
      'WG_ERR_TOO_LARGE',
      `MQTT packet of ${err.remainingLength} bytes is far beyond the message limit; connection closed`,
    );
    this.#deps.ingestor.deadLetter(
      { source: 'mqtt', deviceId: deviceId ?? client.id ?? 'unknown', payload: err.head },
      rejection,
      () => {},
    );
    if (deviceId) this.#reportRejection(deviceId, rejection, Buffer.alloc(0));
  }

  /** Counts and logs an exception caught in a hook (the error's message only: no payload), then answers with `fallback`. */
  #hookFailed(stage: string, err: unknown, fallback: () => void): void {
    this.#deps.metrics.handlerErrors.inc({ source: 'mqtt', stage });
    this.#log.error(
      { code: 'WG_ERR_INTERNAL', stage, err: err instanceof Error ? err.message : String(err) },
      'mqtt handler failed; the packet was refused',
    );
    this.#quietly(fallback);
  }

  #quietly(fallback: () => void): void {
    try {
      fallback();
    } catch (err) {
      this.#log.error({ err: err instanceof Error ? err.message : String(err) }, 'mqtt refusal failed');
    }
  }

  #presence(client: Client, online: boolean): void {
    const principal = this.#login.principalOf(client);
    if (principal?.kind !== 'device') return;
    this.#deps.ingestor.presence('mqtt', principal.name, online, (err) => {
      if (err) this.#log.warn({ deviceId: principal.name, err: err.message }, 'presence not recorded');
    });
    this.#deps.bus.emit(online ? 'device.connected' : 'device.disconnected', {
      deviceId: principal.name,
      source: 'mqtt',
    });
  }
}

/** The seq of a rejected payload, when it can be read, so a device can match the error to its message. */
function seqOf(payload: Buffer): { seq?: number } {
  const match = /"seq"\s*:\s*(\d{1,15})/.exec(payload.subarray(0, 512).toString('utf8'));
  return match ? { seq: Number(match[1]) } : {};
}

/** A hook's callback answers once: a late second call (after an exception) would confuse aedes. */
function once<A extends unknown[]>(callback: (...args: A) => void): (...args: A) => void {
  let called = false;
  return (...args: A) => {
    if (called) return;
    called = true;
    callback(...args);
  };
}

function listen(server: Server, host: string, port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}
