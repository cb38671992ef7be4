// sd_notify(3) for `wardgate edge` under systemd (Type=notify, WatchdogSec=,
// docs/systemd/wardgate.service): READY=1 once the gateway serves, WATCHDOG=1
// pings from a timer on the event loop (a loop frozen by a hostile message
// stops them, and systemd restarts the daemon), STOPPING=1 on a clean stop.
// Node cannot open AF_UNIX datagram sockets, so each message is sent by
// systemd-notify(1): one short process per message, at most one per third of
// WatchdogSec; the unit sets NotifyAccess=all so that systemd accepts it. The
// tool waits until systemd has read the message (its BARRIER), which keeps it
// from being dropped as from an unknown process; one still waiting after
// NOTIFY_TIMEOUT_MS, or half the ping period if shorter, is ended, so that the
// next ping is not held back by it.
import { spawn, type ChildProcess } from 'node:child_process';

const NOTIFY_TIMEOUT_MS = 10_000;

export interface SdNotifyLog {
  warn(obj: object, msg: string): void;
}

export class SdNotify {
  readonly #env: NodeJS.ProcessEnv;
  readonly #log: SdNotifyLog;
  readonly #command: string;
  #timer: NodeJS.Timeout | undefined;
  #sending: ChildProcess | undefined;
  #warned = false;

  /** `command`: the notifier (systemd-notify unless a test says otherwise). */
  constructor(env: NodeJS.ProcessEnv, log: SdNotifyLog, command = 'systemd-notify') {
    this.#env = env;
    this.#log = log;
    this.#command = command;
  }

  /** Under systemd with Type=notify: NOTIFY_SOCKET is set. */
  get enabled(): boolean {
    return Boolean(this.#env.NOTIFY_SOCKET);
  }

  /** The ping period the service manager asks for (a third of WatchdogSec), or undefined without a watchdog for this process. */
  get watchdogMs(): number | undefined {
    const usec = Number(this.#env.WATCHDOG_USEC);
    const pid = this.#env.WATCHDOG_PID;
    if (!this.enabled || !Number.isFinite(usec) || usec <= 0 || (pid !== undefined && pid !== String(process.pid)))
      return undefined;
    return Math.max(100, Math.floor(usec / 1000 / 3));
  }

  /** The gateway serves: READY=1, then watchdog pings for as long as the event loop turns. */
  ready(): void {
    this.#send(['READY=1', `MAINPID=${process.pid}`]);
    const every = this.watchdogMs;
    if (every === undefined || this.#timer) return;
    this.#timer = setInterval(() => this.#send(['WATCHDOG=1']), every);
    this.#timer.unref();
  }

  stopping(): void {
    this.stop();
    this.#send(['STOPPING=1']);
  }

  /** No more pings. */
  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #send(assignments: string[]): void {
    // A ping while the last is still with systemd adds nothing.
    if (!this.enabled || (this.#sending && assignments[0] === 'WATCHDOG=1')) return;
    let child: ChildProcess;
    try {
      child = spawn(this.#command, assignments, { stdio: 'ignore', env: this.#env });
    } catch (err) {
      // spawn throws at once for some failures (EAGAIN, EMFILE, a bad argument): in the ping timer that would end the daemon.
      this.#warn((err as Error).message);
      return;
    }
    this.#sending = child;
    const every = this.watchdogMs;
    const timeout = setTimeout(
      () => child.kill('SIGKILL'),
      every === undefined ? NOTIFY_TIMEOUT_MS : Math.min(NOTIFY_TIMEOUT_MS, every / 2),
    );
    timeout.unref();
    child.unref();
    const done = (problem?: string) => {
      clearTimeout(timeout);
      if (this.#sending === child) this.#sending = undefined;
      if (problem) this.#warn(problem);
    };
    child.once('error', (err) => done(err.message));
    child.once('exit', (code, signal) => done(code === 0 ? undefined : `exited with ${code ?? signal}`));
  }

  #warn(problem: string): void {
    if (this.#warned) return;
    this.#warned = true;
    this.#log.warn({ command: this.#command, problem }, 'cannot notify systemd (readiness, watchdog)');
  }
}
