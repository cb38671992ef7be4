// The transport of one serial port: opens it with its line settings, feeds
// its bytes through a fresh line framer, and when it fails to open or is
// lost (USB adapter pulled, tty hung up), reopens it with backoff. Each open
// gets a new framer, so half a line from before a loss never joins a line
// from after it. State changes are reported once, not once per try.
//
// An open alone does not end the backoff: a port that opens and is lost at
// once (a UART whose every read returns 0) would otherwise be reopened every
// reopenMinMs forever. The backoff starts over only once the port has
// delivered bytes or stayed open for reopenMaxMs.
import { SerialPortStream as SerialPort } from '@serialport/stream';
import type { BindingInterface } from '@serialport/bindings-cpp';
import type { Transform } from 'node:stream';
import type { SerialPortConfig } from '../config/schema.js';
import { serialBinding } from './binding.js';

export type PortState = 'open' | 'unavailable';

export interface PortReaderDeps {
  readonly port: SerialPortConfig;
  /** A fresh framer for each open (lines, or a binary format's records). */
  readonly framer: () => Transform;
  readonly onLine: (line: Buffer, receivedTs: number) => void;
  /** Called when the state changes (not on every failed try); `reason` is the error code or message of the failure. */
  readonly onState: (state: PortState, reason?: string) => void;
  /**
   * Called on each failed try, whether or not the state changed; `first` is true for the first
   * failure since the port last worked (delivered bytes or stayed open for reopenMaxMs).
   */
  readonly onRetry?: (delayMs: number, reason: string, first: boolean) => void;
  /** The platform's binding unless given (tests give a fake one). */
  readonly binding?: BindingInterface;
}

export class PortReader {
  readonly #deps: PortReaderDeps;
  #serial: SerialPort | undefined;
  #framer: Transform | undefined;
  #timer: NodeJS.Timeout | undefined;
  #state: PortState | undefined;
  #failures = 0;
  /** When the current open succeeded, and whether it has delivered bytes since. */
  #openedAt = 0;
  #delivered = false;
  #stopped = true;

  constructor(deps: PortReaderDeps) {
    this.#deps = deps;
  }

  get state(): PortState | undefined {
    return this.#state;
  }

  /** Starts trying to open the port; never fails (a missing port is retried, not fatal). */
  start(): void {
    this.#stopped = false;
    this.#open();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    const serial = this.#serial;
    this.#serial = undefined;
    this.#detach();
    if (serial?.isOpen) await new Promise<void>((resolve) => serial.close(() => resolve()));
  }

  #open(): void {
    const { port } = this.#deps;
    const serial = new SerialPort({
      binding: this.#deps.binding ?? serialBinding,
      path: port.path,
      baudRate: port.baudRate,
      dataBits: port.dataBits,
      parity: port.parity,
      stopBits: port.stopBits,
      autoOpen: false,
      lock: true,
    });
    this.#serial = serial;
    serial.open((err) => {
      if (this.#stopped || this.#serial !== serial) {
        if (!err) serial.close();
        return;
      }
      if (err) return this.#lost(serial, err);
      this.#openedAt = Date.now();
      this.#delivered = false;
      const framer = this.#deps.framer();
      this.#framer = framer;
      framer.on('data', (line: Buffer) => this.#deps.onLine(line, Date.now()));
      serial.on('data', (chunk: Buffer) => {
        this.#delivered = true;
        framer.write(chunk);
      });
      // 'close' follows a vanished device (disconnected: true) as well as our own close.
      serial.on('close', (closeErr: Error | null) => this.#lost(serial, closeErr ?? new Error('port closed')));
      serial.on('error', (e: Error) => this.#lost(serial, e));
      this.#setState('open');
    });
  }

  #lost(serial: SerialPort, err: Error): void {
    if (this.#stopped || this.#serial !== serial) return;
    this.#serial = undefined;
    this.#detach();
    serial.removeAllListeners('data');
    if (serial.isOpen) serial.close(() => {});
    if (this.#openedAt > 0 && (this.#delivered || Date.now() - this.#openedAt >= this.#deps.port.reopenMaxMs))
      this.#failures = 0;
    this.#openedAt = 0;
    const reason = (err as NodeJS.ErrnoException).code ?? err.message.replace(/^Error: /, '');
    const delay = Math.min(
      this.#deps.port.reopenMaxMs,
      this.#deps.port.reopenMinMs * 2 ** Math.min(this.#failures, 30),
    );
    const first = this.#failures === 0;
    this.#failures++;
    this.#setState('unavailable', reason);
    this.#deps.onRetry?.(delay, reason, first);
    this.#timer = setTimeout(() => this.#open(), delay);
    this.#timer.unref();
  }

  /** Ends the framer of the last open: a partial line in it is reported, never joined to the next open's bytes. */
  #detach(): void {
    const framer = this.#framer;
    this.#framer = undefined;
    framer?.end();
  }

  #setState(state: PortState, reason?: string): void {
    if (state === this.#state) return;
    this.#state = state;
    this.#deps.onState(state, reason);
  }
}
