// The hospital's interface engine for tests, played by an HL7 implementation
// wardgate does not use in production (@medplum/hl7): it listens on a real
// loopback socket (plain or TLS), parses every message the gateway sends
// with its own parser, and answers as the test says: AA, AE, AR, nothing at
// all, or by closing the connection.
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { Hl7Message, Hl7Segment } from '@medplum/core';
import { Hl7Connection, Hl7Server, type Hl7MessageEvent } from '@medplum/hl7';

interface T {
  teardown(fn: () => unknown): void;
}

export type EngineAnswer = 'AA' | 'AE' | 'AR' | 'CA' | 'CR' | 'none' | 'close';

export interface Received {
  /** The message as the engine parsed it. */
  readonly message: Hl7Message;
  /** The text as received (segments joined with CR). */
  readonly text: string;
  readonly controlId: string;
  readonly answer: EngineAnswer;
}

export class InterfaceEngine {
  readonly received: Received[] = [];
  /** Decides each answer; `n` counts messages received so far (0-based). */
  answer: (message: Hl7Message, n: number) => EngineAnswer = () => 'AA';
  /** Text for AE/AR answers (ERR-8). */
  reason = 'refused by the test engine';
  #server: Hl7Server | undefined;
  #tls: TlsServer | undefined;
  readonly #connections = new Set<Hl7Connection>();
  #waiters: Array<() => void> = [];
  port = 0;

  /** `tls`: PEM certificate and key; the engine then speaks MLLP over TLS only. */
  static async start(
    t: T,
    options: { port?: number; tls?: { cert: string | Buffer; key: string | Buffer } } = {},
  ): Promise<InterfaceEngine> {
    const engine = new InterfaceEngine();
    await engine.#listen(options.port ?? 0, options.tls);
    t.teardown(() => engine.stop());
    return engine;
  }

  async #listen(port: number, tls?: { cert: string | Buffer; key: string | Buffer }): Promise<void> {
    if (tls) {
      const server = createTlsServer({ cert: tls.cert, key: tls.key }, (socket) =>
        this.#accept(new Hl7Connection(socket)),
      );
      this.#tls = server;
      await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
      this.port = (server.address() as AddressInfo).port;
      return;
    }
    const server = new Hl7Server((connection) => this.#accept(connection));
    server.start(port);
    await new Promise<void>((resolve) =>
      server.server!.listening ? resolve() : server.server!.once('listening', () => resolve()),
    );
    this.#server = server;
    this.port = (server.server!.address() as AddressInfo).port;
  }

  #accept(connection: Hl7Connection): void {
    this.#connections.add(connection);
    connection.addEventListener('close', () => this.#connections.delete(connection));
    connection.addEventListener('error', () => {});
    connection.addEventListener('message', (event: Hl7MessageEvent) => {
      const message = event.message;
      const answer = this.answer(message, this.received.length);
      this.received.push({
        message,
        text: message.toString(),
        controlId: message.header.getField(10).toString(),
        answer,
      });
      if (answer === 'close') void connection.close();
      else if (answer !== 'none') {
        const err =
          answer === 'AA' || answer === 'CA'
            ? undefined
            : Hl7Segment.parse(
                `ERR|||207^Application internal error^HL70357|E||||${escapeText(this.reason)}`,
                message.context,
              );
        connection.send(message.buildAck({ ackCode: answer, ...(err && { errSegment: err }) }));
      }
      for (const wake of this.#waiters.splice(0)) wake();
    });
  }

  /** Waits until `n` messages have been received in all. */
  async waitForCount(n: number, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.received.length < n) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`the engine received ${this.received.length} messages, expected ${n}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Distinct control ids received, in order of first arrival. */
  controlIds(): string[] {
    return [...new Set(this.received.map((r) => r.controlId))];
  }

  /** Drops every open connection (the engine restarting, a network cut), keeping the port. */
  async dropConnections(): Promise<void> {
    await Promise.all([...this.#connections].map((c) => c.close()));
  }

  async stop(): Promise<void> {
    const connections = [...this.#connections];
    await Promise.all(connections.map((c) => c.close().catch(() => {})));
    if (this.#server?.server) await this.#server.stop({ forceDrainTimeoutMs: 100 }).catch(() => {});
    this.#server = undefined;
    if (this.#tls) await new Promise<void>((resolve) => this.#tls!.close(() => resolve()));
    this.#tls = undefined;
  }
}

/** HL7 escapes (v2.6 section 2.7) for a text the engine puts in a field. */
function escapeText(text: string): string {
  return text
    .replace(/\\/g, '\\E\\')
    .replace(/\|/g, '\\F\\')
    .replace(/\^/g, '\\S\\')
    .replace(/&/g, '\\T\\')
    .replace(/~/g, '\\R\\');
}
