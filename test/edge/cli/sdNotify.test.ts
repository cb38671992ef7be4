// Readiness and the watchdog for systemd (edge/cli/sdNotify.ts), against a fake
// notification socket: READY=1 once serving, WATCHDOG=1 from the event loop,
// and no ping while the loop is frozen, so that systemd restarts a hung daemon.
import t from 'tap';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SdNotify } from '../../../edge/cli/sdNotify.js';
import { tempDir, waitFor } from '../../helpers/env.js';
import { ROOT, spawnDaemon, writeTestConfig } from '../../helpers/gateway.js';
import { notifyReceiver } from '../../helpers/sdNotify.js';

const silent = { warn: () => {} };

/** The longest silence between two pings that arrived in [from, to]. */
function longestGap(times: number[], from: number, to: number): number {
  const inside = times.filter((at) => at >= from && at <= to);
  let gap = 0;
  for (let i = 1; i < inside.length; i++) gap = Math.max(gap, inside[i] - inside[i - 1]);
  return gap;
}

t.test('the watchdog pings stop while the event loop is frozen, and resume after', async (t) => {
  const receiver = await notifyReceiver(t);
  // WatchdogSec=0.3 s: a ping every 100 ms.
  const notify = new SdNotify({ ...process.env, NOTIFY_SOCKET: receiver.socket, WATCHDOG_USEC: '300000' }, silent);
  t.teardown(() => notify.stop());
  t.equal(notify.watchdogMs, 100);
  notify.ready();
  await waitFor(() => (receiver.times('WATCHDOG=1').length >= 3 ? true : undefined), 10_000, 'pings');
  t.equal(receiver.times('READY=1').length, 1, 'READY=1 once');
  const frozenFrom = receiver.now();
  // A hostile message that keeps the loop for 1.5 s, as a blocking parser would.
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1500);
  const frozenTo = receiver.now();
  await waitFor(
    () => (receiver.times('WATCHDOG=1').some((at) => at > frozenTo + 150) ? true : undefined),
    10_000,
    'pings to resume',
  );
  const during = receiver.times('WATCHDOG=1').filter((at) => at > frozenFrom + 200 && at < frozenTo - 50);
  t.same(during, [], 'no ping while the loop was frozen');
  t.ok(
    longestGap(receiver.times('WATCHDOG=1'), frozenFrom - 500, frozenTo + 1000) >= 1300,
    'a silence as long as the freeze, which a WatchdogSec shorter than it turns into a restart',
  );
});

t.test('no watchdog for another process, nothing without a notify socket', async (t) => {
  t.equal(
    new SdNotify({ NOTIFY_SOCKET: '/run/x', WATCHDOG_USEC: '30000000', WATCHDOG_PID: '1' }, silent).watchdogMs,
    undefined,
  );
  t.equal(new SdNotify({ WATCHDOG_USEC: '30000000' }, silent).enabled, false);
  t.equal(
    new SdNotify({ NOTIFY_SOCKET: '/run/x', WATCHDOG_USEC: '30000000' }, silent).watchdogMs,
    10_000,
    'a third of WatchdogSec',
  );
});

t.test(
  'wardgate edge: ready once serving, pings from a running daemon, none from a stopped one, STOPPING=1 on SIGTERM',
  async (t) => {
    const receiver = await notifyReceiver(t);
    const { dir, file } = await writeTestConfig(t);
    const daemon = await spawnDaemon(t, file, join(dir, 'data'), {
      NOTIFY_SOCKET: receiver.socket,
      WATCHDOG_USEC: '600000',
    });
    await waitFor(() => (receiver.times('READY=1').length === 1 ? true : undefined), 10_000, 'READY=1');
    t.ok(
      receiver.received.some((n) => n.assignment === `MAINPID=${daemon.child.pid}`),
      'with the main pid',
    );
    await waitFor(() => (receiver.times('WATCHDOG=1').length >= 3 ? true : undefined), 10_000, 'pings from the daemon');
    const frozenFrom = receiver.now();
    daemon.child.kill('SIGSTOP');
    await new Promise((r) => setTimeout(r, 1500));
    const frozenTo = receiver.now();
    daemon.child.kill('SIGCONT');
    t.same(
      receiver.times('WATCHDOG=1').filter((at) => at > frozenFrom + 300 && at < frozenTo),
      [],
      'no ping from a frozen daemon',
    );
    await waitFor(
      () => (receiver.times('WATCHDOG=1').some((at) => at > frozenTo + 100) ? true : undefined),
      10_000,
      'pings to resume',
    );
    daemon.child.kill('SIGTERM');
    t.equal(await daemon.exited, 0);
    await waitFor(() => (receiver.times('STOPPING=1').length === 1 ? true : undefined), 5000, 'STOPPING=1');
    t.pass('STOPPING=1 on a clean stop');
  },
);

t.test('the shipped unit asks for readiness and a watchdog the daemon can feed', async (t) => {
  const unit = readFileSync(join(ROOT, 'docs', 'systemd', 'wardgate.service'), 'utf8');
  t.match(unit, /^Type=notify$/m);
  t.match(unit, /^NotifyAccess=all$/m, 'systemd-notify is a child of the daemon');
  const watchdogSec = Number(/^WatchdogSec=(\d+)$/m.exec(unit)?.[1]);
  t.ok(watchdogSec >= 10 && watchdogSec <= 120, `WatchdogSec=${watchdogSec}`);
  t.equal(
    new SdNotify({ NOTIFY_SOCKET: '/run/x', WATCHDOG_USEC: String(watchdogSec * 1e6) }, silent).watchdogMs,
    (watchdogSec * 1000) / 3,
  );
});

