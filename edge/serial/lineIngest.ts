// Mapping: a decoded serial line becomes an ingest item. This is where a line
// without a sequence number gets one (see ingest/derivedSeq.ts):
// - a line with the device's own time (Masimo ASCII 1, a jsonl message with
//   `ts` but no `seq`): the device second plus a hash of the exact line, so a
//   line that is read again after a reconnect is a repeat, stored once;
// - a line without a time (Nonin): the arrival second, strictly increasing and
//   resumed above the last stored seq after a restart.
// Readings then go through the shared validator, the commit queue and the
// store like any MQTT message; garbage is dead-lettered once per run of bad
// lines (a wrong baud rate must not fill the table at line rate) and counted always.
// Every line is handled inside one guard: a driver or validation that throws
// refuses that line like garbage (WG_ERR_INTERNAL) and the port reads on.
import type { CommitCallback } from '../ingest/commitQueue.js';
import { ArrivalSeq, contentSeq } from '../ingest/derivedSeq.js';
import type { Ingestor } from '../ingest/ingestor.js';
import type { SerialPortConfig } from '../config/schema.js';
import { reject, type Rejection } from '../../shared/errors.js';
import { isPlainObject } from '../../shared/observation.js';
import type { ObservationMessage, SensorState } from '../../shared/reading.js';
import { isRejection, parseTimestamp } from '../../shared/timestamp.js';
import type { DecodedLine, SerialDriver } from './driver.js';

/** What became of a line; 'error': its handling threw, and it was refused. */
export type LineKind = 'reading' | 'header' | 'garbage' | 'error';

export interface LineIngestDeps {
  readonly port: SerialPortConfig;
  readonly driver: SerialDriver;
  readonly ingestor: Ingestor;
  /** The highest seq already stored for the device (arrival seqs resume above it). */
  readonly lastSeq: number | undefined;
  /** How far ahead of the gateway clock a device time may be (the ingest policy). */
  readonly maxFutureSkewMs: number;
  readonly done: CommitCallback;
  readonly onSensor?: (sensor: SensorState, exceptions: readonly string[]) => void;
  readonly onEvent?: (ts: number) => void;
  /** A line's handling threw (it was refused); for the log. `first`: the first of a run of such lines. */
  readonly onError?: (err: unknown, first: boolean) => void;
}

export class SerialLineIngest {
  readonly #deps: LineIngestDeps;
  readonly #arrival: ArrivalSeq;
  #sensor: SensorState | undefined;
  #exceptions = '';
  /** Whether the last complete line was refused (garbage or failed): only the first of a run is dead-lettered. */
  #inGarbage = false;

  constructor(deps: LineIngestDeps) {
    this.#deps = deps;
    this.#arrival = new ArrivalSeq(deps.lastSeq);
  }

  /** Handles one complete line; never throws. */
  handle(line: Buffer, receivedTs: number): LineKind {
    try {
      return this.#handle(line, receivedTs);
    } catch (err) {
      const first = !this.#inGarbage;
      this.#inGarbage = true;
      this.#contained(() => this.#deps.onError?.(err, first));
      if (first)
        this.#contained(() =>
          this.#deadLetter(
            line,
            receivedTs,
            reject(
              'WG_ERR_INTERNAL',
              `the gateway failed while handling this ${this.#deps.driver.name} line; it is kept for review and not processed`,
            ),
          ),
        );
      return 'error';
    }
  }

  #handle(line: Buffer, receivedTs: number): LineKind {
    const { port, driver } = this.#deps;
    const decoded = driver.decode(line.toString(driver.asciiOnly ? 'latin1' : 'utf8'), {
      deviceClock: port.deviceClock,
    });
    if (decoded.kind === 'header') return 'header';
    if (decoded.kind === 'garbage') {
      if (!this.#inGarbage)
        this.#deadLetter(
          line,
          receivedTs,
          reject('WG_ERR_SERIAL_LINE', `not a ${driver.name} line: ${decoded.reason}`),
        );
      this.#inGarbage = true;
      return 'garbage';
    }
    this.#inGarbage = false;
    if (decoded.kind === 'message') this.#message(decoded.payload, receivedTs);
    else this.#reading(decoded, line, receivedTs);
    return 'reading';
  }

  #reading(decoded: Extract<DecodedLine, { kind: 'reading' }>, line: Buffer, receivedTs: number): void {
    const { deviceTs } = decoded;
    if (decoded.sensor !== undefined) this.#sensorState(decoded.sensor, decoded.exceptions ?? []);
    if (decoded.event) this.#deps.onEvent?.(deviceTs ?? receivedTs);
    const seq = deviceTs !== undefined ? contentSeq(deviceTs, line) : this.#arrival.next(receivedTs);
    const message: ObservationMessage = { seq, ts: deviceTs ?? receivedTs, obs: decoded.obs };
    this.#submit(message, line, receivedTs);
  }

  /** jsonl: a message with its own seq goes the MQTT way; one without gets a derived seq. */
  #message(payload: Buffer, receivedTs: number): void {
    const { ingestor, port, done } = this.#deps;
    let body: unknown;
    try {
      body = JSON.parse(payload.toString('utf8'));
    } catch {
      body = undefined;
    }
    if (!isPlainObject(body) || body.seq !== undefined) {
      return ingestor.observation(
        { source: 'serial', deviceId: port.deviceId, payload, topic: port.path, receivedTs },
        done,
      );
    }
    const ts =
      body.ts === undefined
        ? undefined
        : parseTimestamp(body.ts, 'ts', { now: receivedTs, maxFutureMs: this.#deps.maxFutureSkewMs });
    const seq = typeof ts === 'number' ? contentSeq(ts, payload) : isRejection(ts) ? 0 : this.#arrival.next(receivedTs);
    this.#submit({ ...(body as unknown as ObservationMessage), seq }, payload, receivedTs);
  }

  #submit(message: ObservationMessage, line: Buffer, receivedTs: number): void {
    const { ingestor, port, done } = this.#deps;
    ingestor.decoded(
      {
        source: 'serial',
        deviceId: port.deviceId,
        message,
        content: line,
        raw: line,
        topic: port.path,
        receivedTs,
        derivedSeq: true,
      },
      done,
    );
  }

  /** Device status is recorded when the sensor state or the exception set changes, not once a second. */
  #sensorState(sensor: SensorState, exceptions: readonly string[]): void {
    const key = exceptions.join(',');
    if (sensor === this.#sensor && key === this.#exceptions) return;
    const changedSensor = sensor !== this.#sensor;
    this.#sensor = sensor;
    this.#exceptions = key;
    this.#deps.onSensor?.(sensor, exceptions);
    if (changedSensor)
      this.#deps.ingestor.deviceStatus('serial', this.#deps.port.deviceId, { sensor }, this.#deps.done);
  }

  #deadLetter(line: Buffer, receivedTs: number, rejection: Rejection): void {
    const { ingestor, port, done } = this.#deps;
    ingestor.deadLetter(
      { source: 'serial', deviceId: port.deviceId, payload: line, topic: port.path, receivedTs },
      rejection,
      done,
    );
  }

  /** Runs what reports a refused line: a failure there must not escape the guard either. */
  #contained(fn: () => void): void {
    try {
      fn();
    } catch {
      // Nothing left to report to; the line is already counted as refused.
    }
  }
}
