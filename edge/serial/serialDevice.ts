// One serial port and the device on it: transport (PortReader), framing,
// the driver's codec and the mapping to ingest (SerialLineIngest), plus what
// the ward needs to know about the device's presence: online in the device
// table, device-silent on the bus when the port vanishes or the lines stop.
import type { BindingInterface } from '@serialport/bindings-cpp';
import type { EventBus } from '../bus.js';
import type { SerialPortConfig } from '../config/schema.js';
import type { Ingestor } from '../ingest/ingestor.js';
import type { IngestOutcome } from '../ingest/types.js';
import type { Logger } from '../log.js';
import type { GatewayMetrics } from '../metrics.js';
import type { ErrorCode } from '../../shared/errors.js';
import { framerFor } from './driver.js';
import { serialDrivers } from './driverRegistry.js';
import type { FramingFault } from './lineFramer.js';
import { SerialLineIngest } from './lineIngest.js';
import { PortReader, type PortState } from './portReader.js';

export interface Hooks {
  /** A line was dead-lettered (for logs at the rate of changes, and tests). */
  onRejected?(port: SerialPortConfig, code: ErrorCode): void;
}

export interface SerialDeviceDeps {
  readonly port: SerialPortConfig;
  readonly ingestor: Ingestor;
  readonly bus: EventBus;
  readonly metrics: GatewayMetrics;
  readonly log: Logger;
  readonly lastSeq: number | undefined;
  readonly maxFutureSkewMs: number;
  readonly hooks?: Hooks;
  /** The platform's serial binding unless given (tests give a fake one). */
  readonly binding?: BindingInterface;
}

export class SerialDevice {
  readonly #deps: SerialDeviceDeps;
  readonly #log: Logger;
  readonly #reader: PortReader;
  readonly #lines: SerialLineIngest;
  #watch: NodeJS.Timeout | undefined;
  /** Receive time of the last valid line, or of the port opening. */
  #lastValid = 0;
  /** Whether readings flow: recorded as the device's online state. */
  #online: boolean | undefined;
  #storeFailing = false;
  /** The cause of the port's unavailability last logged, until the port works again. */
  #failure: string | undefined;

  constructor(deps: SerialDeviceDeps) {
    this.#deps = deps;
    const { port } = deps;
    this.#log = deps.log.child({ module: 'serial', port: port.path, deviceId: port.deviceId, driver: port.driver });
    const driver = serialDrivers[port.driver];
    this.#lines = new SerialLineIngest({
      port,
      driver,
      ingestor: deps.ingestor,
      lastSeq: deps.lastSeq,
      maxFutureSkewMs: deps.maxFutureSkewMs,
      done: (err, result) => this.#settled(err, result),
      onSensor: (sensor, exceptions) => {
        this.#log.info({ sensor, exceptions }, 'device reports a sensor state');
        deps.bus.emit('device.sensor', { deviceId: port.deviceId, source: 'serial', sensor, exceptions });
      },
      onEvent: (ts) => deps.bus.emit('device.event', { deviceId: port.deviceId, source: 'serial', ts }),
      // The error, never the line: a line is a reading of a patient.
      onError: (err, first) => {
        if (first)
          this.#log.error(
            { code: 'WG_ERR_INTERNAL', err },
            'a serial line could not be handled; it was refused and the port reads on',
          );
      },
    });
    const labels = { port: port.path };
    const onFault = (fault: FramingFault, bytes: number) => {
      if (fault === 'junk') deps.metrics.serialJunkBytes.inc(labels, bytes);
      else deps.metrics.serialLines.inc({ ...labels, result: fault });
    };
    this.#reader = new PortReader({
      port,
      binding: deps.binding,
      framer: () => framerFor(driver, port.maxLineBytes, onFault),
      onLine: (line, receivedTs) => this.#line(line, receivedTs),
      onState: (state) => this.#portState(state),
      onRetry: (_delay, reason, first) => {
        deps.metrics.serialReopens.inc(labels);
        // Logged when a run of failures starts or its cause changes (hung up -> no such file), not on every
        // try: a port that opens and is lost at once, again and again, is one run until it delivers bytes.
        if (first || reason !== this.#failure)
          this.#log.warn({ code: 'WG_ERR_SERIAL_PORT', reason }, 'serial port unavailable; retrying with backoff');
        this.#failure = reason;
      },
    });
  }

  get portState(): PortState | undefined {
    return this.#reader.state;
  }

  start(): void {
    this.#deps.metrics.serialPortUp.set({ port: this.#deps.port.path }, 0);
    this.#reader.start();
    const every = Math.max(250, Math.min(1000, this.#deps.port.silentAfterMs / 4));
    this.#watch = setInterval(() => this.#checkSilence(), every);
    this.#watch.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.#watch);
    await this.#reader.stop();
    if (this.#online) this.#presence(false);
  }

  #line(line: Buffer, receivedTs: number): void {
    const kind = this.#lines.handle(line, receivedTs);
    this.#deps.metrics.serialLines.inc({ port: this.#deps.port.path, result: kind });
    if (kind !== 'reading') return;
    this.#lastValid = receivedTs;
    if (this.#online === true) return;
    if (this.#online === false) this.#log.info('device delivers readings again');
    this.#presence(true);
    this.#deps.bus.emit('device.resumed', { deviceId: this.#deps.port.deviceId, source: 'serial' });
  }

  #portState(state: PortState): void {
    const { port, metrics, bus } = this.#deps;
    metrics.serialPortUp.set({ port: port.path }, state === 'open' ? 1 : 0);
    if (state === 'open') {
      this.#log.info({ baudRate: port.baudRate }, 'serial port open');
      this.#lastValid = Date.now();
      bus.emit('device.connected', { deviceId: port.deviceId, source: 'serial' });
      return;
    }
    bus.emit('device.disconnected', { deviceId: port.deviceId, source: 'serial' });
    if (this.#online !== false) {
      bus.emit('device.silent', {
        deviceId: port.deviceId,
        source: 'serial',
        reason: 'disconnected',
        since: Date.now(),
      });
      this.#presence(false);
    }
  }

  #checkSilence(): void {
    if (this.#reader.state !== 'open' || this.#online === false) return;
    const since = this.#lastValid;
    if (Date.now() - since < this.#deps.port.silentAfterMs) return;
    this.#log.warn({ silentForMs: Date.now() - since }, 'device silent: the port is open but no valid line arrives');
    this.#deps.bus.emit('device.silent', {
      deviceId: this.#deps.port.deviceId,
      source: 'serial',
      reason: 'no-data',
      since,
    });
    this.#presence(false);
  }

  #presence(online: boolean): void {
    this.#online = online;
    this.#deps.ingestor.presence('serial', this.#deps.port.deviceId, online, (err) => this.#settled(err));
  }

  /** A serial device cannot resend: a failed commit loses the line. Logged once per run of failures. */
  #settled(err: Error | null, result?: IngestOutcome): void {
    if (err) {
      if (!this.#storeFailing)
        this.#log.error({ code: 'WG_ERR_STORE', err: err.message }, 'serial readings cannot be committed');
      this.#storeFailing = true;
      return;
    }
    if (this.#storeFailing) this.#log.info('serial readings are committed again');
    this.#storeFailing = false;
    if (result?.outcome === 'rejected') this.#deps.hooks?.onRejected?.(this.#deps.port, result.rejection.code);
  }
}