t.test('a notifier that cannot be started is a warning, not an exception in the ping timer', async (t) => {
  const warnings: string[] = [];
  // A NUL in the command makes spawn throw at once, as EAGAIN or EMFILE can.
  const notify = new SdNotify(
    { NOTIFY_SOCKET: '/run/x', WATCHDOG_USEC: '300000' },
    { warn: (obj) => warnings.push((obj as { problem: string }).problem) },
    'systemd-notify\0',
  );
  t.teardown(() => notify.stop());
  t.doesNotThrow(() => notify.ready(), 'READY=1');
  await new Promise((r) => setTimeout(r, 350)); // three pings from the timer, which would throw there
  t.equal(warnings.length, 1, 'told once');
  t.match(warnings[0], /null bytes|invalid/i);
});

t.test(
  'a notifier that hangs is ended after half the ping period, so that the next ping is not held back',
  async (t) => {
    const dir = tempDir(t);
    const hang = join(dir, 'hanging-notify');
    // READY=1 goes out; every ping's notifier hangs.
    writeFileSync(hang, '#!/bin/sh\ncase "$1" in WATCHDOG=1) exec sleep 30 ;; esac\nexit 0\n', { mode: 0o755 });
    const warnings: Array<{ problem: string; at: number }> = [];
    // WatchdogSec=0.6 s: a ping every 200 ms, a notifier given 100 ms.
    const notify = new SdNotify(
      { ...process.env, NOTIFY_SOCKET: '/run/x', WATCHDOG_USEC: '600000' },
      { warn: (obj) => warnings.push({ ...(obj as { problem: string }), at: Date.now() }) },
      hang,
    );
    const started = Date.now();
    notify.ready();
    await waitFor(() => (warnings.length ? true : undefined), 3000, 'the hanging notifier to be ended');
    notify.stop();
    t.equal(warnings[0].problem, 'exited with SIGKILL');
    t.ok(warnings[0].at - started < 1000, `ended after ${warnings[0].at - started} ms, not 10 s`);
    await new Promise((r) => setTimeout(r, 300)); // the last ping's notifier is ended too
  },
);

/** A notifier that runs `before` (shell; its message is in "$@"), then hands its message to systemd-notify. */
function wrappedNotifier(dir: string, before: string): string {
  const file = join(dir, 'notify');
  writeFileSync(file, `#!/bin/sh\n${before}\nexec systemd-notify "$@"\n`, { mode: 0o755 });
  return file;
}

t.test('READY=1 from a notifier slower than half the ping period still goes out, once', async (t) => {
  const receiver = await notifyReceiver(t);
  // A ping every 100 ms, a ping's notifier given 50 ms: a loaded box can take longer than that to start one.
  const notify = new SdNotify(
    { ...process.env, NOTIFY_SOCKET: receiver.socket, WATCHDOG_USEC: '300000' },
    silent,
    wrappedNotifier(tempDir(t), 'case "$1" in READY=1) sleep 0.3 ;; esac'),
  );
  t.teardown(() => notify.stop());
  notify.ready();
  await waitFor(() => (receiver.times('WATCHDOG=1').length >= 1 ? true : undefined), 10_000, 'pings after READY=1');
  t.equal(receiver.times('READY=1').length, 1, 'READY=1 once');
  t.ok(receiver.times('READY=1')[0] < receiver.times('WATCHDOG=1')[0], 'before the first ping');
});

t.test('a READY=1 that failed is sent again at the next tick until one goes out', async (t) => {
  const dir = tempDir(t);
  const marker = join(dir, 'failed-once');
  // The first READY=1 fails (as a notifier killed or refused would); the rest go through.
  const notifier = wrappedNotifier(dir, `[ -e ${marker} ] || { touch ${marker}; exit 1; }`);
  for (const watchdog of [{ WATCHDOG_USEC: '300000' }, {}]) {
    const receiver = await notifyReceiver(t);
    rmSync(marker, { force: true });
    const warnings: string[] = [];
    const notify = new SdNotify(
      { ...process.env, NOTIFY_SOCKET: receiver.socket, ...watchdog },
      { warn: (obj) => warnings.push((obj as { problem: string }).problem) },
      notifier,
    );
    t.teardown(() => notify.stop());
    notify.ready();
    await waitFor(() => (receiver.times('READY=1').length ? true : undefined), 10_000, 'READY=1 on a second try');
    t.same(warnings, ['exited with 1'], 'the failure is told');
    if (watchdog.WATCHDOG_USEC) {
      await waitFor(() => (receiver.times('WATCHDOG=1').length ? true : undefined), 10_000, 'pings after it');
    } else {
      await new Promise((r) => setTimeout(r, 2500));
      t.same(receiver.times('WATCHDOG=1'), [], 'without a watchdog: no ping, and READY=1 not again once it went out');
    }
    t.equal(receiver.times('READY=1').length, 1);
    notify.stop();
  }
});
