// The lifecycle every feature of the daemon shares: constructors only assign;
// start() acquires (ports, files, timers); stop() releases, in reverse order.

export interface Service {
  readonly name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}
