// The transport of one port through a real pseudo-terminal pair (socat): a
// cable pulled while the gateway is still busy with the bytes it last read,
// so that no read is waiting on the port when the tty hangs up, is noticed
// all the same: the port is reported unavailable and reopened once plugged.
import t from 'tap';
import type { SerialPortConfig } from '../../../edge/config/schema.js';
import { LineFramer } from '../../../edge/serial/lineFramer.js';
import { PortReader } from '../../../edge/serial/portReader.js';
import { tempDir, waitFor } from '../../helpers/env.js';
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

t.test('a cable pulled while the last line is being handled is noticed, and the port is reopened', async (t) => {
  const cable = new PtyCable(t, tempDir(t));
  await cable.plug();
  const lines: string[] = [];
  const states: string[] = [];
  const reader = new PortReader({
    port: { ...settings, path: cable.gateway },
    framer: () => new LineFramer({ maxLineBytes: 1024, asciiOnly: true }),
    onLine: (line) => {
      lines.push(line.toString());
      // The tty hangs up before this returns, so the port's next read comes after the hang-up.
      if (lines.length === 1) cable.unplugNow();
    },
    onState: (state, reason) => states.push(reason ? `${state}: ${reason}` : state),
  });
  t.teardown(() => reader.stop());
  reader.start();
  await waitFor(() => (reader.state === 'open' ? true : undefined), 10_000, 'the port to open');

  t.same(await play(t, cable.device, ['first\r\n'], { intervalMs: 0 }), { written: 1 });
  await waitFor(() => (reader.state === 'unavailable' ? true : undefined), 5_000, 'the loss to be noticed');
  t.same(lines, ['first']);
  t.same(states, ['open', 'unavailable: port hung up (end of file)'], 'the loss reported once, with its cause');

  await cable.plug();
  await waitFor(() => (reader.state === 'open' ? true : undefined), 10_000, 'the port to reopen');
  t.same(await play(t, cable.device, ['second\r\n'], { intervalMs: 0 }), { written: 1 });
  await waitFor(() => (lines.length === 2 ? true : undefined), 10_000, 'a line after the reopen');
  t.same(lines, ['first', 'second']);
});
