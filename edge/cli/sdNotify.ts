// sd_notify(3) for `wardgate edge` under systemd (Type=notify, WatchdogSec=,
// docs/systemd/wardgate.service): READY=1 once the gateway serves, WATCHDOG=1
// pings from a timer on the event loop (a loop frozen by a hostile message
// stops them, and systemd restarts the daemon), STOPPING=1 on a clean stop.
// Node cannot open AF_UNIX datagram sockets, so each message is sent by
// systemd-notify(1): one short process per message, at most one per third of
// WatchdogSec; the unit sets NotifyAccess=all so that systemd accepts it. The
// tool waits until systemd has read the message (its BARRIER), which keeps it
// from being dropped as from an unknown process. A ping still waiting after
// half the ping period (NOTIFY_TIMEOUT_MS at most) is ended, so that the next
// ping is not held back by it. READY=1 is sent until one is confirmed: without
// it systemd ends the daemon when its start times out, so a notifier that could
// not be started, failed or was slow on a loaded box (given NOTIFY_TIMEOUT_MS)
// is followed by another READY=1 at the next tick, in place of a ping (the
// watchdog counts only once the service is ready).
import { spawn, type ChildProcess } from 'node:child_process';

const NOTIFY_TIMEOUT_MS = 10_000;
/** Without a watchdog, how soon a READY=1 that did not go out is tried again. */
const READY_RETRY_MS = 1000;

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
  /** READY=1 asked for and not yet confirmed by a notifier that exited cleanly. */
  #readyPending = false;

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
    if (!this.enabled) return;
    this.#readyPending = true;
    this.#sendReady();
    if (this.#timer) return;
    this.#timer = setInterval(() => this.#tick(), this.watchdogMs ?? READY_RETRY_MS);
    this.#timer.unref();
  }

  /** A ping, or READY=1 again while none has gone out; without a watchdog the timer ends once one has. */
  #tick(): void {
    if (this.#readyPending) return this.#sendReady();
    if (this.watchdogMs === undefined) return this.stop();
    this.#send(['WATCHDOG=1']);
  }

  #sendReady(): void {
    if (this.#sending) return; // the last READY=1 (or ping) is still with systemd: the next tick tries again
    this.#send(['READY=1', `MAINPID=${process.pid}`], (ok) => {
      if (ok) this.#readyPending = false;
    });
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

  /** `sent` hears whether the notifier exited cleanly (systemd read the message). */
  #send(assignments: string[], sent: (ok: boolean) => void = () => {}): void {
    const ping = assignments[0] === 'WATCHDOG=1';
    // A ping while the last is still with systemd adds nothing.
    if (!this.enabled || (this.#sending && ping)) return;
    let child: ChildProcess;
    try {
      child = spawn(this.#command, assignments, { stdio: 'ignore', env: this.#env });
    } catch (err) {
      // spawn throws at once for some failures (EAGAIN, EMFILE, a bad argument): in the ping timer that would end the daemon.
      this.#warn((err as Error).message);
      return sent(false);
    }
    this.#sending = child;
    const every = this.watchdogMs;
    const timeout = setTimeout(
      () => child.kill('SIGKILL'),
      ping && every !== undefined ? Math.min(NOTIFY_TIMEOUT_MS, every / 2) : NOTIFY_TIMEOUT_MS,
    );
    timeout.unref();
    child.unref();
    let told = false;
    const done = (problem?: string) => {
      clearTimeout(timeout);
      if (this.#sending === child) this.#sending = undefined;
      if (problem) this.#warn(problem);
      // 'error' and 'exit' may both come for one child: it is told once.
      if (!told) sent(problem === undefined);
      told = true;
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
