// The transport of one port through a real pseudo-terminal pair (socat): the
// tty hung up (the pty's far end closed, as when a USB adapter is pulled)
// while the gateway is still busy with the bytes it last read, so that no
// read is waiting on the port, is noticed all the same: the port is reported unavailable and reopened once plugged.
// And a port that is lost as soon as it opens (a fake binding) backs off.
import t from 'tap';
import type { SerialPortConfig } from '../../../edge/config/schema.js';
import { LineFramer } from '../../../edge/serial/lineFramer.js';
import { PortReader } from '../../../edge/serial/portReader.js';
import { tempDir, waitFor } from '../../helpers/env.js';
import { fakeSerial } from '../../helpers/fakeSerial.js';
import { PtyCable, play } from '../../helpers/pty.js';

t.setTimeout(60_000);

const settings: Omit<SerialPortConfig, 'path'> = {
  driver: 'masimo-ascii',
  deviceId: 'pox-1',
  baudRate: 9600,
  dataBits: 8,
  parity: 'none',
  stopBits: 1,
  deviceClock: 'utc',
  maxLineBytes: 1024,
  silentAfterMs: 10_000,
  reopenMinMs: 100,
  reopenMaxMs: 400,
};

t.test('a tty hung up while the last line is being handled is noticed, and the port is reopened', async (t) => {
  const cable = new PtyCable(t, tempDir(t));
  await cable.plug();
  const lines: string[] = [];
  const states: string[] = [];
  const retries: string[] = [];
  const reader = new PortReader({
    port: { ...settings, path: cable.gateway },
    framer: () => new LineFramer({ maxLineBytes: 1024, asciiOnly: true }),
    onLine: (line) => {
      lines.push(line.toString());
      // The tty hangs up before this returns, so the port's next read comes after the hang-up.
      if (lines.length === 1) cable.unplugNow();
    },
    onState: (state, reason) => states.push(reason ? `${state}: ${reason}` : state),
    onRetry: (_delay, reason) => retries.push(reason),
  });
  t.teardown(() => reader.stop());
  reader.start();
  await waitFor(() => (reader.state === 'open' ? true : undefined), 10_000, 'the port to open');

  t.same(await play(t, cable.device, ['first\r\n'], { intervalMs: 0 }), { written: 1 });
  await waitFor(() => (reader.state === 'unavailable' ? true : undefined), 5_000, 'the loss to be noticed');
  t.same(lines, ['first']);
  t.same(states, ['open', 'unavailable: port hung up (end of file)'], 'the loss reported with its cause');

  await cable.plug();
  await waitFor(() => (reader.state === 'open' ? true : undefined), 10_000, 'the port to reopen');
  t.same(await play(t, cable.device, ['second\r\n'], { intervalMs: 0 }), { written: 1 });
  await waitFor(() => (lines.length === 2 ? true : undefined), 10_000, 'a line after the reopen');
  t.same(lines, ['first', 'second']);
  // Every later try failed to open the vanished path: the hang-up was one loss, not a loop of lose and reopen.
  t.equal(retries.filter((r) => r === 'port hung up (end of file)').length, 1, 'the loss noticed once');
  t.equal(states.filter((s) => s === 'open').length, 2, 'opened twice: at start and once plugged back');
});

const fakeSettings: Omit<SerialPortConfig, 'path'> = { ...settings, reopenMinMs: 20, reopenMaxMs: 160 };

t.test('a port that is lost as soon as it opens is retried with growing gaps, not every reopenMinMs', async (t) => {
  const fake = fakeSerial();
  const retries: Array<{ delay: number; first: boolean }> = [];
  const reader = new PortReader({
    port: { ...fakeSettings, path: '/dev/ttyFAKE0' },
    framer: () => new LineFramer({ maxLineBytes: 1024, asciiOnly: true }),
    onLine: () => {},
    onState: () => {},
    onRetry: (delay, _reason, first) => retries.push({ delay, first }),
    binding: fake.binding,
  });
  t.teardown(() => reader.stop());
  reader.start();
  await waitFor(() => (retries.length >= 6 ? true : undefined), 10_000, 'six losses');
  await reader.stop();
  t.same(
    retries.slice(0, 6).map((r) => r.delay),
    [20, 40, 80, 160, 160, 160],
    'the backoff grows to reopenMaxMs',
  );
  t.same(
    retries.slice(0, 6).map((r) => r.first),
    [true, false, false, false, false, false],
    'one run of failures',
  );
  const gaps = fake.opens.slice(1, 6).map((at, i) => at - fake.opens[i]);
  t.ok(
    gaps.every((gap, i) => gap >= [20, 40, 80, 160, 160][i] - 5),
    `reopened no sooner than the backoff: ${gaps.join(', ')} ms`,
  );
});

t.test('a port that delivered bytes before it was lost is retried from reopenMinMs again', async (t) => {
  // Opens 0-2 are lost at once, open 3 delivers a line first, opens 4-5 are lost at once again.
  const fake = fakeSerial((n) => (n === 3 ? { bytes: ['line\r\n'] } : {}));
  const retries: Array<{ delay: number; first: boolean }> = [];
  const lines: string[] = [];
  const reader = new PortReader({
    port: { ...fakeSettings, path: '/dev/ttyFAKE1' },
    framer: () => new LineFramer({ maxLineBytes: 1024, asciiOnly: true }),
    onLine: (line) => lines.push(line.toString()),
    onState: () => {},
    onRetry: (delay, _reason, first) => retries.push({ delay, first }),
    binding: fake.binding,
  });
  t.teardown(() => reader.stop());
  reader.start();
  await waitFor(() => (retries.length >= 6 ? true : undefined), 10_000, 'six losses');
  await reader.stop();
  t.same(lines, ['line']);
  t.same(
    retries.slice(0, 6).map((r) => r.delay),
    [20, 40, 80, 20, 40, 80],
  );
  t.same(
    retries.slice(0, 6).map((r) => r.first),
    [true, false, false, true, false, false],
  );
});
