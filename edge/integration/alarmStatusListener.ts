// The gateway's MLLP listener for the alarm manager's PCD-05 Report Alarm
// Status (ORA^R41): the manager opens its own connection to the Alarm
// Reporter for these, separate from the one our PCD-04 reports travel on,
// and each message is answered with an ACK^R41 (original mode). The port,
// framing and ordering of answers are the other MLLP listeners'
// (hl7/mllpServer.ts); no timeouts, no connection giving way to another.
// A plain ACK arriving here (an application acknowledgment sent on its own)
// is read, and never answered: an acknowledgment is not acknowledged. With
// TLS configured the port speaks MLLP inside TLS only, as the ADT port does;
// with a CA, the manager must present a certificate it signed.
import type { Rejection } from '../../shared/errors.js';
import type { AckCode } from '../hl7/ack.js';
import { acknowledge, type Answer } from '../hl7/answer.js';
import type { MessageHandler } from '../hl7/connection.js';
import { MllpServer } from '../hl7/mllpServer.js';
import type { Logger } from '../log.js';
import { LogLimiter } from '../logLimiter.js';
import type { Service } from '../service.js';
import { readAlarmStatus, type AckReport, type AlarmStatusReport } from './alarmStatus.js';

export interface AlarmStatusListenerDeps {
  readonly host: string;
  readonly port: number;
  readonly allowedAddresses: readonly string[];
  /** Present: TLS only, with this certificate and key; with `ca`, a client certificate it signed is required. */
  readonly tls?: { readonly cert: Buffer; readonly key: Buffer; readonly ca?: Buffer };
  /** Our MSH-3 / MSH-4 in the ACKs. */
  readonly application: string;
  readonly facility: string;
  readonly log: Logger;
  /** A status report: undefined when taken, or why it is refused (answered AE). */
  readonly onStatus: (report: AlarmStatusReport, address: string) => Rejection | undefined;
  readonly onAck?: (report: AckReport) => void;
  readonly now?: () => number;
}

const MAX_CONNECTIONS = 8;
const MAX_MESSAGE_BYTES = 65_536;

export class AlarmStatusListener implements Service {
  readonly name = 'alarm-status';
  readonly #deps: AlarmStatusListenerDeps;
  readonly #log: Logger;
  readonly #limited: LogLimiter;
  readonly #server: MllpServer;
  #acks = 0;

  constructor(deps: AlarmStatusListenerDeps) {
    this.#deps = deps;
    this.#log = deps.log.child({ module: 'alarm-manager' });
    this.#limited = new LogLimiter(this.#log);
    const { allowedAddresses } = deps;
    this.#server = new MllpServer({
      host: deps.host,
      port: deps.port,
      ...(deps.tls && { tls: deps.tls }),
      handler: this.#handler(),
      log: this.#log,
      maxMessageBytes: MAX_MESSAGE_BYTES,
      // The manager's link is long-lived and may be silent: neither timeout applies, and no connection gives way.
      firstMessageTimeoutMs: 0,
      idleTimeoutMs: 0,
      maxConnections: MAX_CONNECTIONS,
      evictSilent: false,
      admits: (address) => !allowedAddresses.length || allowedAddresses.includes(address),
      onRefused: (address) =>
        this.#limited.warn(
          `refused ${address}`,
          { code: 'WG_ERR_HL7_SENDER', address },
          'alarm manager status connection refused (alarmManager.listen.allowedAddresses, or too many open)',
        ),
      onTlsError: (err) =>
        this.#limited.warn(
          `tls ${err.name}`,
          { code: 'WG_ERR_HL7_SENDER', err: err.message },
          'alarm manager status connection failed its TLS handshake',
        ),
      onAnswer: (answer, { address }) => {
        if (answer.rejection)
          this.#limited.warn(
            `answer ${address} ${answer.rejection.code}`,
            { code: answer.rejection.code, ack: answer.code },
            'alarm manager status not accepted',
          );
      },
      onFault: () => {},
    });
  }

  get port(): number | undefined {
    return this.#server.port;
  }

  async start(): Promise<void> {
    await this.#server.listen();
    this.#log.info(
      { host: this.#deps.host, port: this.port, tls: this.#deps.tls !== undefined },
      'alarm manager status listener open',
    );
  }

  async stop(): Promise<void> {
    await this.#server.close(1000);
  }

  #handler(): MessageHandler {
    return {
      handle: async (bytes, _peer, address) => this.#handle(bytes.toString('utf8'), address),
      overlong: async (head, size) =>
        this.#answer('AR', head.toString('utf8'), {
          code: 'WG_ERR_TOO_LARGE',
          message: `a status report of ${size} bytes is larger than ${MAX_MESSAGE_BYTES}`,
        }),
    };
  }

  #handle(text: string, address: string): Answer {
    const report = readAlarmStatus(text);
    if ('message' in report) return this.#answer(report.code === 'WG_ERR_HL7_UNSUPPORTED' ? 'AR' : 'AE', text, report);
    if (report.kind === 'ack') {
      this.#deps.onAck?.(report);
      return { code: 'AA', ack: '' };
    }
    let refused: Rejection | undefined;
    try {
      refused = this.#deps.onStatus(report, address);
    } catch (err) {
      this.#log.error({ err }, 'alarm manager status handling failed');
      refused = { code: 'WG_ERR_INTERNAL', message: 'the status could not be applied; send it again' };
    }
    return this.#answer(refused ? 'AE' : 'AA', text, refused);
  }

  /** An ACK^R41 to the message `text` (MSA-2 its MSH-10, read even when the rest did not parse). */
  #answer(code: AckCode, text: string, rejection?: Rejection): Answer {
    const us = {
      gatewayId: this.#deps.application,
      ward: this.#deps.facility,
      ackControlId: `WGS${++this.#acks}`,
      now: (this.#deps.now ?? Date.now)(),
      trigger: 'R41',
    };
    const error = rejection && { code: rejection.code, message: rejection.message, hl7Code: code === 'AR' ? 200 : 207 };
    return acknowledge(text, code, us, error);
  }
}
